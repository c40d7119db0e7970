//! Digest authentication (RFC 3261 §22, RFC 8760): challenges, credentials, stateless nonces.
//!
//! Pure: no I/O, no clock, no randomness. Time comes in as `now_unix_secs`, random salts and
//! client nonces come in from the caller.
//!
//! Server flow for one request carrying `Authorization` / `Proxy-Authorization` (after the
//! transaction layer has absorbed retransmissions, which repeat the same `nc`):
//! 1. [`Credentials::parse`] the header value (malformed -> 400 or a fresh challenge).
//! 2. [`NonceIssuer::verify`] the nonce. `Invalid` -> challenge again.
//! 3. Look the user's [`Secret`] up by [`Credentials::username`] and call [`verify_response`].
//!    A bad response is an authentication failure. With a good response and a `Stale` nonce,
//!    challenge again with `stale=true` (RFC 2617 §3.2.1: stale only when the digest was
//!    valid), so the phone retries without re-prompting.
//! 4. Only after a good response with a `Valid` nonce, [`NonceCountTracker::check`] refuses a
//!    replayed `nc`.
//!
//! Challenges are offered with [`Challenge::offer`]: one header field per algorithm, the
//! preferred first (RFC 8760 §2.3).

mod challenge;
mod credentials;
mod hash;
mod nonce;
mod nonce_count;
mod params;
mod verify;

pub use challenge::Challenge;
pub use credentials::{AnswerError, Credentials};
pub use hash::{ha1_from_password, ha1_is_well_formed, secret_to_ha1};
pub use nonce::{NonceIssuer, NonceKeyError, NonceStatus};
pub use nonce_count::{NonceCountCheck, NonceCountTracker};
pub use params::{DigestParseError, Qop};
pub use verify::{VerifyPolicy, verify_response};

/// Digest hash algorithm, RFC 8760 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), what most deployed phones support.
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The `algorithm` parameter token, e.g. `SHA-256`; `session` gives the `-sess` variant.
    pub fn token(self, session: bool) -> &'static str {
        match (self, session) {
            (Algorithm::Md5, false) => "MD5",
            (Algorithm::Md5, true) => "MD5-sess",
            (Algorithm::Sha256, false) => "SHA-256",
            (Algorithm::Sha256, true) => "SHA-256-sess",
        }
    }

    /// Reads an `algorithm` token, case-insensitively (RFC 7616 §3.3); returns the hash and
    /// whether it is the `-sess` variant. `None` for algorithms we do not implement
    /// (e.g. `SHA-512-256`, `AKAv1-MD5`).
    pub fn from_token(token: &str) -> Option<(Algorithm, bool)> {
        [
            (Algorithm::Md5, false),
            (Algorithm::Md5, true),
            (Algorithm::Sha256, false),
            (Algorithm::Sha256, true),
        ]
        .into_iter()
        .find(|&(alg, sess)| alg.token(sess).eq_ignore_ascii_case(token))
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token(false))
    }
}

/// A user's stored secret: the plain password, or precomputed HA1 = H(user:realm:password).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The plain password.
    Password(String),
    /// Precomputed HA1 values in lower-case hex, per algorithm; a missing one means that
    /// algorithm cannot be verified for this user.
    Ha1 {
        /// HA1 with MD5.
        md5: Option<String>,
        /// HA1 with SHA-256.
        sha256: Option<String>,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets into logs.
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(..)"),
            Secret::Ha1 { .. } => f.write_str("Secret::Ha1(..)"),
        }
    }
}
