//! Fuzzes the digest header parsers (Authorization / WWW-Authenticate values) and the
//! server-side checks that run on attacker-controlled credentials.
//! Run: `cargo +nightly fuzz run auth_headers`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::auth::{
    Algorithm, Challenge, Credentials, NonceCountTracker, NonceIssuer, Secret, VerifyPolicy,
    verify_response,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        // Whatever parsed must print and parse again.
        let printed = challenge.to_string();
        assert!(Challenge::parse(&printed).is_ok(), "{printed}");
    }
    if let Ok(credentials) = Credentials::parse(text) {
        let printed = credentials.to_string();
        assert!(Credentials::parse(&printed).is_ok(), "{printed}");
        let secret = Secret::Password("fuzz".to_owned());
        let policy = VerifyPolicy {
            realm: "fuzz",
            offered: &[Algorithm::Md5, Algorithm::Sha256],
            allow_rfc2069: true,
        };
        let _ = verify_response(&credentials, "REGISTER", &secret, &policy);
        if let Ok(issuer) = NonceIssuer::new(&[7u8; 32], "fuzz", 300) {
            let _ = issuer.verify(credentials.nonce(), 1_700_000_000);
        }
        let mut tracker = NonceCountTracker::new(4, 300);
        if let Some(nc) = credentials.nc() {
            let _ = tracker.check(credentials.nonce(), nc, 1_700_000_000);
        }
    }
});
