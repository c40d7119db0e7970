//! URIs as they appear in SIP: `sip:`/`sips:`, `tel:` and other absolute URIs.

use std::fmt;

use super::syntax::split_once_byte;

pub use super::sip_uri::SipUri;
pub use super::tel_uri::TelUri;

/// Any URI in a Request-URI or name-addr.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other scheme, kept opaque (RFC 3261 §19.1: `absoluteURI`).
    Absolute(AbsoluteUri),
}

/// An absolute URI of a scheme this crate does not interpret (e.g. `http:`, `urn:`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsoluteUri {
    text: String,
    scheme_len: usize,
}

impl AbsoluteUri {
    /// Parses `scheme:rest` with an RFC 3986 scheme and no whitespace or delimiters that would
    /// break a SIP header (`<`, `>`, `"`).
    pub fn parse(s: &str) -> Option<AbsoluteUri> {
        let colon = s.find(':')?;
        let scheme = &s[..colon];
        let rest = &s[colon + 1..];
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        let rest_ok = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b > 0x20 && b < 0x7f && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
        (scheme_ok && rest_ok).then(|| AbsoluteUri {
            text: s.to_owned(),
            scheme_len: colon,
        })
    }

    /// Stands in for an unparseable Request-URI in a partially parsed request.
    pub(crate) fn placeholder(raw: &str) -> AbsoluteUri {
        AbsoluteUri {
            text: raw.to_owned(),
            scheme_len: raw.find(':').unwrap_or(0),
        }
    }

    /// The scheme as written.
    pub fn scheme(&self) -> &str {
        &self.text[..self.scheme_len]
    }

    /// The whole URI as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for AbsoluteUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Uri {
    /// Parses any URI: `sip:`/`sips:` and `tel:` are interpreted, other schemes kept opaque.
    /// `None` when the text is not a URI or a known scheme is malformed.
    pub fn parse(s: &str) -> Option<Uri> {
        let (scheme, rest) = split_once_byte(s, b':')?;
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_after_scheme(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_after_scheme(rest).map(Uri::Tel)
        } else {
            AbsoluteUri::parse(s).map(Uri::Absolute)
        }
    }

    /// The scheme: `sip`, `sips`, `tel` or the absolute URI's own.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) => u.scheme(),
            Uri::Tel(_) => "tel",
            Uri::Absolute(a) => a.scheme(),
        }
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The tel URI, when this is one.
    pub fn as_tel(&self) -> Option<&TelUri> {
        match self {
            Uri::Tel(u) => Some(u),
            _ => None,
        }
    }

    /// RFC 3261 §19.1.4 for SIP URIs; other schemes compare case-insensitively as text.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (a, b) => a.to_string().eq_ignore_ascii_case(&b.to_string()),
        }
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Uri {
        Uri::Sip(u)
    }
}

impl From<TelUri> for Uri {
    fn from(u: TelUri) -> Uri {
        Uri::Tel(u)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Absolute(u) => u.fmt(f),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = super::error::ParseError;

    fn from_str(s: &str) -> Result<Uri, Self::Err> {
        Uri::parse(s)
            .ok_or_else(|| super::error::ParseError::new(super::error::ParseErrorKind::InvalidUri))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn schemes_dispatch_to_their_types() {
        assert!(matches!(Uri::parse("sip:a@b"), Some(Uri::Sip(_))));
        assert!(matches!(Uri::parse("SIPS:a@b"), Some(Uri::Sip(u)) if u.is_secure()));
        assert!(matches!(Uri::parse("tel:+123"), Some(Uri::Tel(_))));
        let a = Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(a.scheme(), "nobodyKnowsThisScheme");
        assert!(matches!(
            Uri::parse("soap.beep://192.0.2.103:3002"),
            Some(Uri::Absolute(_))
        ));
    }

    #[test]
    fn angle_brackets_and_spaces_are_not_uris() {
        assert!(Uri::parse("<sip:user@example.com>").is_none());
        assert!(Uri::parse("sip:user@example.com; lr").is_none());
        assert!(Uri::parse("no-colon").is_none());
    }
}
