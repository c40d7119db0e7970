//! `sip:` and `sips:` URIs (RFC 3261 §19.1): parsing, display and §19.1.4 comparison.
//!
//! User, password, parameters and headers are kept as written (escaped); comparisons decode
//! `%HH` escapes where the RFC says so.

use std::fmt;

use super::host::{Host, parse_host_port};
use super::params::Params;
use super::short_text::ShortText;
use super::syntax::{escapes_well_formed, find_byte, split_once_byte, unescape};

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    secure: bool,
    user: Option<ShortText>,
    password: Option<String>,
    host: Host,
    port: Option<u16>,
    params: Params,
    headers: Vec<(String, String)>,
}

impl SipUri {
    /// A `sip:` URI for `host` with no user, port, parameters or headers.
    pub fn new(host: Host) -> SipUri {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Parses a complete `sip:`/`sips:` URI (scheme case-insensitive).
    pub fn parse(s: &str) -> Option<SipUri> {
        let (scheme, rest) = s.split_once(':')?;
        let secure = if scheme.eq_ignore_ascii_case("sip") {
            false
        } else if scheme.eq_ignore_ascii_case("sips") {
            true
        } else {
            return None;
        };
        Self::parse_after_scheme(secure, rest)
    }

    pub(crate) fn parse_after_scheme(secure: bool, rest: &str) -> Option<SipUri> {
        let (userinfo, hostpart) = match split_once_byte(rest, b'@') {
            Some((ui, host)) => (Some(ui), host),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(ui) => {
                let (u, p) = match split_once_byte(ui, b':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() || !u.bytes().all(is_user_byte) || !escapes_well_formed(u) {
                    return None;
                }
                if let Some(p) = p
                    && (!p.bytes().all(is_password_byte) || !escapes_well_formed(p))
                {
                    return None;
                }
                (Some(ShortText::new(u)), p.map(str::to_owned))
            }
            None => (None, None),
        };
        let (before_headers, headers_text) = match split_once_byte(hostpart, b'?') {
            Some((a, h)) => (a, Some(h)),
            None => (hostpart, None),
        };
        let (hostport, params_text) = match find_byte(before_headers.as_bytes(), b';') {
            Some(i) => before_headers.split_at(i),
            None => (before_headers, ""),
        };
        let (host, port) = parse_host_port(hostport)?;
        if !escapes_well_formed(params_text) {
            return None;
        }
        let params = Params::parse_uri_params(params_text)?;
        let mut headers = Vec::new();
        if let Some(h) = headers_text {
            if !escapes_well_formed(h) {
                return None;
            }
            for pair in h.split('&') {
                let (n, v) = pair.split_once('=')?;
                if n.is_empty() || !n.bytes().all(is_header_byte) || !v.bytes().all(is_header_byte)
                {
                    return None;
                }
                headers.push((n.to_owned(), v.to_owned()));
            }
        }
        Some(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// `"sip"` or `"sips"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "sips" } else { "sip" }
    }

    /// True for `sips:`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Makes this a `sips:` (true) or `sip:` (false) URI.
    pub fn set_secure(&mut self, secure: bool) {
        self.secure = secure;
    }

    /// The user part as written (still `%`-escaped).
    pub fn user(&self) -> Option<&str> {
        self.user.as_ref().map(ShortText::as_str)
    }

    /// The user part with `%HH` escapes decoded (may contain NUL, RFC 4475 §3.1.1.4).
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user().map(unescape)
    }

    /// Sets the user part; `user` must already be escaped as needed.
    pub fn set_user(&mut self, user: Option<String>) {
        self.user = user.map(ShortText::from_string);
    }

    /// The password as written, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Replaces the host.
    pub fn set_host(&mut self, host: Host) {
        self.host = host;
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Sets or clears the explicit port.
    pub fn set_port(&mut self, port: Option<u16>) {
        self.port = port;
    }

    /// URI parameters (`;name=value`).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Mutable URI parameters.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// URI headers (`?name=value&...`), escaped as written.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Removes all URI headers (RFC 3261 §19.1.5: not allowed in a Request-URI).
    pub fn clear_headers(&mut self) {
        self.headers.clear();
    }

    /// The `transport` URI parameter, if any.
    pub fn transport_param(&self) -> Option<&str> {
        self.params.value("transport")
    }

    /// True when the `lr` parameter is present (RFC 3261 §19.1.1 loose routing).
    pub fn is_loose_route(&self) -> bool {
        self.params.contains("lr")
    }

    /// The address-of-record form `scheme:user@host` (RFC 3261 §10.3): no port, parameters or
    /// headers; host lowercased; user with escapes decoded and re-encoded canonically.
    pub fn address_of_record(&self) -> String {
        let host = match &self.host {
            Host::Domain(d) => d.to_ascii_lowercase(),
            other => other.to_string(),
        };
        match self.user_unescaped() {
            Some(u) => format!("{}:{}@{}", self.scheme(), escape_user(&u), host),
            None => format!("{}:{}", self.scheme(), host),
        }
    }

    /// RFC 3261 §19.1.4 URI equality.
    pub fn equivalent(&self, other: &SipUri) -> bool {
        if self.secure != other.secure
            || self.user_unescaped() != other.user_unescaped()
            || self.password.as_deref().map(unescape) != other.password.as_deref().map(unescape)
            || !self.host.equivalent(&other.host)
            || self.port != other.port
        {
            return false;
        }
        // RFC 3261 §19.1.4: parameters present in both must match; user, ttl, method, maddr
        // and transport must match even when present in only one.
        for p in self.params.iter() {
            let name = unescape(p.name());
            let name = String::from_utf8_lossy(&name);
            match other.params.get(&name) {
                Some(q) if !values_match(p.value(), q.value()) => return false,
                Some(_) => {}
                None if is_significant_param(&name) => return false,
                None => {}
            }
        }
        for q in other.params.iter() {
            let name = unescape(q.name());
            let name = String::from_utf8_lossy(&name);
            if is_significant_param(&name) && !self.params.contains(&name) {
                return false;
            }
        }
        // RFC 3261 §19.1.4: header components must all be present and equal.
        if self.headers.len() != other.headers.len() {
            return false;
        }
        self.headers.iter().all(|(n, v)| {
            other.headers.iter().any(|(n2, v2)| {
                unescape(n).eq_ignore_ascii_case(&unescape(n2)) && unescape(v) == unescape(v2)
            })
        })
    }
}

fn values_match(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => unescape(a).eq_ignore_ascii_case(&unescape(b)),
        (None, None) => true,
        _ => false,
    }
}

fn is_significant_param(name: &str) -> bool {
    ["user", "ttl", "method", "maddr", "transport"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

fn escape_user(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if is_user_byte(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 3261 §25.1 unreserved.
pub(crate) const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// [`user_byte_class`] for every byte value: user parts are checked byte by byte.
const USER_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = user_byte_class(i as u8);
        i += 1;
    }
    table
};

/// RFC 3261 §25.1 `user` characters (plus `%` for escapes).
fn is_user_byte(b: u8) -> bool {
    USER_BYTES[usize::from(b)]
}

const fn user_byte_class(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
}

fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())?;
        f.write_str(":")?;
        if let Some(u) = self.user() {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn full_sip_uri_parses_every_component() {
        let u = SipUri::parse("sips:alice:pw@Example.com:5061;transport=tcp;lr?subject=hi&x=y")
            .unwrap();
        assert!(u.is_secure());
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.transport_param(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers().len(), 2);
        assert_eq!(
            u.to_string(),
            "sips:alice:pw@Example.com:5061;transport=tcp;lr?subject=hi&x=y"
        );
    }

    #[test]
    fn user_part_may_hold_semicolons() {
        let u = SipUri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), &Host::Domain("example.com".into()));
    }

    #[test]
    fn escaped_and_unescaped_users_are_equivalent() {
        let a = SipUri::parse("sip:%75se%72@example.com").unwrap();
        let b = SipUri::parse("sip:user@EXAMPLE.com").unwrap();
        assert!(a.equivalent(&b));
    }

    #[test]
    fn rfc3261_comparison_examples_hold() {
        let eq = |a: &str, b: &str| {
            SipUri::parse(a)
                .unwrap()
                .equivalent(&SipUri::parse(b).unwrap())
        };
        assert!(eq(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        assert!(eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5"
        ));
        assert!(!eq("sip:alice@atlanta.com", "sip:ALICE@atlanta.com"));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq(
            "sip:bob@biloxi.com",
            "sip:bob@biloxi.com;transport=udp"
        ));
        assert!(!eq(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eq(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com?Subject=next%20meeting"
        ));
    }

    #[test]
    fn escaped_nul_users_stay_distinct() {
        let a = SipUri::parse("sip:%00@host5.example.com").unwrap();
        let b = SipUri::parse("sip:%00%00@host5.example.com").unwrap();
        assert!(!a.equivalent(&b));
        assert_eq!(a.user_unescaped().unwrap(), vec![0]);
        assert_eq!(a.address_of_record(), "sip:%00@host5.example.com");
    }

    #[test]
    fn malformed_uris_are_rejected() {
        assert!(SipUri::parse("sip:user@exa mple.com").is_none());
        assert!(SipUri::parse("sip:user@2001:db8::10").is_none());
        assert!(SipUri::parse("sip:us%4@example.com").is_none());
        assert!(SipUri::parse("sip:user@example.com;;lr").is_none());
        assert!(SipUri::parse("http://example.com").is_none());
    }
}
