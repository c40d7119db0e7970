//! Stateless server nonces: timestamp and salt authenticated with HMAC-SHA256 under a server
//! key, so any node holding the key verifies a nonce another node issued (RFC 2617 §3.2.1 leaves
//! the nonce format to the server).
//!
//! Wire form: 64 lower-case hex digits of `timestamp (8, big-endian) || salt (8) || tag (16)`,
//! where `tag` is HMAC-SHA256(key, context || timestamp || salt || realm) truncated to 128 bits.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::hash::{ct_eq, hex_into, to_hex};

/// Separates nonce tags from any other use of the same server key.
const CONTEXT: &[u8] = b"switchyard digest nonce v1\0";
const TAG_LEN: usize = 16;
/// Length of a decoded nonce in bytes.
pub(crate) const NONCE_LEN: usize = 8 + 8 + TAG_LEN;
/// Shortest server key accepted: 128 bits.
const MIN_KEY_LEN: usize = 16;
/// Default allowance for clocks of cluster nodes disagreeing.
const DEFAULT_MAX_SKEW_SECS: u64 = 5;

/// Why a server key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceKeyError {
    /// The key is shorter than 16 bytes, too weak to keep nonces unforgeable.
    #[error("nonce key has {len} bytes, at least 16 are required")]
    TooShort {
        /// The length that was given.
        len: usize,
    },
}

/// What a received nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued by a holder of the key for this realm, within its lifetime.
    Valid,
    /// Genuine but older than the lifetime: challenge again with `stale=true` (RFC 2617
    /// §3.2.1), so the phone retries with the new nonce without failing the user.
    Stale,
    /// Malformed, forged, for another realm, or dated in the future beyond the allowed skew:
    /// challenge again without `stale`.
    Invalid,
}

/// Issues and verifies stateless nonces for one realm.
#[derive(Clone)]
pub struct NonceIssuer {
    mac: Hmac<Sha256>,
    realm: String,
    lifetime_secs: u64,
    max_skew_secs: u64,
}

impl fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keyed MAC state is a secret.
        f.debug_struct("NonceIssuer")
            .field("realm", &self.realm)
            .field("lifetime_secs", &self.lifetime_secs)
            .field("max_skew_secs", &self.max_skew_secs)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// An issuer for `realm` whose nonces stay valid `lifetime_secs` after issue. `key` must be
    /// the same on every node of a cluster and at least 16 random bytes.
    pub fn new(
        key: &[u8],
        realm: impl Into<String>,
        lifetime_secs: u64,
    ) -> Result<Self, NonceKeyError> {
        if key.len() < MIN_KEY_LEN {
            return Err(NonceKeyError::TooShort { len: key.len() });
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .map_err(|_| NonceKeyError::TooShort { len: key.len() })?;
        Ok(NonceIssuer {
            mac,
            realm: realm.into(),
            lifetime_secs,
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
        })
    }

    /// How far in the future (per this node's clock) a nonce's timestamp may be and still be
    /// accepted, for cluster nodes whose clocks disagree slightly. Default 5 s.
    #[must_use]
    pub fn with_max_clock_skew(mut self, secs: u64) -> Self {
        self.max_skew_secs = secs;
        self
    }

    /// The realm nonces are bound to.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// How long a nonce stays valid, in seconds.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// A new nonce. `salt` must differ between nonces issued in the same second (a random
    /// number from the driver); two clients given the same nonce would share one nonce-count
    /// history.
    pub fn issue(&self, now_unix_secs: u64, salt: u64) -> String {
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&now_unix_secs.to_be_bytes());
        raw[8..16].copy_from_slice(&salt.to_be_bytes());
        let tag = self.tag(&raw[..16]);
        raw[16..].copy_from_slice(&tag[..TAG_LEN]);
        to_hex(&raw)
    }

    /// Checks a nonce a client sent back.
    pub fn verify(&self, nonce: &str, now_unix_secs: u64) -> NonceStatus {
        let Some(raw) = decode(nonce) else {
            return NonceStatus::Invalid;
        };
        let tag = self.tag(&raw[..16]);
        if !ct_eq(&tag[..TAG_LEN], &raw[16..]) {
            return NonceStatus::Invalid;
        }
        let issued_at = timestamp(&raw);
        if issued_at > now_unix_secs.saturating_add(self.max_skew_secs) {
            return NonceStatus::Invalid;
        }
        if now_unix_secs.saturating_sub(issued_at) > self.lifetime_secs {
            return NonceStatus::Stale;
        }
        NonceStatus::Valid
    }

    fn tag(&self, timestamp_and_salt: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(timestamp_and_salt);
        mac.update(self.realm.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The decoded bytes of a nonce in our wire form; `None` for anything else. Not authenticated.
pub(crate) fn decode(nonce: &str) -> Option<[u8; NONCE_LEN]> {
    let mut raw = [0u8; NONCE_LEN];
    hex_into(nonce.as_bytes(), &mut raw)?;
    Some(raw)
}

/// The issue time inside decoded nonce bytes.
pub(crate) fn timestamp(raw: &[u8; NONCE_LEN]) -> u64 {
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&raw[..8]);
    u64::from_be_bytes(ts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef-cluster-key";
    const T0: u64 = 1_800_000_000;

    fn issuer() -> NonceIssuer {
        NonceIssuer::new(KEY, "example.com", 300).unwrap()
    }

    #[test]
    fn fresh_nonce_is_valid_until_its_lifetime_ends_then_stale() {
        let n = issuer().issue(T0, 42);
        assert_eq!(n.len(), 64);
        assert_eq!(issuer().verify(&n, T0), NonceStatus::Valid);
        assert_eq!(issuer().verify(&n, T0 + 300), NonceStatus::Valid);
        assert_eq!(issuer().verify(&n, T0 + 301), NonceStatus::Stale);
        assert_eq!(issuer().verify(&n, u64::MAX), NonceStatus::Stale);
    }

    #[test]
    fn another_node_with_the_same_key_verifies_the_nonce() {
        let n = issuer().issue(T0, 7);
        let other_node = NonceIssuer::new(KEY, "example.com", 300).unwrap();
        assert_eq!(other_node.verify(&n, T0 + 1), NonceStatus::Valid);
    }

    #[test]
    fn nonce_under_another_key_or_realm_is_invalid() {
        let n = issuer().issue(T0, 7);
        let other_key = NonceIssuer::new(b"another key of 16+ bytes", "example.com", 300).unwrap();
        let other_realm = NonceIssuer::new(KEY, "example.org", 300).unwrap();
        assert_eq!(other_key.verify(&n, T0), NonceStatus::Invalid);
        assert_eq!(other_realm.verify(&n, T0), NonceStatus::Invalid);
    }

    #[test]
    fn forged_nonce_with_changed_timestamp_is_invalid_even_when_it_would_be_stale() {
        let n = issuer().issue(T0, 7);
        // Move the timestamp forward by one second without the key.
        let mut raw = decode(&n).unwrap();
        raw[7] ^= 0x01;
        let forged = to_hex(&raw);
        assert_eq!(issuer().verify(&forged, T0), NonceStatus::Invalid);
        assert_eq!(issuer().verify(&forged, T0 + 10_000), NonceStatus::Invalid);
        // A flipped tag bit is refused too.
        let mut raw = decode(&n).unwrap();
        raw[NONCE_LEN - 1] ^= 0x80;
        assert_eq!(issuer().verify(&to_hex(&raw), T0), NonceStatus::Invalid);
    }

    #[test]
    fn nonce_from_the_future_beyond_the_skew_is_invalid() {
        let n = issuer().issue(T0 + 5, 1);
        assert_eq!(issuer().verify(&n, T0), NonceStatus::Valid);
        let n = issuer().issue(T0 + 6, 1);
        assert_eq!(issuer().verify(&n, T0), NonceStatus::Invalid);
        let strict = issuer().with_max_clock_skew(0);
        assert_eq!(
            strict.verify(&strict.issue(T0 + 1, 1), T0),
            NonceStatus::Invalid
        );
    }

    #[test]
    fn malformed_nonces_are_invalid() {
        let n = issuer().issue(T0, 7);
        for bad in [
            "",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            &n[..63],
            &format!("{n}0"),
            &format!("{}g", &n[..63]),
            &"é".repeat(32),
        ] {
            assert_eq!(issuer().verify(bad, T0), NonceStatus::Invalid, "{bad}");
        }
    }

    #[test]
    fn upper_case_hex_of_a_genuine_nonce_is_still_accepted() {
        let n = issuer().issue(T0, 7);
        assert_eq!(
            issuer().verify(&n.to_ascii_uppercase(), T0),
            NonceStatus::Valid
        );
    }

    #[test]
    fn different_salts_give_different_nonces_in_the_same_second() {
        assert_ne!(issuer().issue(T0, 1), issuer().issue(T0, 2));
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            NonceIssuer::new(b"short", "r", 60).unwrap_err(),
            NonceKeyError::TooShort { len: 5 }
        );
    }

    #[test]
    fn debug_output_does_not_contain_key_material() {
        let text = format!("{:?}", issuer());
        assert!(text.contains("example.com"));
        assert!(!text.contains("0123456789abcdef"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn nonce_verification_never_panics_and_only_accepts_issued_nonces(
                s in "[0-9a-fA-F]{64}|\\PC{0,80}",
                now in any::<u64>(),
            ) {
                prop_assert_eq!(issuer().verify(&s, now), NonceStatus::Invalid);
            }

            #[test]
            fn issued_nonces_verify_at_any_time_within_lifetime(
                t in 0u64..u64::MAX - 1_000,
                age in 0u64..=300,
                salt in any::<u64>(),
            ) {
                let n = issuer().issue(t, salt);
                prop_assert_eq!(issuer().verify(&n, t + age), NonceStatus::Valid);
                prop_assert_eq!(issuer().verify(&n, t + 301), NonceStatus::Stale);
            }
        }
    }
}
