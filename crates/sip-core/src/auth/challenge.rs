//! Digest challenges for `WWW-Authenticate` / `Proxy-Authenticate` (RFC 3261 §22.1, RFC 8760):
//! building them on the server, parsing them on the client.

use std::fmt;

use super::Algorithm;
use super::params::{AuthParams, DigestParseError, Qop, push_quoted, push_token};

const KNOWN: &[&str] = &["realm", "nonce", "algorithm", "qop", "opaque", "stale"];

/// One digest challenge: the value of one `WWW-Authenticate` or `Proxy-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    realm: String,
    nonce: String,
    algorithm: Algorithm,
    session: bool,
    qop: Option<Vec<Qop>>,
    opaque: Option<String>,
    stale: bool,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// A server challenge offering `qop="auth"` (RFC 8760 makes qop support required), not
    /// stale, without opaque.
    pub fn new(realm: impl Into<String>, nonce: impl Into<String>, algorithm: Algorithm) -> Self {
        Challenge {
            realm: realm.into(),
            nonce: nonce.into(),
            algorithm,
            session: false,
            qop: Some(vec![Qop::Auth]),
            opaque: None,
            stale: false,
            params: Vec::new(),
        }
    }

    /// One challenge per algorithm, in the caller's order of preference, all with the same
    /// nonce. RFC 8760 §2.3 (UAS behaviour): one header field per algorithm, the preferred
    /// first; §2.4 (UAC behaviour): the client answers the topmost one it supports.
    pub fn offer(realm: &str, nonce: &str, algorithms: &[Algorithm], stale: bool) -> Vec<Self> {
        algorithms
            .iter()
            .map(|&alg| Challenge::new(realm, nonce, alg).with_stale(stale))
            .collect()
    }

    /// Sets `stale=true`: the previous request's nonce was good but expired, so the client may
    /// retry with the new nonce without asking the user (RFC 2617 §3.2.1).
    #[must_use]
    pub fn with_stale(mut self, stale: bool) -> Self {
        self.stale = stale;
        self
    }

    /// Sets the `opaque` value the client must echo back unchanged.
    #[must_use]
    pub fn with_opaque(mut self, opaque: impl Into<String>) -> Self {
        self.opaque = Some(opaque.into());
        self
    }

    /// Parses one header value (the client side). RFC 3261 §7.3.1: these headers are never
    /// combined with commas, so each value holds exactly one challenge.
    pub fn parse(value: &str) -> Result<Self, DigestParseError> {
        let p = AuthParams::parse(value)?;
        p.expect_digest()?;
        let realm = p
            .get("realm")
            .ok_or(DigestParseError::MissingParam("realm"))?;
        let nonce = p
            .get("nonce")
            .ok_or(DigestParseError::MissingParam("nonce"))?;
        // RFC 2617 §3.2.1: no algorithm means MD5.
        let (algorithm, session) = match p.get("algorithm") {
            None => (Algorithm::Md5, false),
            Some(token) => Algorithm::from_token(token.trim())
                .ok_or_else(|| DigestParseError::UnsupportedAlgorithm(token.to_owned()))?,
        };
        // RFC 2617 §3.2.1: qop-options is a list; unrecognised options are ignored.
        let qop = p.get("qop").map(|list| {
            list.split(',')
                .filter_map(|q| Qop::from_token(q.trim()))
                .collect::<Vec<_>>()
        });
        let stale = p
            .get("stale")
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("true"));
        Ok(Challenge {
            realm: realm.to_owned(),
            nonce: nonce.to_owned(),
            algorithm,
            session,
            qop,
            opaque: p.get("opaque").map(str::to_owned),
            stale,
            params: p.unknown(KNOWN),
        })
    }

    /// The protection space (`realm`).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The server nonce.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether the `-sess` variant of the algorithm was asked for (only seen when parsing).
    pub fn is_session(&self) -> bool {
        self.session
    }

    /// The offered qop options; `None` when the challenge has no `qop` (RFC 2069 style).
    pub fn qop_options(&self) -> Option<&[Qop]> {
        self.qop.as_deref()
    }

    /// The `opaque` value, if any.
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }

    /// Whether `stale=true` was set.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Parameters this crate does not interpret (e.g. `domain`), in order.
    pub fn other_params(&self) -> &[(String, String)] {
        &self.params
    }
}

/// Writes the header value, e.g.
/// `Digest realm="example.com", nonce="…", algorithm=SHA-256, qop="auth"`.
impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(160);
        out.push_str("Digest ");
        push_quoted(&mut out, "realm", &self.realm);
        out.push_str(", ");
        push_quoted(&mut out, "nonce", &self.nonce);
        out.push_str(", ");
        push_token(&mut out, "algorithm", self.algorithm.token(self.session));
        if let Some(qop) = &self.qop {
            let list: Vec<&str> = qop.iter().map(|q| q.as_str()).collect();
            out.push_str(", ");
            push_quoted(&mut out, "qop", &list.join(","));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", ");
            push_quoted(&mut out, "opaque", opaque);
        }
        if self.stale {
            out.push_str(", ");
            push_token(&mut out, "stale", "true");
        }
        for (name, value) in &self.params {
            out.push_str(", ");
            push_quoted(&mut out, name, value);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn server_challenge_is_written_with_qop_auth_and_algorithm() {
        let c = Challenge::new("example.com", "abc", Algorithm::Sha256);
        assert_eq!(
            c.to_string(),
            r#"Digest realm="example.com", nonce="abc", algorithm=SHA-256, qop="auth""#
        );
    }

    #[test]
    fn stale_and_opaque_are_written_when_set() {
        let c = Challenge::new("r", "n", Algorithm::Md5)
            .with_opaque("op")
            .with_stale(true);
        assert_eq!(
            c.to_string(),
            r#"Digest realm="r", nonce="n", algorithm=MD5, qop="auth", opaque="op", stale=true"#
        );
    }

    #[test]
    fn offer_keeps_preference_order_one_challenge_per_algorithm() {
        let offered = Challenge::offer("r", "n", &[Algorithm::Sha256, Algorithm::Md5], true);
        let algs: Vec<Algorithm> = offered.iter().map(Challenge::algorithm).collect();
        assert_eq!(algs, [Algorithm::Sha256, Algorithm::Md5]);
        assert!(offered.iter().all(|c| c.is_stale() && c.nonce() == "n"));
    }

    #[test]
    fn written_challenge_parses_back_to_the_same_value() {
        let c = Challenge::new("a \"quoted\" realm", "n0", Algorithm::Md5)
            .with_opaque("o")
            .with_stale(true);
        assert_eq!(Challenge::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn rfc_3261_example_challenge_parses_case_insensitively() {
        // RFC 3261 §20.44 example, with names and values in mixed case.
        let c = Challenge::parse(
            "digest REALM=\"atlanta.com\", domain=\"sip:boxesbybob.com\", Qop=\"auth\",\r\n \
             nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=md5",
        )
        .unwrap();
        assert_eq!(c.realm(), "atlanta.com");
        assert_eq!(c.nonce(), "f84f1cec41e6cbe5aea9c8e88d359");
        assert_eq!(c.algorithm(), Algorithm::Md5);
        assert!(!c.is_stale());
        assert_eq!(c.opaque(), Some(""));
        assert_eq!(c.qop_options(), Some(&[Qop::Auth][..]));
        assert_eq!(
            c.other_params(),
            &[("domain".to_owned(), "sip:boxesbybob.com".to_owned())]
        );
    }

    #[test]
    fn challenge_qop_list_ignores_unknown_options_and_absent_qop_is_legacy() {
        let c = Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int, x-new ,AUTH\"").unwrap();
        assert_eq!(c.qop_options(), Some(&[Qop::AuthInt, Qop::Auth][..]));
        let legacy = Challenge::parse("Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert_eq!(legacy.qop_options(), None);
        assert_eq!(legacy.algorithm(), Algorithm::Md5);
    }

    #[test]
    fn challenge_with_session_algorithm_is_recognised() {
        let c =
            Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-256-sess, qop=auth").unwrap();
        assert_eq!(c.algorithm(), Algorithm::Sha256);
        assert!(c.is_session());
        assert!(c.to_string().contains("algorithm=SHA-256-sess"));
    }

    #[test]
    fn challenge_parse_refuses_other_schemes_missing_fields_and_unknown_algorithms() {
        assert_eq!(
            Challenge::parse("Basic realm=\"r\"").unwrap_err(),
            DigestParseError::UnsupportedScheme("Basic".into())
        );
        assert_eq!(
            Challenge::parse("Digest nonce=n").unwrap_err(),
            DigestParseError::MissingParam("realm")
        );
        assert_eq!(
            Challenge::parse("Digest realm=r").unwrap_err(),
            DigestParseError::MissingParam("nonce")
        );
        assert_eq!(
            Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-512-256").unwrap_err(),
            DigestParseError::UnsupportedAlgorithm("SHA-512-256".into())
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn challenge_parser_never_panics_on_arbitrary_strings(s in any::<String>()) {
                let _ = Challenge::parse(&s);
            }

            #[test]
            fn challenge_parser_never_panics_on_header_like_strings(
                s in "(Digest|Basic|) ?([a-zA-Z]{1,9} ?= ?(\"([^\"\\\\]|\\\\.){0,12}\"?|[a-zA-Z0-9-]{0,12})[ ,]{0,3}){0,10}"
            ) {
                let _ = Challenge::parse(&s);
            }

            #[test]
            fn written_challenges_parse_back(
                realm in "\\PC{0,24}",
                nonce in "\\PC{0,24}",
                opaque in proptest::option::of("\\PC{0,12}"),
                stale in any::<bool>(),
                sha in any::<bool>(),
            ) {
                let alg = if sha { Algorithm::Sha256 } else { Algorithm::Md5 };
                let mut c = Challenge::new(realm, nonce, alg).with_stale(stale);
                if let Some(o) = opaque {
                    c = c.with_opaque(o);
                }
                prop_assert_eq!(Challenge::parse(&c.to_string()).unwrap(), c);
            }
        }
    }
}
