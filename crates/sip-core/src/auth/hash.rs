//! HA1 / HA2 / request-digest computation (RFC 2617 §3.2.2, RFC 8760 §2.1), hex encoding and
//! constant-time comparison.

use md5::Md5;
use sha2::{Digest, Sha256};

use super::{Algorithm, Qop, Secret};

/// H(part1:part2:…) in raw bytes.
fn h(algorithm: Algorithm, parts: &[&str]) -> Vec<u8> {
    fn run<D: Digest>(parts: &[&str]) -> Vec<u8> {
        let mut d = D::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                d.update(b":");
            }
            d.update(part.as_bytes());
        }
        d.finalize().to_vec()
    }
    match algorithm {
        Algorithm::Md5 => run::<Md5>(parts),
        Algorithm::Sha256 => run::<Sha256>(parts),
    }
}

/// HA1 = H(username:realm:password) in lower-case hex (RFC 2617 §3.2.2.2), the form
/// `Secret::Ha1` stores; config tooling uses it to avoid keeping plain passwords.
pub fn ha1_from_password(
    algorithm: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
) -> String {
    to_hex(&h(algorithm, &[username, realm, password]))
}

/// The HA1 (lower-case hex) a secret yields for `algorithm`, or `None` when an HA1-only secret
/// has no hash for that algorithm. The `-sess` step is not applied here.
pub fn secret_to_ha1(
    secret: &Secret,
    algorithm: Algorithm,
    username: &str,
    realm: &str,
) -> Option<String> {
    match secret {
        Secret::Password(password) => Some(ha1_from_password(algorithm, username, realm, password)),
        Secret::Ha1 { md5, sha256 } => {
            let stored = match algorithm {
                Algorithm::Md5 => md5.as_deref(),
                Algorithm::Sha256 => sha256.as_deref(),
            }?;
            // RFC 8760 §2.2: digests travel as lower-case hex; tolerate upper-case config.
            Some(stored.trim().to_ascii_lowercase())
        }
    }
}

/// Whether `ha1` is a plausible stored HA1 for `algorithm`: hex of the digest's length (32
/// digits for MD5, 64 for SHA-256). For config validation of `Secret::Ha1` values.
pub fn ha1_is_well_formed(algorithm: Algorithm, ha1: &str) -> bool {
    let digits = match algorithm {
        Algorithm::Md5 => 32,
        Algorithm::Sha256 => 64,
    };
    let ha1 = ha1.trim();
    ha1.len() == digits && ha1.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Everything the request-digest covers, borrowed from credentials or a challenge.
pub(crate) struct DigestInput<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) session: bool,
    /// HA1 = H(user:realm:password) in lower-case hex, before any `-sess` step.
    pub(crate) ha1: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) cnonce: Option<&'a str>,
    /// qop and the nonce count exactly as written on the wire (8 hex digits).
    pub(crate) qop: Option<(Qop, &'a str)>,
    pub(crate) method: &'a str,
    pub(crate) uri: &'a str,
}

/// The request-digest in raw bytes, or `None` when it cannot be computed: `-sess` without a
/// cnonce, or `auth-int` (needs the body hash, which this server never offers).
pub(crate) fn request_digest(input: &DigestInput<'_>) -> Option<Vec<u8>> {
    let alg = input.algorithm;
    let session_ha1;
    let ha1 = if input.session {
        // RFC 2617 §3.2.2.2: HA1 = H(H(user:realm:pass):nonce:cnonce) for -sess.
        session_ha1 = to_hex(&h(alg, &[input.ha1, input.nonce, input.cnonce?]));
        session_ha1.as_str()
    } else {
        input.ha1
    };
    // RFC 2617 §3.2.2.3: HA2 = H(method:digest-uri) for qop=auth or no qop.
    let ha2 = to_hex(&h(alg, &[input.method, input.uri]));
    match input.qop {
        // RFC 2617 §3.2.2.1: KD(HA1, nonce:nc:cnonce:qop:HA2).
        Some((Qop::Auth, nc)) => Some(h(
            alg,
            &[
                ha1,
                input.nonce,
                nc,
                input.cnonce?,
                Qop::Auth.as_str(),
                &ha2,
            ],
        )),
        Some((Qop::AuthInt, _)) => None,
        // RFC 2069 compatibility: KD(HA1, nonce:HA2).
        None => Some(h(alg, &[ha1, input.nonce, &ha2])),
    }
}

/// Lower-case hex, the digest representation of RFC 8760 §2.2.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex of either case; `None` on odd length or a non-hex digit.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let mut out = vec![0u8; bytes.len() / 2];
    hex_into(bytes, &mut out)?;
    Some(out)
}

/// Decodes hex digits (either case) filling `out` exactly; `None` on a wrong length or a
/// non-hex byte.
pub(crate) fn hex_into(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(())
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Compares without an early exit, so timing does not reveal how many leading bytes of a
/// forged response or nonce tag were right. Lengths are public (they follow the algorithm).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn ha1_from_password_matches_rfc_2617_worked_example() {
        // RFC 2617 §3.5 (HA1 computed independently with python3 hashlib).
        assert_eq!(
            ha1_from_password(
                Algorithm::Md5,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            ),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    #[test]
    fn ha1_from_password_with_sha256_matches_rfc_7616_example() {
        // RFC 7616 §3.9.1 user, realm and password.
        assert_eq!(
            ha1_from_password(
                Algorithm::Sha256,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life"
            ),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn stored_ha1_is_used_per_algorithm_and_missing_one_yields_none() {
        let secret = Secret::Ha1 {
            md5: Some("939E7578ED9E3C518A452ACEE763BCE9".into()),
            sha256: None,
        };
        assert_eq!(
            secret_to_ha1(&secret, Algorithm::Md5, "ignored", "ignored").as_deref(),
            Some("939e7578ed9e3c518a452acee763bce9")
        );
        assert_eq!(secret_to_ha1(&secret, Algorithm::Sha256, "u", "r"), None);
    }

    #[test]
    fn ha1_shape_check_wants_hex_of_the_algorithms_length() {
        assert!(ha1_is_well_formed(
            Algorithm::Md5,
            "939e7578ed9e3c518a452acee763bce9"
        ));
        assert!(!ha1_is_well_formed(
            Algorithm::Sha256,
            "939e7578ed9e3c518a452acee763bce9"
        ));
        assert!(!ha1_is_well_formed(
            Algorithm::Md5,
            "939e7578ed9e3c518a452acee763bceg"
        ));
        assert!(ha1_is_well_formed(Algorithm::Sha256, &"Ab".repeat(32)));
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let bytes = [0x00, 0x7f, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "007fabff");
        assert_eq!(from_hex("007FABff").unwrap(), bytes);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é1"), None);
    }

    #[test]
    fn constant_time_compare_checks_length_and_every_byte() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn session_variant_without_cnonce_cannot_be_computed() {
        let input = DigestInput {
            algorithm: Algorithm::Md5,
            session: true,
            ha1: "939e7578ed9e3c518a452acee763bce9",
            nonce: "n",
            cnonce: None,
            qop: None,
            method: "REGISTER",
            uri: "sip:a",
        };
        assert_eq!(request_digest(&input), None);
    }
}
