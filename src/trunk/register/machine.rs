//! The decisions of an outbound registration (RFC 3261 §10.2): which REGISTER to send, what a
//! response means, when to refresh or retry.
//!
//! Pure: no I/O, no clock (time comes in as `now`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::auth::{Challenge, Credentials, Secret};
use sip_core::message::{
    HeaderName, HeaderValue, Host, Method, NameAddr, Request, Response, SipUri, StatusCode, Uri,
};

use super::{RegistrationFailure, RegistrationSpec};
use crate::sip::client::{self, RequestHeaders};

/// A refresh goes out no later than this before the binding expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(5);

/// The earliest a refresh goes out after a success (guards against tiny grants).
const MIN_REFRESH_DELAY: Duration = Duration::from_secs(1);

/// 423 answers one attempt follows before giving up.
const MAX_INTERVAL_RAISES: u8 = 2;

/// What to do after a response or an error.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send this REGISTER now (the answer to a challenge, or a longer expiry after 423).
    Send(Box<Request>),
    /// Bound for `expires`; refresh at `refresh_at`.
    Registered {
        /// The expiry the registrar granted.
        expires: Duration,
        /// When to send the refresh.
        refresh_at: Instant,
    },
    /// The attempt failed; try again at `retry_at`.
    Failed {
        /// Why.
        failure: RegistrationFailure,
        /// When to try again.
        retry_at: Instant,
    },
    /// The unregistration is over (whatever the answer).
    Unregistered,
}

/// Whether the current attempt binds or removes the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Bind,
    Unbind,
}

/// One trunk's registration: its Call-ID, CSeq and requested expiry across refreshes.
#[derive(Debug)]
pub(crate) struct Registration {
    spec: RegistrationSpec,
    aor: NameAddr,
    from: NameAddr,
    call_id: String,
    next_cseq: u32,
    /// Requested expiry in seconds; raised by 423 (RFC 3261 §10.2.8).
    expires: u32,
    purpose: Purpose,
    /// A challenge was answered in this attempt.
    answered: bool,
    /// 423 answers followed in this attempt.
    raises: u8,
    /// Until when the registrar holds our binding, as far as we know.
    bound_until: Option<Instant>,
}

impl Registration {
    /// A registration for `spec` with `call_id` and From tag `tag` for its whole life
    /// (RFC 3261 §10.2.4: refreshes keep the Call-ID; CSeq goes up).
    pub(crate) fn new(spec: RegistrationSpec, call_id: String, tag: &str) -> Self {
        let aor = NameAddr::new(address_of_record(&spec.user, &spec.domain));
        let mut from = aor.clone();
        from.set_tag(tag);
        let expires = spec.expires;
        Registration {
            spec,
            aor,
            from,
            call_id,
            next_cseq: 1,
            expires,
            purpose: Purpose::Bind,
            answered: false,
            raises: 0,
            bound_until: None,
        }
    }

    /// The first REGISTER of a new attempt (the initial one, a refresh or a retry).
    pub(crate) fn begin(&mut self) -> Request {
        self.purpose = Purpose::Bind;
        self.answered = false;
        self.raises = 0;
        self.request(None)
    }

    /// The REGISTER removing our binding (RFC 3261 §10.2.2: expires 0).
    pub(crate) fn unregister(&mut self) -> Request {
        self.purpose = Purpose::Unbind;
        self.answered = false;
        self.raises = 0;
        self.request(None)
    }

    /// True while the registrar may still hold our binding.
    pub(crate) fn is_bound(&self, now: Instant) -> bool {
        self.bound_until.is_some_and(|until| now < until)
    }

    /// The Call-ID of every REGISTER of this registration.
    pub(crate) fn call_id(&self) -> &str {
        &self.call_id
    }

    /// What `response`, the final answer to the last REGISTER, received from `source` at
    /// `now`, means. `cnonce` is a fresh random value, used when a challenge is answered.
    pub(crate) fn on_response(
        &mut self,
        response: &Response,
        source: SocketAddr,
        now: Instant,
        cnonce: &str,
    ) -> Step {
        let status = response.status();
        if self.purpose == Purpose::Unbind {
            if is_challenge(status)
                && let Some(next) = self.answer_challenge(response, source, cnonce)
            {
                return Step::Send(Box::new(next));
            }
            self.bound_until = None;
            return Step::Unregistered;
        }
        if status.is_success() {
            let granted = self.granted_expiry(response);
            if granted == 0 {
                return self.fail(RegistrationFailure::NotBound, now, None);
            }
            let expires = Duration::from_secs(u64::from(granted));
            self.bound_until = Some(now + expires);
            return Step::Registered {
                expires,
                refresh_at: now + refresh_delay(expires),
            };
        }
        if is_challenge(status) {
            return match self.answer_challenge(response, source, cnonce) {
                Some(next) => Step::Send(Box::new(next)),
                None => self.fail(RegistrationFailure::Rejected(status), now, None),
            };
        }
        // RFC 3261 §10.2.8: 423 names the shortest expiry the registrar accepts.
        if status == StatusCode::INTERVAL_TOO_BRIEF
            && self.raises < MAX_INTERVAL_RAISES
            && let Some(min) = response.headers().min_expires()
            && min > self.expires
        {
            self.expires = min;
            self.raises += 1;
            self.answered = false;
            return Step::Send(Box::new(self.request(None)));
        }
        // RFC 3261 §20.33: Retry-After on a 503 (or 404, 413, 480, 486, 500, 600, 603) says
        // when to come back; never sooner than our own retry interval.
        let retry_after = response
            .headers()
            .retry_after()
            .ok()
            .flatten()
            .map(|secs| Duration::from_secs(u64::from(secs)));
        self.fail(RegistrationFailure::Rejected(status), now, retry_after)
    }

    /// What a request that got no final response means.
    pub(crate) fn on_error(&mut self, failure: RegistrationFailure, now: Instant) -> Step {
        if self.purpose == Purpose::Unbind {
            return Step::Unregistered;
        }
        self.fail(failure, now, None)
    }

    fn fail(
        &mut self,
        failure: RegistrationFailure,
        now: Instant,
        retry_after: Option<Duration>,
    ) -> Step {
        let wait = retry_after.map_or(self.spec.retry, |after| after.max(self.spec.retry));
        Step::Failed {
            failure,
            retry_at: now + wait,
        }
    }

    /// The REGISTER answering the challenge in `response`, or None when it must not be
    /// answered: one challenge per attempt, only from the registrar's own address, only for
    /// the configured realm (credentials never go to anyone else).
    fn answer_challenge(
        &mut self,
        response: &Response,
        source: SocketAddr,
        cnonce: &str,
    ) -> Option<Request> {
        let account = self.spec.credentials.as_ref()?;
        if self.answered || source != self.spec.flow.remote {
            return None;
        }
        // RFC 3261 §22.2 (401, WWW-Authenticate -> Authorization) and §22.3 (407,
        // Proxy-Authenticate -> Proxy-Authorization).
        let (challenges, header): (Vec<&HeaderValue>, _) =
            if response.status() == StatusCode::UNAUTHORIZED {
                (
                    response.headers().www_authenticate().collect(),
                    HeaderName::Authorization,
                )
            } else {
                (
                    response.headers().proxy_authenticate().collect(),
                    HeaderName::ProxyAuthorization,
                )
            };
        let uri = self.spec.registrar.to_string();
        let secret = Secret::Password(account.password.clone());
        // RFC 8760 §2.4: the topmost challenge we can answer.
        let credentials = challenges
            .into_iter()
            .filter_map(|value| Challenge::parse(value.to_str().ok()?).ok())
            .filter(|challenge| challenge.realm() == account.realm)
            .find_map(|challenge| {
                Credentials::answer(
                    &challenge,
                    Method::Register.as_str(),
                    &uri,
                    &account.username,
                    &secret,
                    cnonce,
                    1,
                )
                .ok()
            })?;
        self.answered = true;
        Some(self.request(Some((header, credentials.to_string()))))
    }

    /// The expiry the registrar granted (RFC 3261 §10.2.4): our Contact's `expires`
    /// parameter, else the Expires header, else what we asked for.
    fn granted_expiry(&self, response: &Response) -> u32 {
        let contacts = response.headers().contact().ok();
        let listed = contacts.as_ref().map(|list| list.contacts()).unwrap_or(&[]);
        let ours = listed
            .iter()
            .find(|c| c.uri().equivalent(&self.spec.contact))
            .or(match listed {
                [only] => Some(only),
                _ => None,
            });
        ours.and_then(|c| c.expires())
            .or_else(|| response.headers().expires())
            .unwrap_or(self.expires)
    }

    /// The next REGISTER: fresh branch, the next CSeq, the expiry for the purpose.
    fn request(&mut self, authorization: Option<(HeaderName, String)>) -> Request {
        let headers = RequestHeaders {
            from: self.from.clone(),
            to: self.aor.clone(),
            call_id: self.call_id.clone(),
            cseq: self.next_cseq,
        };
        self.next_cseq = self.next_cseq.wrapping_add(1);
        let expires = match self.purpose {
            Purpose::Bind => self.expires,
            Purpose::Unbind => 0,
        };
        let mut request = client::new_request(
            Method::Register,
            self.spec.registrar.clone(),
            &self.spec.flow,
            &headers,
        );
        let h = request.headers_mut();
        h.push(
            HeaderName::Contact,
            NameAddr::new(self.spec.contact.clone()).to_string(),
        );
        h.push(HeaderName::Expires, expires);
        if let Some((name, value)) = authorization {
            h.push(name, value);
        }
        request
    }
}

/// When to refresh a binding granted for `expires`: at 80% of it, but at least
/// [`REFRESH_MARGIN`] before it runs out.
pub(crate) fn refresh_delay(expires: Duration) -> Duration {
    expires
        .mul_f64(0.8)
        .min(expires.saturating_sub(REFRESH_MARGIN))
        .max(MIN_REFRESH_DELAY)
}

fn is_challenge(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
}

/// The address of record `sip:user@domain` (`domain` may carry a port).
fn address_of_record(user: &str, domain: &str) -> Uri {
    let mut uri = SipUri::parse(&format!("sip:{domain}"))
        .unwrap_or_else(|| SipUri::new(Host::Domain(domain.to_owned())));
    uri.set_user(Some(user.to_owned()));
    Uri::Sip(uri)
}
