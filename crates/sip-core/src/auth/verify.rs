//! Server-side check of a digest response against a user's stored secret (RFC 3261 §22.4,
//! RFC 8760 §2.5), compared in constant time.

use super::hash::{ct_eq, from_hex, request_digest, secret_to_ha1};
use super::{Algorithm, Credentials, Qop, Secret};

/// What this server asked for when it challenged.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy<'a> {
    /// The realm of the challenge; credentials for another realm are refused.
    pub realm: &'a str,
    /// The algorithms that were offered; a response with any other (or a `-sess` variant,
    /// which this server never offers) is refused.
    pub offered: &'a [Algorithm],
    /// Accept RFC 2069 responses without qop, for MD5 only. RFC 8760 makes qop required, so
    /// this exists for old phones and defaults to off in callers that follow it.
    pub allow_rfc2069: bool,
}

/// Whether `credentials` prove knowledge of `secret` for a request with `method`.
///
/// Checks realm, algorithm and qop against `policy`, then recomputes the request-digest and
/// compares it in constant time. It does not check the nonce (use
/// [`super::NonceIssuer::verify`] first), the nonce count ([`super::NonceCountTracker`] after a
/// `true`), that the user name is the one the secret belongs to (the caller looked the secret
/// up by [`Credentials::username`]), nor that the digest-uri names the Request-URI (RFC 3261
/// §22.4; the caller compares it with the message's URI).
///
/// For a user that does not exist, callers should still run this against a throw-away secret
/// and answer exactly as for a wrong password, so neither timing nor response reveals which
/// user names exist.
pub fn verify_response(
    credentials: &Credentials,
    method: &str,
    secret: &Secret,
    policy: &VerifyPolicy<'_>,
) -> bool {
    // RFC 2617 §1.2: the realm is case-sensitive.
    if credentials.realm() != policy.realm {
        return false;
    }
    if credentials.is_session() || !policy.offered.contains(&credentials.algorithm()) {
        return false;
    }
    match credentials.qop() {
        Some(Qop::Auth) => {}
        // Never offered: the server has no way to check body integrity here.
        Some(Qop::AuthInt) => return false,
        None => {
            if !(policy.allow_rfc2069 && credentials.algorithm() == Algorithm::Md5) {
                return false;
            }
        }
    }
    let Some(ha1) = secret_to_ha1(
        secret,
        credentials.algorithm(),
        credentials.username(),
        credentials.realm(),
    ) else {
        return false;
    };
    let Some(expected) = request_digest(&credentials.digest_input(&ha1, method)) else {
        return false;
    };
    let Some(given) = from_hex(credentials.response().trim()) else {
        return false;
    };
    ct_eq(&expected, &given)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::{Challenge, NonceCountTracker, NonceIssuer, NonceStatus};
    use super::*;

    const BOTH: &[Algorithm] = &[Algorithm::Sha256, Algorithm::Md5];

    fn policy(realm: &str) -> VerifyPolicy<'_> {
        VerifyPolicy {
            realm,
            offered: BOTH,
            allow_rfc2069: false,
        }
    }

    fn rfc2617_credentials() -> Credentials {
        Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap()
    }

    /// A SIP REGISTER answered with SHA-256; the expected response was computed with python3
    /// hashlib: SHA-256(HA1:nonce:0000000a:cnonce:auth:HA2).
    fn sip_sha256_credentials(response: &str) -> Credentials {
        Credentials::parse(&format!(
            "Digest username=\"alice\", realm=\"atlanta.example.com\", \
             nonce=\"5f1c6e2b9a7d4c3e\", uri=\"sip:atlanta.example.com\", \
             algorithm=SHA-256, qop=auth, nc=0000000a, cnonce=\"0a1b2c3d\", \
             response=\"{response}\""
        ))
        .unwrap()
    }

    const SIP_SHA256_RESPONSE: &str =
        "2f6a5acad91a65eb066735a709a0409cb9940fb480eeea33b612df7b34552518";

    #[test]
    fn rfc_2617_worked_example_verifies_with_the_password() {
        let secret = Secret::Password("Circle Of Life".into());
        assert!(verify_response(
            &rfc2617_credentials(),
            "GET",
            &secret,
            &policy("testrealm@host.com")
        ));
    }

    #[test]
    fn wrong_password_method_or_realm_fails() {
        let c = rfc2617_credentials();
        let p = policy("testrealm@host.com");
        assert!(!verify_response(
            &c,
            "GET",
            &Secret::Password("circle of life".into()),
            &p
        ));
        assert!(!verify_response(
            &c,
            "POST",
            &Secret::Password("Circle Of Life".into()),
            &p
        ));
        assert!(!verify_response(
            &c,
            "GET",
            &Secret::Password("Circle Of Life".into()),
            &policy("TestRealm@host.com")
        ));
    }

    #[test]
    fn sip_register_with_sha256_verifies_with_password_and_with_stored_ha1() {
        let c = sip_sha256_credentials(SIP_SHA256_RESPONSE);
        let p = policy("atlanta.example.com");
        assert!(verify_response(
            &c,
            "REGISTER",
            &Secret::Password("Sup3r$ecret".into()),
            &p
        ));
        let stored = Secret::Ha1 {
            md5: None,
            sha256: Some("338c4b3c76545d8e8ab4bc237fbc024c54b2de73c6e504932e31ebfa9b672e9e".into()),
        };
        assert!(verify_response(&c, "REGISTER", &stored, &p));
        // The HA1 for the other algorithm does not help.
        let md5_only = Secret::Ha1 {
            md5: Some("3e81544c459a631aa950a8a19aef71b9".into()),
            sha256: None,
        };
        assert!(!verify_response(&c, "REGISTER", &md5_only, &p));
    }

    #[test]
    fn upper_case_response_hex_is_accepted_and_a_flipped_digit_is_not() {
        let p = policy("atlanta.example.com");
        let secret = Secret::Password("Sup3r$ecret".into());
        let upper = sip_sha256_credentials(&SIP_SHA256_RESPONSE.to_ascii_uppercase());
        assert!(verify_response(&upper, "REGISTER", &secret, &p));
        let mut flipped = SIP_SHA256_RESPONSE.to_owned();
        flipped.replace_range(63.., "9");
        let c = sip_sha256_credentials(&flipped);
        assert!(!verify_response(&c, "REGISTER", &secret, &p));
        let c = sip_sha256_credentials(&SIP_SHA256_RESPONSE[..62]);
        assert!(!verify_response(&c, "REGISTER", &secret, &p));
        let c = sip_sha256_credentials("not hex");
        assert!(!verify_response(&c, "REGISTER", &secret, &p));
    }

    #[test]
    fn algorithm_not_offered_is_refused_even_with_a_correct_response() {
        let c = sip_sha256_credentials(SIP_SHA256_RESPONSE);
        let md5_only = VerifyPolicy {
            realm: "atlanta.example.com",
            offered: &[Algorithm::Md5],
            allow_rfc2069: false,
        };
        assert!(!verify_response(
            &c,
            "REGISTER",
            &Secret::Password("Sup3r$ecret".into()),
            &md5_only
        ));
    }

    #[test]
    fn session_variant_is_refused_because_it_is_never_offered() {
        let challenge =
            Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess, qop=\"auth\"")
                .unwrap();
        let secret = Secret::Password("pw".into());
        let c = Credentials::answer(&challenge, "REGISTER", "sip:r", "u", &secret, "c", 1).unwrap();
        assert!(!verify_response(&c, "REGISTER", &secret, &policy("r")));
    }

    #[test]
    fn rfc_2069_response_needs_the_policy_flag_and_md5() {
        let secret = Secret::Password("Sup3r$ecret".into());
        let c = Credentials::parse(
            "Digest username=\"alice\", realm=\"atlanta.example.com\", \
             nonce=\"5f1c6e2b9a7d4c3e\", uri=\"sip:atlanta.example.com\", \
             response=\"c9e1c73427c401206c091011c96367da\"",
        )
        .unwrap();
        let strict = policy("atlanta.example.com");
        let legacy = VerifyPolicy {
            allow_rfc2069: true,
            ..strict
        };
        assert!(!verify_response(&c, "REGISTER", &secret, &strict));
        assert!(verify_response(&c, "REGISTER", &secret, &legacy));
    }

    #[test]
    fn auth_int_credentials_are_refused() {
        let c = Credentials::parse(
            "Digest username=u, realm=r, nonce=n, uri=\"sip:r\", response=\"00\", \
             qop=auth-int, nc=00000001, cnonce=c",
        )
        .unwrap();
        assert!(!verify_response(
            &c,
            "REGISTER",
            &Secret::Password("pw".into()),
            &policy("r")
        ));
    }

    #[test]
    fn full_register_round_trip_between_client_and_server() {
        // Server: challenge with a stateless nonce, SHA-256 preferred.
        let key = b"cluster-wide nonce key 32 bytes!";
        let now = 1_800_000_000;
        let node_a = NonceIssuer::new(key, "example.com", 300).unwrap();
        let nonce = node_a.issue(now, 0xfeed);
        let offered = Challenge::offer("example.com", &nonce, BOTH, false);
        let headers: Vec<String> = offered.iter().map(ToString::to_string).collect();

        // Client: takes the topmost challenge it can parse (RFC 8760 §2.4) and answers it.
        let challenge = headers
            .iter()
            .find_map(|h| Challenge::parse(h).ok())
            .unwrap();
        assert_eq!(challenge.algorithm(), Algorithm::Sha256);
        let phone_secret = Secret::Password("1234".into());
        let header = |nc| {
            Credentials::answer(
                &challenge,
                "REGISTER",
                "sip:example.com",
                "1000",
                &phone_secret,
                "c0ffee",
                nc,
            )
            .unwrap()
            .to_string()
        };

        // Server, possibly another node with the same key.
        let node_b = NonceIssuer::new(key, "example.com", 300).unwrap();
        let stored = Secret::Ha1 {
            md5: None,
            sha256: Some(crate::auth::ha1_from_password(
                Algorithm::Sha256,
                "1000",
                "example.com",
                "1234",
            )),
        };
        let p = policy("example.com");
        let mut tracker = NonceCountTracker::new(100, 300);
        let mut serve = |value: &str, at: u64| {
            let c = Credentials::parse(value).unwrap();
            match node_b.verify(c.nonce(), at) {
                NonceStatus::Valid => {}
                other => return format!("{other:?}"),
            }
            if !verify_response(&c, "REGISTER", &stored, &p) {
                return "BadResponse".into();
            }
            format!("{:?}", tracker.check(c.nonce(), c.nc().unwrap(), at))
        };
        assert_eq!(serve(&header(1), now + 1), "Accepted");
        assert_eq!(serve(&header(1), now + 2), "Replayed");
        assert_eq!(serve(&header(2), now + 3), "Accepted");
        assert_eq!(serve(&header(3), now + 400), "Stale");
        let tampered = header(4).replace("uri=\"sip:example.com\"", "uri=\"sip:evil.example\"");
        assert_eq!(serve(&tampered, now + 4), "BadResponse");
        assert_eq!(serve(&header(4), now + 5), "Accepted");
    }
}
