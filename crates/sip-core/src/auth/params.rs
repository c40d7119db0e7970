//! Lexing of digest auth-param lists (RFC 3261 §25.1): scheme, `name=value` pairs, quoted strings.
//!
//! Shared by the credentials and challenge parsers; also writes quoted strings back out.

use std::borrow::Cow;

/// Why a `WWW-Authenticate` / `Authorization` (or `Proxy-` variant) value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestParseError {
    /// The header value is empty or only whitespace.
    #[error("empty authentication header value")]
    Empty,
    /// The value does not start with a scheme token followed by whitespace.
    #[error("expected an authentication scheme")]
    ExpectedScheme,
    /// The scheme is not `Digest` (e.g. `Basic`).
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// A parameter name was expected.
    #[error("expected a parameter name at byte {at}")]
    ExpectedParamName {
        /// Byte offset into the header value.
        at: usize,
    },
    /// A parameter name was not followed by `=`.
    #[error("expected '=' at byte {at}")]
    ExpectedEquals {
        /// Byte offset into the header value.
        at: usize,
    },
    /// `=` was not followed by a token or quoted string.
    #[error("expected a parameter value at byte {at}")]
    ExpectedValue {
        /// Byte offset into the header value.
        at: usize,
    },
    /// Two parameters were not separated by a comma.
    #[error("expected ',' at byte {at}")]
    ExpectedComma {
        /// Byte offset into the header value.
        at: usize,
    },
    /// A quoted string has no closing quote.
    #[error("unterminated quoted string starting at byte {at}")]
    UnterminatedQuotedString {
        /// Byte offset of the opening quote.
        at: usize,
    },
    /// A parameter appears more than once (RFC 7616 §3.4: each at most once).
    #[error("parameter {0:?} appears more than once")]
    DuplicateParam(String),
    /// A parameter the scheme requires is absent.
    #[error("missing parameter {0:?}")]
    MissingParam(&'static str),
    /// `nc` is not exactly 8 hex digits (RFC 3261 §25.1 `nonce-count`).
    #[error("malformed nonce count {0:?}")]
    BadNonceCount(String),
    /// An `algorithm` this implementation does not compute.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A `qop` value in credentials other than `auth` / `auth-int`.
    #[error("unsupported qop {0:?}")]
    UnsupportedQop(String),
}

/// Quality of protection (RFC 2617 §3.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication only; the only one this server offers.
    Auth,
    /// `auth-int`: authentication with body integrity; parsed, never verified.
    AuthInt,
}

impl Qop {
    /// The token as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    /// Reads a qop token, case-insensitively.
    pub fn from_token(token: &str) -> Option<Qop> {
        [Qop::Auth, Qop::AuthInt]
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(token))
    }
}

/// A lexed header value: scheme and parameters in order, values unquoted and unescaped.
#[derive(Debug)]
pub(crate) struct AuthParams<'a> {
    scheme: &'a str,
    params: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> AuthParams<'a> {
    /// Lexes `scheme param=value, param="quoted", ...`. Liberal where it costs nothing: any
    /// whitespace (also unfolded CR/LF) around separators, empty list elements, unquoted values
    /// that are not strict tokens.
    pub(crate) fn parse(input: &'a str) -> Result<Self, DigestParseError> {
        let bytes = input.as_bytes();
        let mut i = skip_ws(bytes, 0);
        if i == bytes.len() {
            return Err(DigestParseError::Empty);
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        if i == start || (i < bytes.len() && !is_ws(bytes[i])) {
            return Err(DigestParseError::ExpectedScheme);
        }
        let scheme = &input[start..i];

        let mut params: Vec<(&'a str, Cow<'a, str>)> = Vec::with_capacity(10);
        let mut need_comma = false;
        loop {
            i = skip_ws(bytes, i);
            let Some(&b) = bytes.get(i) else { break };
            if b == b',' {
                i += 1;
                need_comma = false;
                continue;
            }
            if need_comma {
                return Err(DigestParseError::ExpectedComma { at: i });
            }
            let name_start = i;
            while i < bytes.len() && is_token_byte(bytes[i]) {
                i += 1;
            }
            if i == name_start {
                return Err(DigestParseError::ExpectedParamName { at: i });
            }
            let name = &input[name_start..i];
            i = skip_ws(bytes, i);
            if bytes.get(i) != Some(&b'=') {
                return Err(DigestParseError::ExpectedEquals { at: i });
            }
            i = skip_ws(bytes, i + 1);
            let value = match bytes.get(i) {
                Some(b'"') => {
                    let (value, next) = unquote(input, i)?;
                    i = next;
                    value
                }
                Some(_) => {
                    let value_start = i;
                    while i < bytes.len() && !matches!(bytes[i], b',' | b'"') && !is_ws(bytes[i]) {
                        i += 1;
                    }
                    if i == value_start {
                        return Err(DigestParseError::ExpectedValue { at: i });
                    }
                    Cow::Borrowed(&input[value_start..i])
                }
                None => return Err(DigestParseError::ExpectedValue { at: i }),
            };
            if params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(DigestParseError::DuplicateParam(name.to_ascii_lowercase()));
            }
            params.push((name, value));
            need_comma = true;
        }
        Ok(AuthParams { scheme, params })
    }

    /// Fails unless the scheme is `Digest` (compared case-insensitively, RFC 3261 §25.1).
    pub(crate) fn expect_digest(&self) -> Result<(), DigestParseError> {
        if self.scheme.eq_ignore_ascii_case("Digest") {
            Ok(())
        } else {
            Err(DigestParseError::UnsupportedScheme(self.scheme.to_owned()))
        }
    }

    /// The value of a parameter; names compare case-insensitively.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// Parameters whose names are not in `known`, in order, as owned pairs.
    pub(crate) fn unknown(&self, known: &[&str]) -> Vec<(String, String)> {
        self.params
            .iter()
            .filter(|(n, _)| !known.iter().any(|k| k.eq_ignore_ascii_case(n)))
            .map(|(n, v)| ((*n).to_owned(), v.as_ref().to_owned()))
            .collect()
    }
}

/// Reads the quoted string whose opening quote is at `open`; returns the unescaped value and
/// the offset after the closing quote. RFC 3261 §25.1: `quoted-pair = "\" CHAR`.
fn unquote(input: &str, open: usize) -> Result<(Cow<'_, str>, usize), DigestParseError> {
    let body = input.get(open + 1..).unwrap_or("");
    let bytes = body.as_bytes();
    let mut owned: Option<String> = None;
    let mut segment_start = 0;
    let mut k = 0;
    // `"` and `\` are ASCII, so scanning bytes never stops inside a multi-byte character.
    while let Some(offset) = bytes[k..].iter().position(|&b| b == b'"' || b == b'\\') {
        k += offset;
        if bytes[k] == b'"' {
            let value = match owned {
                None => Cow::Borrowed(&body[..k]),
                Some(mut s) => {
                    s.push_str(&body[segment_start..k]);
                    Cow::Owned(s)
                }
            };
            return Ok((value, open + 1 + k + 1));
        }
        let s = owned.get_or_insert_with(String::new);
        s.push_str(&body[segment_start..k]);
        let Some(escaped) = body[k + 1..].chars().next() else {
            break;
        };
        s.push(escaped);
        k += 1 + escaped.len_utf8();
        segment_start = k;
    }
    Err(DigestParseError::UnterminatedQuotedString { at: open })
}

/// Appends `name="value"` with `"` and `\` escaped; control characters (CR, LF, NUL …) cannot
/// appear in a quoted string (RFC 3261 §25.1 `qdtext`) and are dropped so no value can
/// break out of the header.
pub(crate) fn push_quoted(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `name=token` for values this crate generates (algorithm, qop, nc, stale).
pub(crate) fn push_token(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(value);
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    i
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_unescaped_and_tokens_kept_verbatim() {
        let p = AuthParams::parse(r#"Digest a="x\"y\\z", b=tok, c="""#).unwrap();
        assert_eq!(p.get("a"), Some(r#"x"y\z"#));
        assert_eq!(p.get("B"), Some("tok"));
        assert_eq!(p.get("c"), Some(""));
    }

    #[test]
    fn folded_whitespace_and_empty_list_elements_are_accepted() {
        let p = AuthParams::parse("Digest\r\n  a = \"1\" ,\t, b=2 ,").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("2"));
    }

    #[test]
    fn syntax_errors_name_their_position() {
        assert_eq!(
            AuthParams::parse("Digest a=1 b=2").unwrap_err(),
            DigestParseError::ExpectedComma { at: 11 }
        );
        assert_eq!(
            AuthParams::parse("Digest a").unwrap_err(),
            DigestParseError::ExpectedEquals { at: 8 }
        );
        assert_eq!(
            AuthParams::parse("Digest a=").unwrap_err(),
            DigestParseError::ExpectedValue { at: 9 }
        );
        assert_eq!(
            AuthParams::parse("Digest a=\"open").unwrap_err(),
            DigestParseError::UnterminatedQuotedString { at: 9 }
        );
        assert_eq!(
            AuthParams::parse("Digest a=\"x\\").unwrap_err(),
            DigestParseError::UnterminatedQuotedString { at: 9 }
        );
        assert_eq!(
            AuthParams::parse("Digest =1").unwrap_err(),
            DigestParseError::ExpectedParamName { at: 7 }
        );
        assert_eq!(
            AuthParams::parse("  ").unwrap_err(),
            DigestParseError::Empty
        );
        assert_eq!(
            AuthParams::parse("Digest=1").unwrap_err(),
            DigestParseError::ExpectedScheme
        );
    }

    #[test]
    fn duplicate_parameters_are_refused_whatever_their_case() {
        assert_eq!(
            AuthParams::parse("Digest realm=a, REALM=b").unwrap_err(),
            DigestParseError::DuplicateParam("realm".into())
        );
    }

    #[test]
    fn written_quoted_strings_escape_quotes_and_drop_line_breaks() {
        let mut out = String::new();
        push_quoted(&mut out, "realm", "a\"b\\c\r\nd");
        assert_eq!(out, r#"realm="a\"b\\cd""#);
        let header = format!("Digest {out}");
        let p = AuthParams::parse(&header).unwrap();
        assert_eq!(p.get("realm"), Some("a\"b\\cd"));
    }
}
