//! Digest credentials from `Authorization` / `Proxy-Authorization` (RFC 3261 §22.2, §25.1
//! `digest-response`): parsing on the server, answering a challenge on the client.

use std::fmt;

use super::challenge::Challenge;
use super::hash::{DigestInput, request_digest, secret_to_ha1, to_hex};
use super::params::{AuthParams, DigestParseError, Qop, push_quoted, push_token};
use super::{Algorithm, Secret};

const KNOWN: &[&str] = &[
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "opaque",
    "qop",
    "nc",
];

/// Why a client could not answer a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The secret is HA1-only and holds no hash for the challenged algorithm.
    #[error("no stored HA1 for {0}")]
    NoSecretForAlgorithm(Algorithm),
    /// The challenge lists qop options but not `auth`.
    #[error("challenge offers no supported qop")]
    NoSupportedQop,
    /// A `-sess` algorithm without qop: the cnonce it needs may not be sent (RFC 2617 §3.2.2).
    #[error("session algorithm challenged without qop")]
    SessionWithoutQop,
}

/// Parsed digest credentials: the value of one `Authorization` or `Proxy-Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Algorithm,
    session: bool,
    cnonce: Option<String>,
    opaque: Option<String>,
    qop: Option<Qop>,
    /// `nc` as written (8 hex digits): the response hashes these exact characters.
    nc_text: Option<String>,
    nc: Option<u32>,
    params: Vec<(String, String)>,
}

impl Credentials {
    /// Parses one header value. The scheme and parameter names compare case-insensitively;
    /// values may be quoted or not (liberal: some phones quote `qop`/`nc` or leave `uri` bare).
    pub fn parse(value: &str) -> Result<Self, DigestParseError> {
        let p = AuthParams::parse(value)?;
        p.expect_digest()?;
        let required = |name: &'static str| {
            p.get(name)
                .map(str::to_owned)
                .ok_or(DigestParseError::MissingParam(name))
        };
        let username = required("username")?;
        let realm = required("realm")?;
        let nonce = required("nonce")?;
        let uri = required("uri")?;
        let response = required("response")?;
        // RFC 2617 §3.2.2: no algorithm means MD5.
        let (algorithm, session) = match p.get("algorithm") {
            None => (Algorithm::Md5, false),
            Some(token) => Algorithm::from_token(token.trim())
                .ok_or_else(|| DigestParseError::UnsupportedAlgorithm(token.to_owned()))?,
        };
        let qop = p
            .get("qop")
            .map(|q| {
                Qop::from_token(q.trim())
                    .ok_or_else(|| DigestParseError::UnsupportedQop(q.to_owned()))
            })
            .transpose()?;
        let cnonce = p.get("cnonce").map(str::to_owned);
        let (nc_text, nc) = match p.get("nc") {
            Some(text) => (Some(text.to_owned()), Some(parse_nc(text)?)),
            None => (None, None),
        };
        // RFC 2617 §3.2.2: with qop, cnonce and nc MUST be present. Without qop they are
        // meaningless to the response and simply ignored.
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(DigestParseError::MissingParam("cnonce"));
            }
            if nc.is_none() {
                return Err(DigestParseError::MissingParam("nc"));
            }
        }
        if session && cnonce.is_none() {
            return Err(DigestParseError::MissingParam("cnonce"));
        }
        Ok(Credentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            session,
            cnonce,
            opaque: p.get("opaque").map(str::to_owned),
            qop,
            nc_text,
            nc,
            params: p.unknown(KNOWN),
        })
    }

    /// Answers `challenge` for a request (the client side, RFC 3261 §22.2). `cnonce` is the
    /// caller's fresh random value and `nc` counts requests made with this nonce, starting at 1.
    /// Uses qop=auth when offered, the RFC 2069 form when the challenge has no qop.
    pub fn answer(
        challenge: &Challenge,
        method: &str,
        uri: &str,
        username: &str,
        secret: &Secret,
        cnonce: &str,
        nc: u32,
    ) -> Result<Self, AnswerError> {
        let algorithm = challenge.algorithm();
        let session = challenge.is_session();
        let qop = match challenge.qop_options() {
            Some(options) if options.contains(&Qop::Auth) => Some(Qop::Auth),
            Some(_) => return Err(AnswerError::NoSupportedQop),
            None if session => return Err(AnswerError::SessionWithoutQop),
            None => None,
        };
        let ha1 = secret_to_ha1(secret, algorithm, username, challenge.realm())
            .ok_or(AnswerError::NoSecretForAlgorithm(algorithm))?;
        let nc_text = qop.map(|_| format!("{nc:08x}"));
        let cnonce = qop.map(|_| cnonce.to_owned());
        let digest = request_digest(&DigestInput {
            algorithm,
            session,
            ha1: &ha1,
            nonce: challenge.nonce(),
            cnonce: cnonce.as_deref(),
            qop: qop.zip(nc_text.as_deref()),
            method,
            uri,
        })
        // Unreachable: qop is auth or absent, and a session algorithm always has a cnonce.
        .ok_or(AnswerError::SessionWithoutQop)?;
        Ok(Credentials {
            username: username.to_owned(),
            realm: challenge.realm().to_owned(),
            nonce: challenge.nonce().to_owned(),
            uri: uri.to_owned(),
            response: to_hex(&digest),
            algorithm,
            session,
            cnonce,
            opaque: challenge.opaque().map(str::to_owned),
            qop,
            nc: qop.map(|_| nc),
            nc_text,
            params: Vec::new(),
        })
    }

    /// The user name the secret is looked up by.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The realm the client answered for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The nonce the client answered.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The digest-uri; the server should check it names the Request-URI (RFC 3261 §22.4).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The request-digest as sent (hex).
    pub fn response(&self) -> &str {
        &self.response
    }

    /// The hash algorithm (MD5 when the parameter was absent).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether the `-sess` variant of the algorithm was used.
    pub fn is_session(&self) -> bool {
        self.session
    }

    /// The client nonce, when sent.
    pub fn cnonce(&self) -> Option<&str> {
        self.cnonce.as_deref()
    }

    /// The echoed `opaque`, when sent.
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }

    /// The chosen qop; `None` for an RFC 2069 style response.
    pub fn qop(&self) -> Option<Qop> {
        self.qop
    }

    /// The nonce count, when sent.
    pub fn nc(&self) -> Option<u32> {
        self.nc
    }

    /// Parameters this crate does not interpret, in order.
    pub fn other_params(&self) -> &[(String, String)] {
        &self.params
    }

    /// What [`request_digest`] needs, with the HA1 supplied by the verifier.
    pub(crate) fn digest_input<'a>(&'a self, ha1: &'a str, method: &'a str) -> DigestInput<'a> {
        DigestInput {
            algorithm: self.algorithm,
            session: self.session,
            ha1,
            nonce: &self.nonce,
            cnonce: self.cnonce.as_deref(),
            qop: self.qop.zip(self.nc_text.as_deref()),
            method,
            uri: &self.uri,
        }
    }
}

/// RFC 3261 §25.1: `nonce-count = "nc" EQUAL 8LHEX`; upper-case digits are tolerated.
fn parse_nc(text: &str) -> Result<u32, DigestParseError> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestParseError::BadNonceCount(text.to_owned()));
    }
    u32::from_str_radix(text, 16).map_err(|_| DigestParseError::BadNonceCount(text.to_owned()))
}

/// Writes the header value in RFC 3261 §25.1 form: quoted username, realm, nonce, uri,
/// response, cnonce and opaque; bare algorithm, qop and nc.
impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(256);
        out.push_str("Digest ");
        push_quoted(&mut out, "username", &self.username);
        out.push_str(", ");
        push_quoted(&mut out, "realm", &self.realm);
        out.push_str(", ");
        push_quoted(&mut out, "nonce", &self.nonce);
        out.push_str(", ");
        push_quoted(&mut out, "uri", &self.uri);
        out.push_str(", ");
        push_quoted(&mut out, "response", &self.response);
        out.push_str(", ");
        push_token(&mut out, "algorithm", self.algorithm.token(self.session));
        if let Some(cnonce) = &self.cnonce {
            out.push_str(", ");
            push_quoted(&mut out, "cnonce", cnonce);
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(", ");
            push_quoted(&mut out, "opaque", opaque);
        }
        if let Some(qop) = self.qop {
            out.push_str(", ");
            push_token(&mut out, "qop", qop.as_str());
        }
        if let Some(nc) = &self.nc_text {
            out.push_str(", ");
            push_token(&mut out, "nc", nc);
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

    /// The `Authorization` value of RFC 2617 §3.5.
    pub(crate) const RFC2617_AUTHORIZATION: &str = "Digest username=\"Mufasa\",\r\n \
        realm=\"testrealm@host.com\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n \
        uri=\"/dir/index.html\",\r\n qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
        response=\"6629fae49393a05397450978507c4ef1\",\r\n \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

    #[test]
    fn rfc_2617_example_authorization_parses_into_every_field() {
        let c = Credentials::parse(RFC2617_AUTHORIZATION).unwrap();
        assert_eq!(c.username(), "Mufasa");
        assert_eq!(c.realm(), "testrealm@host.com");
        assert_eq!(c.nonce(), "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(c.uri(), "/dir/index.html");
        assert_eq!(c.qop(), Some(Qop::Auth));
        assert_eq!(c.nc(), Some(1));
        assert_eq!(c.cnonce(), Some("0a4f113b"));
        assert_eq!(c.response(), "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.opaque(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
        assert_eq!(c.algorithm(), Algorithm::Md5);
        assert!(!c.is_session());
    }

    #[test]
    fn client_answer_reproduces_rfc_2617_worked_example() {
        let challenge = Challenge::new(
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Algorithm::Md5,
        )
        .with_opaque("5ccc069c403ebaf9f0171e9517f40e41");
        let secret = Secret::Password("Circle Of Life".into());
        let c = Credentials::answer(
            &challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            &secret,
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(c.response(), "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.opaque(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
    }

    #[test]
    fn client_answer_reproduces_rfc_7616_sha256_example() {
        // RFC 7616 §3.9.1; expected value recomputed with python3 hashlib.
        let challenge = Challenge::new(
            "http-auth@example.org",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Algorithm::Sha256,
        );
        let c = Credentials::answer(
            &challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            &Secret::Password("Circle of Life".into()),
            "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            1,
        )
        .unwrap();
        assert_eq!(
            c.response(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn client_answer_without_qop_uses_rfc_2069_form() {
        // Expected value computed with python3 hashlib: MD5(HA1:nonce:HA2).
        let challenge =
            Challenge::parse("Digest realm=\"atlanta.example.com\", nonce=\"5f1c6e2b9a7d4c3e\"")
                .unwrap();
        let c = Credentials::answer(
            &challenge,
            "REGISTER",
            "sip:atlanta.example.com",
            "alice",
            &Secret::Password("Sup3r$ecret".into()),
            "unused",
            1,
        )
        .unwrap();
        assert_eq!(c.response(), "c9e1c73427c401206c091011c96367da");
        assert_eq!((c.qop(), c.nc(), c.cnonce()), (None, None, None));
        assert!(!c.to_string().contains("nc="));
    }

    #[test]
    fn client_answer_with_md5_sess_hashes_nonce_and_cnonce_into_ha1() {
        // Expected value computed with python3 hashlib per RFC 2617 §3.2.2.2.
        let challenge = Challenge::parse(
            "Digest realm=\"atlanta.example.com\", nonce=\"5f1c6e2b9a7d4c3e\", \
             algorithm=MD5-sess, qop=\"auth\"",
        )
        .unwrap();
        let c = Credentials::answer(
            &challenge,
            "REGISTER",
            "sip:atlanta.example.com",
            "alice",
            &Secret::Password("Sup3r$ecret".into()),
            "0a1b2c3d",
            1,
        )
        .unwrap();
        assert_eq!(c.response(), "d31a33190b6be742d213c2c528730658");
        assert!(c.to_string().contains("algorithm=MD5-sess"));
    }

    #[test]
    fn client_cannot_answer_without_secret_or_supported_qop() {
        let ha1_md5_only = Secret::Ha1 {
            md5: Some("00".repeat(16)),
            sha256: None,
        };
        let sha = Challenge::new("r", "n", Algorithm::Sha256);
        assert_eq!(
            Credentials::answer(&sha, "REGISTER", "sip:r", "u", &ha1_md5_only, "c", 1),
            Err(AnswerError::NoSecretForAlgorithm(Algorithm::Sha256))
        );
        let int_only = Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int\"").unwrap();
        assert_eq!(
            Credentials::answer(&int_only, "REGISTER", "sip:r", "u", &ha1_md5_only, "c", 1),
            Err(AnswerError::NoSupportedQop)
        );
        let sess_no_qop = Challenge::parse("Digest realm=r, nonce=n, algorithm=MD5-sess").unwrap();
        assert_eq!(
            Credentials::answer(
                &sess_no_qop,
                "REGISTER",
                "sip:r",
                "u",
                &ha1_md5_only,
                "c",
                1
            ),
            Err(AnswerError::SessionWithoutQop)
        );
    }

    #[test]
    fn written_credentials_parse_back_to_the_same_value() {
        let challenge = Challenge::new("r\\eal\"m", "n", Algorithm::Sha256).with_opaque("op");
        let c = Credentials::answer(
            &challenge,
            "INVITE",
            "sip:bob@example.com;transport=tcp",
            "al\"ice",
            &Secret::Password("pw".into()),
            "cn",
            0x1a,
        )
        .unwrap();
        let text = c.to_string();
        assert!(text.contains("nc=0000001a"), "{text}");
        assert!(text.contains("qop=auth,"), "{text}");
        assert_eq!(Credentials::parse(&text).unwrap(), c);
    }

    #[test]
    fn scheme_names_and_values_compare_case_insensitively() {
        let c = Credentials::parse(
            "DIGEST USERNAME=\"u\", Realm=\"r\", NONCE=\"n\", Uri=\"sip:r\", \
             RESPONSE=\"00\", ALGORITHM=sha-256, QOP=\"AUTH\", NC=0000000A, CNonce=\"c\"",
        )
        .unwrap();
        assert_eq!(c.algorithm(), Algorithm::Sha256);
        assert_eq!(c.qop(), Some(Qop::Auth));
        assert_eq!(c.nc(), Some(10));
        assert_eq!(c.cnonce(), Some("c"));
    }

    #[test]
    fn unknown_parameters_are_kept_in_order() {
        let c = Credentials::parse(
            "Digest username=u, realm=r, nonce=n, uri=\"sip:r\", response=\"00\", \
             x-vendor=\"1\", userhash=false",
        )
        .unwrap();
        assert_eq!(
            c.other_params(),
            &[
                ("x-vendor".to_owned(), "1".to_owned()),
                ("userhash".to_owned(), "false".to_owned())
            ]
        );
    }

    #[test]
    fn malformed_credentials_get_typed_errors() {
        let base = "username=u, realm=r, nonce=n, uri=\"sip:r\", response=\"00\"";
        let cases: &[(&str, DigestParseError)] = &[
            ("", DigestParseError::Empty),
            (
                "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                DigestParseError::UnsupportedScheme("Basic".into()),
            ),
            (
                "Digest realm=r, nonce=n, uri=u, response=r",
                DigestParseError::MissingParam("username"),
            ),
            (
                "Digest username=u, realm=r, nonce=n, uri=u",
                DigestParseError::MissingParam("response"),
            ),
            (
                &format!("Digest {base}, qop=auth, nc=00000001"),
                DigestParseError::MissingParam("cnonce"),
            ),
            (
                &format!("Digest {base}, qop=auth, cnonce=c"),
                DigestParseError::MissingParam("nc"),
            ),
            (
                &format!("Digest {base}, qop=auth, cnonce=c, nc=1"),
                DigestParseError::BadNonceCount("1".into()),
            ),
            (
                &format!("Digest {base}, qop=auth, cnonce=c, nc=0000000g"),
                DigestParseError::BadNonceCount("0000000g".into()),
            ),
            (
                &format!("Digest {base}, qop=auth, cnonce=c, nc=+0000001"),
                DigestParseError::BadNonceCount("+0000001".into()),
            ),
            (
                &format!("Digest {base}, qop=auth-conf, cnonce=c, nc=00000001"),
                DigestParseError::UnsupportedQop("auth-conf".into()),
            ),
            (
                &format!("Digest {base}, algorithm=SHA-512-256"),
                DigestParseError::UnsupportedAlgorithm("SHA-512-256".into()),
            ),
            (
                &format!("Digest {base}, algorithm=MD5-sess"),
                DigestParseError::MissingParam("cnonce"),
            ),
            (
                &format!("Digest {base}, Username=v"),
                DigestParseError::DuplicateParam("username".into()),
            ),
            (
                "Digest username=\"u, realm=r",
                DigestParseError::UnterminatedQuotedString { at: 16 },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(Credentials::parse(input).as_ref(), Err(expected), "{input}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Strings shaped like auth headers, so the generator reaches past the scheme.
        fn header_like() -> impl Strategy<Value = String> {
            "(Digest|dIgEsT|Basic|) ?(( |\t|\r\n )*[a-zA-Z]{1,9} ?= ?(\"([^\"\\\\]|\\\\.){0,12}\"?|[a-zA-Z0-9:/@.\\-]{0,12})[ ,]{0,3}){0,12}"
        }

        proptest! {
            #[test]
            fn credentials_parser_never_panics_on_arbitrary_strings(s in any::<String>()) {
                let _ = Credentials::parse(&s);
            }

            #[test]
            fn credentials_parser_never_panics_on_header_like_strings(s in header_like()) {
                let _ = Credentials::parse(&s);
            }

            #[test]
            fn answered_credentials_survive_writing_and_parsing(
                user in "\\PC{0,16}",
                realm in "\\PC{0,16}",
                nonce in "[!-~]{1,40}",
                uri in "sip:[a-z0-9@.;=]{1,30}",
                cnonce in "[!-~]{1,20}",
                nc in any::<u32>(),
                sha in any::<bool>(),
            ) {
                let alg = if sha { Algorithm::Sha256 } else { Algorithm::Md5 };
                let challenge = Challenge::new(realm, nonce, alg);
                let c = Credentials::answer(
                    &challenge, "REGISTER", &uri, &user, &Secret::Password("pw".into()), &cnonce, nc,
                ).unwrap();
                prop_assert_eq!(Credentials::parse(&c.to_string()).unwrap(), c);
            }
        }
    }
}
