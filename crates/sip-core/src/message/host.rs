//! Hosts in SIP URIs and Via sent-by: domain names, IPv4 and bracketed IPv6 (RFC 5118).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: domain name, IPv4 address or IPv6 address (written `[..]` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name as written (compare with [`Host::equivalent`], case-insensitive).
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address.
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host: `[IPv6]`, dotted IPv4 or a domain name. A bare IPv6 address without
    /// brackets is rejected (RFC 5118 §4.2).
    pub fn parse(s: &str) -> Option<Host> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']')?;
            return inner.parse::<Ipv6Addr>().ok().map(Host::Ipv6);
        }
        if s.is_empty() {
            return None;
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && s.split('.').count() == 4 {
            return s.parse::<Ipv4Addr>().ok().map(Host::Ipv4);
        }
        let valid = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        valid.then(|| Host::Domain(s.to_owned()))
    }

    /// The address when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// RFC 3261 §19.1.4: hosts compare case-insensitively; IP literals by value.
    pub fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Host {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Splits `host[:port]`, honouring IPv6 brackets (RFC 5118 §4.3/§4.4). `None` when the host
/// or port is malformed.
pub(crate) fn parse_host_port(s: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']')?;
        let rest = &s[close + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':')?)
        };
        (&s[..=close], port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = match port {
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
                return None;
            }
            Some(p.parse::<u16>().ok()?)
        }
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn bracketed_ipv6_with_trailing_group_is_an_address_not_a_port() {
        let (h, p) = parse_host_port("[2001:db8::10:5070]").unwrap();
        assert_eq!(h, Host::Ipv6("2001:db8::10:5070".parse().unwrap()));
        assert_eq!(p, None);
    }

    #[test]
    fn bracketed_ipv6_with_port_splits() {
        let (h, p) = parse_host_port("[2001:db8::10]:5070").unwrap();
        assert_eq!(h.to_string(), "[2001:db8::10]");
        assert_eq!(p, Some(5070));
    }

    #[test]
    fn unbracketed_ipv6_is_rejected() {
        assert!(parse_host_port("2001:db8::10").is_none());
    }

    #[test]
    fn ipv4_and_domain_are_distinguished() {
        assert_eq!(
            Host::parse("192.0.2.1"),
            Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert!(matches!(Host::parse("Example.COM"), Some(Host::Domain(_))));
        assert!(
            Host::parse("Example.COM")
                .unwrap()
                .equivalent(&Host::parse("example.com").unwrap())
        );
        assert!(Host::parse("exa mple").is_none());
    }
}
