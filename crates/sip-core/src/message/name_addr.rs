//! `name-addr` / `addr-spec` values of From, To, Route, Record-Route and Contact
//! (RFC 3261 §20.10, §25.1), with header parameters such as `tag`.

use std::fmt;

use super::params::Params;
use super::syntax::{
    find_byte, is_token_byte, is_ws, quote, quoted_len, trim_ws, trim_ws_start, unquote,
};
use super::uri::Uri;

/// An address with optional display name and header parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped.
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters after the address (`;tag=...`, `;expires=...`).
    pub params: Params,
}

impl NameAddr {
    /// An address without display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display_name: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses `[display-name] <URI> *(;param)` or `addr-spec *(;param)`.
    ///
    /// Without `<>`, the URI ends at the first `;` or whitespace and must not contain `?`
    /// or `,` (RFC 3261 §20: those would be ambiguous; RFC 4475 §3.1.2.13).
    pub fn parse(s: &str) -> Option<NameAddr> {
        let s = trim_ws(s);
        let b = s.as_bytes();
        let (display_name, after_name) = if b.first() == Some(&b'"') {
            let len = quoted_len(b)?;
            let rest = trim_ws_start(&s[len..]);
            if !rest.starts_with('<') {
                return None;
            }
            (Some(unquote(&s[..len])), rest)
        } else if let Some(lt) = find_byte(b, b'<') {
            let name = trim_ws(&s[..lt]);
            if !name.bytes().all(|c| is_token_byte(c) || is_ws(c)) {
                return None;
            }
            let name = (!name.is_empty()).then(|| name.to_owned());
            (name, &s[lt..])
        } else {
            let end = b
                .iter()
                .position(|&c| c == b';' || is_ws(c))
                .unwrap_or(s.len());
            let uri_text = &s[..end];
            if uri_text.bytes().any(|c| c == b'?' || c == b',') {
                return None;
            }
            let uri = Uri::parse(uri_text)?;
            let params = Params::parse_header_params(&s[end..])?;
            return Some(NameAddr {
                display_name: None,
                uri,
                params,
            });
        };
        let inner_and_rest = after_name.strip_prefix('<')?;
        let gt = find_byte(inner_and_rest.as_bytes(), b'>')?;
        let uri = Uri::parse(&inner_and_rest[..gt])?;
        let params = Params::parse_header_params(&inner_and_rest[gt + 1..])?;
        Some(NameAddr {
            display_name,
            uri,
            params,
        })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag.to_owned()));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "{} ", quote(name))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn quoted_display_name_with_escapes_is_unescaped() {
        let n = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(n.display_name.as_deref(), Some(r#"J Rosenberg \""#));
        assert_eq!(n.tag(), Some("98asjd8"));
    }

    #[test]
    fn no_space_before_angle_bracket_is_accepted() {
        let n = NameAddr::parse(r#"caller<sip:caller@example.com>;tag=323"#).unwrap();
        assert_eq!(n.display_name.as_deref(), Some("caller"));
        let q = NameAddr::parse(r#""caller"<sip:caller@example.com>"#).unwrap();
        assert_eq!(q.display_name.as_deref(), Some("caller"));
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.as_sip().unwrap().params().is_empty());
        let m = NameAddr::parse("<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(m.params.is_empty());
        assert!(m.uri.as_sip().unwrap().params().contains("unknownparam"));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        assert!(NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#).is_none());
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_none());
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_none());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_none());
    }

    #[test]
    fn display_round_trips() {
        let n = NameAddr::parse(r#""A \"B\"" <sip:a@b;lr>;tag=1"#).unwrap();
        assert_eq!(NameAddr::parse(&n.to_string()).unwrap(), n);
    }
}
