//! Typed accessors on [`Headers`]: each parses its header on access (lazily), so a message
//! costs nothing for headers nobody reads.

use super::contact::ContactList;
use super::cseq::CSeq;
use super::error::{ParseError, ParseErrorKind};
use super::header_name::HeaderName;
use super::headers::{HeaderValue, Headers};
use super::method::Method;
use super::name_addr::NameAddr;
use super::syntax::{find_byte, find_top_level, is_token, parse_u32, split_top_level, trim_ws};
use super::via::Via;

fn invalid(name: HeaderName) -> ParseError {
    ParseError::new(ParseErrorKind::InvalidHeader(name))
}

fn missing(name: HeaderName) -> ParseError {
    ParseError::new(ParseErrorKind::MissingHeader(name))
}

fn value_text(value: &HeaderValue, name: HeaderName) -> Result<&str, ParseError> {
    value.to_str().map_err(|_| invalid(name))
}

impl Headers {
    fn first_text(&self, name: HeaderName) -> Result<Option<&str>, ParseError> {
        match self.get(&name) {
            Some(v) => value_text(v, name).map(Some),
            None => Ok(None),
        }
    }

    fn required_text(&self, name: HeaderName) -> Result<&str, ParseError> {
        self.first_text(name.clone())?.ok_or_else(|| missing(name))
    }

    /// Every Via value in order, across header lines and commas (RFC 3261 §7.3.1).
    pub fn via(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::new();
        for value in self.get_all(HeaderName::Via) {
            let text = value_text(value, HeaderName::Via)?;
            out.extend(Via::parse_list(text).ok_or_else(|| invalid(HeaderName::Via))?);
        }
        Ok(out)
    }

    /// The first Via value (the top of the stack).
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let text = self.required_text(HeaderName::Via)?;
        // Most Via lines hold one value: only look for a top-level comma when there is a comma.
        let has_comma = find_byte(text.as_bytes(), b',').is_some();
        let first = match has_comma.then(|| find_top_level(text, b',')).flatten() {
            Some(i) => &text[..i],
            None => text,
        };
        Via::parse(trim_ws(first)).ok_or_else(|| invalid(HeaderName::Via))
    }

    /// The From address.
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        let text = self.required_text(HeaderName::From)?;
        NameAddr::parse(text).ok_or_else(|| invalid(HeaderName::From))
    }

    /// The To address.
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        let text = self.required_text(HeaderName::To)?;
        NameAddr::parse(text).ok_or_else(|| invalid(HeaderName::To))
    }

    /// The Call-ID (RFC 3261 §20.8: `word ["@" word]`, no whitespace).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        let text = self.required_text(HeaderName::CallId)?;
        // SP, HT and the controls are the bytes up to SP, plus DEL.
        if text.is_empty() || text.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid(HeaderName::CallId));
        }
        Ok(text)
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        let text = self.required_text(HeaderName::CSeq)?;
        CSeq::parse(text).ok_or_else(|| invalid(HeaderName::CSeq))
    }

    /// Max-Forwards; `Ok(None)` when absent (RFC 2543 peers omit it, RFC 4475 §3.4.1).
    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        match self.first_text(HeaderName::MaxForwards)? {
            Some(t) => parse_u32(t)
                .map(Some)
                .ok_or_else(|| invalid(HeaderName::MaxForwards)),
            None => Ok(None),
        }
    }

    /// All Contact values across header lines; `List(vec![])` when there is none.
    /// `*` must stand alone (RFC 3261 §10.2.2).
    pub fn contact(&self) -> Result<ContactList, ParseError> {
        let mut list = Vec::new();
        let mut star = false;
        for value in self.get_all(HeaderName::Contact) {
            let text = value_text(value, HeaderName::Contact)?;
            match ContactList::parse_line(text).ok_or_else(|| invalid(HeaderName::Contact))? {
                ContactList::Star => star = true,
                ContactList::List(v) => list.extend(v),
            }
        }
        match (star, list.is_empty()) {
            (true, true) => Ok(ContactList::Star),
            (true, false) => Err(invalid(HeaderName::Contact)),
            (false, _) => Ok(ContactList::List(list)),
        }
    }

    /// Expires in seconds; `None` when absent or malformed (RFC 3261 §20.19 lets a malformed
    /// value be treated as absent; the caller applies its default).
    pub fn expires(&self) -> Option<u32> {
        self.first_text(HeaderName::Expires)
            .ok()
            .flatten()
            .and_then(parse_u32)
    }

    /// Min-Expires in seconds, when present and valid.
    pub fn min_expires(&self) -> Option<u32> {
        self.first_text(HeaderName::MinExpires)
            .ok()
            .flatten()
            .and_then(parse_u32)
    }

    /// Content-Length; `Ok(None)` when absent.
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        match self.first_text(HeaderName::ContentLength)? {
            Some(t) => parse_content_length(t.as_bytes())
                .map(Some)
                .ok_or_else(|| ParseError::new(ParseErrorKind::InvalidContentLength)),
            None => Ok(None),
        }
    }

    /// Content-Type as written (`type/subtype;params`), when present.
    pub fn content_type(&self) -> Option<&str> {
        self.first_text(HeaderName::ContentType).ok().flatten()
    }

    /// Route values in order, across lines and commas.
    pub fn route(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addr_list(HeaderName::Route)
    }

    /// Record-Route values in order, across lines and commas.
    pub fn record_route(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addr_list(HeaderName::RecordRoute)
    }

    /// Path values (RFC 3327) in order.
    pub fn path(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.name_addr_list(HeaderName::Path)
    }

    fn name_addr_list(&self, name: HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        let mut out = Vec::new();
        for value in self.get_all(&name) {
            let text = value_text(value, name.clone())?;
            for part in split_top_level(text, b',').ok_or_else(|| invalid(name.clone()))? {
                out.push(NameAddr::parse(part).ok_or_else(|| invalid(name.clone()))?);
            }
        }
        Ok(out)
    }

    /// Allow: the listed methods.
    pub fn allow(&self) -> Result<Vec<Method>, ParseError> {
        Ok(self
            .token_list(HeaderName::Allow)?
            .into_iter()
            .map(Method::from_token)
            .collect())
    }

    /// Supported option tags.
    pub fn supported(&self) -> Result<Vec<&str>, ParseError> {
        self.token_list(HeaderName::Supported)
    }

    /// Require option tags.
    pub fn require(&self) -> Result<Vec<&str>, ParseError> {
        self.token_list(HeaderName::Require)
    }

    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> Result<Vec<&str>, ParseError> {
        self.token_list(HeaderName::ProxyRequire)
    }

    /// Unsupported option tags.
    pub fn unsupported(&self) -> Result<Vec<&str>, ParseError> {
        self.token_list(HeaderName::Unsupported)
    }

    fn token_list(&self, name: HeaderName) -> Result<Vec<&str>, ParseError> {
        let mut out = Vec::new();
        for value in self.get_all(&name) {
            let text = value_text(value, name.clone())?;
            if trim_ws(text).is_empty() {
                continue;
            }
            for part in text.split(',') {
                let tok = trim_ws(part);
                if !is_token(tok) {
                    return Err(invalid(name.clone()));
                }
                out.push(tok);
            }
        }
        Ok(out)
    }

    /// User-Agent as written.
    pub fn user_agent(&self) -> Option<&str> {
        self.first_text(HeaderName::UserAgent).ok().flatten()
    }

    /// Server as written.
    pub fn server(&self) -> Option<&str> {
        self.first_text(HeaderName::Server).ok().flatten()
    }

    /// Retry-After delta-seconds (RFC 3261 §20.33); comment and parameters are ignored.
    pub fn retry_after(&self) -> Result<Option<u32>, ParseError> {
        let Some(text) = self.first_text(HeaderName::RetryAfter)? else {
            return Ok(None);
        };
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let rest = trim_ws(&text[end..]);
        if !(rest.is_empty() || rest.starts_with(';') || rest.starts_with('(')) {
            return Err(invalid(HeaderName::RetryAfter));
        }
        parse_u32(&text[..end])
            .map(Some)
            .ok_or_else(|| invalid(HeaderName::RetryAfter))
    }

    /// Raw WWW-Authenticate values (the auth module parses them).
    pub fn www_authenticate(&self) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(HeaderName::WwwAuthenticate)
    }

    /// Raw Proxy-Authenticate values.
    pub fn proxy_authenticate(&self) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(HeaderName::ProxyAuthenticate)
    }

    /// Raw Authorization values.
    pub fn authorization(&self) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(HeaderName::Authorization)
    }

    /// Raw Proxy-Authorization values.
    pub fn proxy_authorization(&self) -> impl Iterator<Item = &HeaderValue> {
        self.get_all(HeaderName::ProxyAuthorization)
    }
}

/// `1*DIGIT` as a length; `None` for anything else (negative, empty, overflow).
pub(crate) fn parse_content_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > 12 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0usize, |acc, b| {
        acc.checked_mul(10)?.checked_add(usize::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::message::{ContactList, Method};

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in lines {
            h.push(HeaderName::parse(n).unwrap(), *v);
        }
        h
    }

    #[test]
    fn via_values_are_collected_across_lines_and_commas() {
        let h = headers(&[
            (
                "Via",
                "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5070;branch=z9hG4bK2",
            ),
            ("v", "SIP/2.0/TLS c;branch=z9hG4bK3"),
        ]);
        let hosts: Vec<String> = h.via().unwrap().iter().map(|v| v.sent_by()).collect();
        assert_eq!(hosts, ["a", "b:5070", "c"]);
        assert_eq!(h.top_via().unwrap().branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn missing_and_malformed_essentials_are_told_apart() {
        let h = headers(&[("CSeq", "x INVITE")]);
        assert_eq!(
            h.top_via().unwrap_err().kind(),
            &ParseErrorKind::MissingHeader(HeaderName::Via)
        );
        assert_eq!(
            h.cseq().unwrap_err().kind(),
            &ParseErrorKind::InvalidHeader(HeaderName::CSeq)
        );
    }

    #[test]
    fn call_id_with_whitespace_is_invalid() {
        assert!(headers(&[("i", "a b")]).call_id().is_err());
        assert_eq!(
            headers(&[("Call-ID", "f81d4fae@foo")]).call_id().unwrap(),
            "f81d4fae@foo"
        );
    }

    #[test]
    fn star_contact_must_stand_alone() {
        assert!(headers(&[("Contact", "*")]).contact().unwrap().is_star());
        assert!(
            headers(&[("Contact", "*"), ("m", "<sip:a@b>")])
                .contact()
                .is_err()
        );
        assert_eq!(headers(&[]).contact().unwrap(), ContactList::List(vec![]));
    }

    #[test]
    fn option_tags_and_allow_are_token_lists() {
        let h = headers(&[
            ("Allow", "INVITE, ACK ,BYE"),
            ("Allow", "FOO"),
            ("k", "100rel, timer"),
            ("Require", ""),
            ("Unsupported", "a b"),
        ]);
        assert_eq!(
            h.allow().unwrap(),
            vec![
                Method::Invite,
                Method::Ack,
                Method::Bye,
                Method::Extension("FOO".into())
            ]
        );
        assert_eq!(h.supported().unwrap(), ["100rel", "timer"]);
        assert!(h.require().unwrap().is_empty());
        assert!(h.unsupported().is_err());
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_comment_and_params() {
        assert_eq!(
            headers(&[("Retry-After", "18000;duration=3600")])
                .retry_after()
                .unwrap(),
            Some(18000)
        );
        assert_eq!(
            headers(&[("Retry-After", "120 (I'm in a meeting)")])
                .retry_after()
                .unwrap(),
            Some(120)
        );
        assert!(
            headers(&[("Retry-After", "949302838503028349304023988")])
                .retry_after()
                .is_err()
        );
        assert_eq!(headers(&[]).retry_after().unwrap(), None);
    }

    #[test]
    fn expires_overflow_reads_as_absent() {
        assert_eq!(headers(&[("Expires", "3600")]).expires(), Some(3600));
        assert_eq!(headers(&[("Expires", "100000000000")]).expires(), None);
        assert_eq!(headers(&[("Min-Expires", "60")]).min_expires(), Some(60));
    }

    #[test]
    fn route_sets_are_read_in_order() {
        let h = headers(&[
            (
                "Record-Route",
                "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            ),
            ("Record-Route", "<sip:p3.example.com;lr>"),
        ]);
        let rr = h.record_route().unwrap();
        assert_eq!(rr.len(), 3);
        assert!(rr.iter().all(|n| n.uri.as_sip().unwrap().is_loose_route()));
        assert!(h.route().unwrap().is_empty());
    }

    #[test]
    fn content_length_rejects_signs_and_garbage() {
        assert_eq!(headers(&[("l", "0")]).content_length().unwrap(), Some(0));
        assert!(headers(&[("l", "-1")]).content_length().is_err());
        assert!(headers(&[("l", "+1")]).content_length().is_err());
        assert_eq!(parse_content_length(b"99999999999999"), None);
    }

    #[test]
    fn auth_headers_are_available_raw() {
        let h = headers(&[
            ("WWW-Authenticate", "Digest realm=\"a\", nonce=\"n\""),
            ("Authorization", "Digest username=\"u\""),
            ("Proxy-Authorization", "Digest username=\"p\""),
        ]);
        assert_eq!(h.www_authenticate().count(), 1);
        assert_eq!(
            h.authorization().next().unwrap().as_bytes(),
            b"Digest username=\"u\""
        );
        assert_eq!(h.proxy_authorization().count(), 1);
        assert_eq!(h.proxy_authenticate().count(), 0);
    }
}
