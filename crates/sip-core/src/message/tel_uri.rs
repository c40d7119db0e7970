//! `tel:` URIs (RFC 3966): the subscriber number and its parameters.

use std::fmt;

use super::params::Params;
use super::syntax::escapes_well_formed;

/// A `tel:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelUri {
    number: String,
    params: Params,
}

impl TelUri {
    /// Parses the part after `tel:`.
    pub(crate) fn parse_after_scheme(rest: &str) -> Option<TelUri> {
        let (number, params_text) = match rest.find(';') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let digits = number.strip_prefix('+').unwrap_or(number);
        // RFC 3966 §3: phonedigit-hex / visual-separator; a global number starts with '+'.
        let valid = !digits.is_empty()
            && digits
                .bytes()
                .any(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
            && digits.bytes().all(|b| {
                b.is_ascii_hexdigit() || matches!(b, b'*' | b'#' | b'-' | b'.' | b'(' | b')')
            });
        if !valid || !escapes_well_formed(params_text) {
            return None;
        }
        Some(TelUri {
            number: number.to_owned(),
            params: Params::parse_uri_params(params_text)?,
        })
    }

    /// Parses a complete `tel:` URI.
    pub fn parse(s: &str) -> Option<TelUri> {
        let (scheme, rest) = s.split_once(':')?;
        if !scheme.eq_ignore_ascii_case("tel") {
            return None;
        }
        Self::parse_after_scheme(rest)
    }

    /// The number as written (visual separators kept).
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The number without visual separators (RFC 3966 §5.1.1), e.g. `+12015550123`.
    pub fn digits(&self) -> String {
        self.number
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
            .collect()
    }

    /// True for a global number (`+` prefix).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The URI parameters (`;phone-context=...`, `;ext=...`).
    pub fn params(&self) -> &Params {
        &self.params
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn global_number_with_separators_parses() {
        let t = TelUri::parse("tel:+1-201-555-0123;ext=12").unwrap();
        assert!(t.is_global());
        assert_eq!(t.digits(), "+12015550123");
        assert_eq!(t.params().value("ext"), Some("12"));
        assert_eq!(t.to_string(), "tel:+1-201-555-0123;ext=12");
    }

    #[test]
    fn empty_or_bad_number_is_rejected() {
        assert!(TelUri::parse("tel:").is_none());
        assert!(TelUri::parse("tel:abc xyz").is_none());
    }
}
