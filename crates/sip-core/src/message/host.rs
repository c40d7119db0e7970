//! Hosts in SIP URIs and Via sent-by: domain names, IPv4 and bracketed IPv6 (RFC 5118).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::syntax::split_once_byte;

const DIGIT: u8 = 1;
const DOT: u8 = 2;
const NAME: u8 = 4;
const INVALID: u8 = 8;

/// The class bit of each byte in a host: digits and dots can make an IPv4 address; letters,
/// `-` and `_` only a domain name.
const HOST_BYTE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c == b'.' {
            DOT
        } else if c.is_ascii_alphabetic() || c == b'-' || c == b'_' {
            NAME
        } else {
            INVALID
        };
        b += 1;
    }
    table
};

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
        // One pass: a dotted quad of digits is an IPv4 address (or nothing), anything else
        // must be a domain name.
        let mut seen = 0;
        let mut dots = 0;
        for &b in s.as_bytes() {
            let class = HOST_BYTE[usize::from(b)];
            seen |= class;
            dots += usize::from(class == DOT);
        }
        if seen & INVALID != 0 {
            return None;
        }
        if seen & NAME == 0 && dots == 3 {
            return parse_dotted_quad(s).map(Host::Ipv4);
        }
        Some(Host::Domain(s.to_owned()))
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

/// Four `.`-separated decimal octets of digits only, as `Ipv4Addr::from_str` reads them:
/// one to three digits, no leading zero, at most 255.
fn parse_dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut filled = 0;
    let mut value: u16 = 0;
    let mut digits = 0;
    let mut leading_zero = false;
    for &b in s.as_bytes() {
        if b == b'.' {
            let slot = octets.get_mut(filled)?;
            if digits == 0 {
                return None;
            }
            *slot = u8::try_from(value).ok()?;
            filled += 1;
            (value, digits) = (0, 0);
            continue;
        }
        if !b.is_ascii_digit() || digits == 3 || (leading_zero && digits == 1) {
            return None;
        }
        leading_zero = digits == 0 && b == b'0';
        value = value * 10 + u16::from(b - b'0');
        digits += 1;
    }
    if filled != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
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
        match split_once_byte(s, b':') {
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
            let n = p
                .bytes()
                .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
            Some(u16::try_from(n).ok()?)
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
    fn dotted_quads_read_like_the_standard_parser() {
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.04",
            "1..2.3",
            "1.2.3.",
            ".1.2.3",
            "1234.1.1.1",
            "10.0.0.1",
            "00.0.0.0",
            "1.2.3.4.5",
            "0.1.2.3",
            "1.2.3.0",
            "1.2.3.00",
            "192.0.2.10",
            "1.2.3.4.",
            "",
        ] {
            assert_eq!(parse_dotted_quad(s), s.parse::<Ipv4Addr>().ok(), "{s}");
        }
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
