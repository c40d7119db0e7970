//! Digest authentication of incoming requests for one profile: challenges, verification,
//! nonce-count replay refusal and temporary bans. Builds the refusal responses itself so every
//! failure looks the same on the wire, whether the user exists or not.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sip_core::auth::{
    Algorithm, Challenge, Credentials, NonceCountCheck, NonceCountTracker, NonceIssuer,
    NonceKeyError, NonceStatus, Secret, VerifyPolicy, verify_response,
};
use sip_core::message::{HeaderName, Request, Response, StatusCode, Uri};

use crate::cluster::UnixMillis;
use crate::config::Profile;
use crate::sip::ban::{BanList, BanPolicy, DEFAULT_BAN_CAPACITY};
use crate::telemetry::Pii;

/// Nonces whose counts are remembered at once; above this, the oldest are re-challenged with
/// `stale=true` (never let through).
const NONCE_COUNT_CAPACITY: usize = 100_000;

/// One reading of both clocks, taken once per request so every decision in it agrees.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time, for ban windows and durations.
    pub instant: Instant,
    /// Wall-clock time, for nonces (shared by cluster nodes) and binding expiry.
    pub wall: UnixMillis,
}

impl Now {
    /// Reads the system clocks.
    pub fn system() -> Self {
        Self {
            instant: Instant::now(),
            wall: UnixMillis::now(),
        }
    }
}

/// Which header pair a challenge uses (RFC 3261 §22.1, §22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// A registrar or UAS: 401 with `WWW-Authenticate`, answered in `Authorization`.
    Www,
    /// A proxy: 407 with `Proxy-Authenticate`, answered in `Proxy-Authorization`.
    Proxy,
}

impl ChallengeKind {
    fn status(self) -> StatusCode {
        match self {
            ChallengeKind::Www => StatusCode::UNAUTHORIZED,
            ChallengeKind::Proxy => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        }
    }

    fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

/// The verdict on one request.
#[derive(Debug)]
pub enum AuthDecision {
    /// The credentials are good: the authenticated user name.
    Authorized(String),
    /// Send this response (a challenge, or a refusal) and stop.
    Respond(Response),
}

/// Why an [`AuthGuard`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthGuardError {
    /// The nonce key is unusable.
    #[error("nonce key: {0}")]
    NonceKey(#[from] NonceKeyError),
}

/// Digest authentication for one profile.
///
/// Rules, in order:
/// - a banned source gets 403 before its credentials are looked at;
/// - no credentials for our realm: 401/407 challenge (unless the claimed user is banned: 403);
/// - a nonce we did not issue (or cannot read): a fresh challenge, not counted as a failure;
/// - a wrong response, for a known user or an unknown one alike: 403, counted per source and
///   per user name; the unknown user's digest is computed against a dummy secret so the time
///   spent is the same;
/// - a right response on an expired nonce: challenge with `stale=true` (RFC 2617 §3.2.1);
/// - a right response with a nonce count already seen: challenge with `stale=true` (replay);
/// - a right response for a user other than the claimed one (To user for REGISTER): 403, not
///   counted, as Kamailio's `auth_check` does by default.
#[derive(Debug)]
pub struct AuthGuard {
    realm: String,
    algorithms: Vec<Algorithm>,
    issuer: NonceIssuer,
    nonce_counts: Mutex<NonceCountTracker>,
    users: HashMap<String, Secret>,
    dummy_secret: Secret,
    bans: BanList,
}

impl AuthGuard {
    /// A guard for `profile`. `fallback_key` is the per-process random nonce key used when the
    /// profile configures none (keep it across reloads so issued nonces stay valid).
    pub fn new(profile: &Profile, fallback_key: &[u8]) -> Result<Self, AuthGuardError> {
        let auth = profile.auth();
        let key = auth.nonce_key().map_or(fallback_key, |k| k.as_bytes());
        let lifetime = auth.nonce_lifetime().as_secs();
        let issuer = NonceIssuer::new(key, auth.realm(), lifetime)?;
        let ban = profile.ban();
        let policy = BanPolicy {
            max_failures: ban.max_failures(),
            window: ban.window(),
            ban: ban.duration().unwrap_or_default(),
        };
        Ok(Self {
            realm: auth.realm().to_owned(),
            algorithms: auth.algorithms().to_vec(),
            issuer,
            nonce_counts: Mutex::new(NonceCountTracker::new(NONCE_COUNT_CAPACITY, lifetime)),
            users: profile
                .users()
                .iter()
                .map(|(name, user)| (name.clone(), user.secret().clone()))
                .collect(),
            dummy_secret: Secret::Password(format!("{:032x}", rand::random::<u128>())),
            bans: BanList::new(policy, DEFAULT_BAN_CAPACITY),
        })
    }

    /// The realm challenges name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The ban list (for metrics and tests).
    pub fn bans(&self) -> &BanList {
        &self.bans
    }

    /// Decides on `req` from `source`. `claimed_user` is the user part the request speaks for
    /// (the To user of a REGISTER, the From user otherwise); the authenticated user must be
    /// that one. Responses come without a To tag; the caller adds it (RFC 3261 §8.2.6.2).
    pub fn check(
        &self,
        req: &Request,
        source: IpAddr,
        kind: ChallengeKind,
        claimed_user: Option<&str>,
        now: Now,
    ) -> AuthDecision {
        if self.bans.is_source_banned(source, now.instant) {
            return AuthDecision::Respond(refusal(req));
        }
        let claimed_banned =
            claimed_user.is_some_and(|user| self.bans.is_user_banned(user, now.instant));
        // RFC 3261 §22.4: use the credentials whose realm is ours; others belong to other hops.
        let credentials = req
            .headers()
            .get_all(kind.credentials_header())
            .filter_map(|value| value.to_str().ok())
            .filter_map(|text| Credentials::parse(text).ok())
            .find(|c| c.realm() == self.realm);
        let Some(credentials) = credentials else {
            if claimed_banned {
                return AuthDecision::Respond(refusal(req));
            }
            return AuthDecision::Respond(self.challenge(req, kind, false, now));
        };
        if claimed_banned
            || self
                .bans
                .is_user_banned(credentials.username(), now.instant)
        {
            return AuthDecision::Respond(refusal(req));
        }
        let now_secs = now.wall.as_secs();
        let nonce = self.issuer.verify(credentials.nonce(), now_secs);
        if nonce == NonceStatus::Invalid {
            return AuthDecision::Respond(self.challenge(req, kind, false, now));
        }
        if !digest_uri_names_request(&credentials, req) {
            // RFC 2617 §3.2.2.5: the digest-uri must designate the Request-URI.
            return AuthDecision::Respond(Response::for_request(req, StatusCode::BAD_REQUEST));
        }
        let known = self.users.get(credentials.username());
        let secret = known.unwrap_or(&self.dummy_secret);
        let policy = VerifyPolicy {
            realm: &self.realm,
            offered: &self.algorithms,
            allow_rfc2069: false,
        };
        let good = verify_response(&credentials, req.method().as_str(), secret, &policy);
        if !good || known.is_none() {
            self.record_failure(source, credentials.username(), now);
            return AuthDecision::Respond(refusal(req));
        }
        if nonce == NonceStatus::Stale {
            return AuthDecision::Respond(self.challenge(req, kind, true, now));
        }
        if let Some(nc) = credentials.nc() {
            let verdict = lock(&self.nonce_counts).check(credentials.nonce(), nc, now_secs);
            match verdict {
                NonceCountCheck::Accepted => {}
                NonceCountCheck::Replayed | NonceCountCheck::Untracked => {
                    return AuthDecision::Respond(self.challenge(req, kind, true, now));
                }
            }
        }
        if claimed_user.is_some_and(|claimed| claimed != credentials.username()) {
            return AuthDecision::Respond(refusal(req));
        }
        AuthDecision::Authorized(credentials.username().to_owned())
    }

    /// A 401/407 offering every configured algorithm, most preferred first (RFC 8760 §2.3),
    /// with a fresh nonce.
    fn challenge(&self, req: &Request, kind: ChallengeKind, stale: bool, now: Now) -> Response {
        let nonce = self.issuer.issue(now.wall.as_secs(), rand::random::<u64>());
        let mut response = Response::for_request(req, kind.status());
        for challenge in Challenge::offer(&self.realm, &nonce, &self.algorithms, stale) {
            response
                .headers_mut()
                .push(kind.challenge_header(), challenge.to_string());
        }
        response
    }

    fn record_failure(&self, source: IpAddr, user: &str, now: Now) {
        let new = self.bans.record_failure(source, Some(user), now.instant);
        let ban_secs = self.bans.policy().ban.as_secs();
        if new.source {
            tracing::warn!(
                source = %source,
                user = %Pii(user),
                ban_secs,
                "authentication failures: source banned"
            );
        }
        if new.user {
            tracing::warn!(
                source = %source,
                user = %Pii(user),
                ban_secs,
                "authentication failures: user banned"
            );
        }
    }
}

/// The one refusal every failure gets: same status, reason and headers.
fn refusal(req: &Request) -> Response {
    Response::for_request(req, StatusCode::FORBIDDEN)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The tracker only holds counters; a panic elsewhere cannot leave it inconsistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the credentials' digest-uri is the Request-URI, as text or as an equivalent URI.
fn digest_uri_names_request(credentials: &Credentials, req: &Request) -> bool {
    let text = credentials.uri();
    if text == req.uri().to_string() {
        return true;
    }
    Uri::parse(text).is_some_and(|uri| uri.equivalent(req.uri()))
}
