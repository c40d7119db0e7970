//! Listen addresses: `transport:ip:port` (`udp:127.0.0.1:5060`, `tcp:[::1]:5060`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A transport the switch can listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// SIP over UDP (RFC 3261 §18).
    Udp,
    /// SIP over TCP (RFC 3261 §18).
    Tcp,
}

impl Transport {
    /// The lower-case name used in config files (`udp`, `tcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }

    /// Whether the transport is reliable (RFC 3261 §17: timers differ on reliable transports).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address to listen on. A plain value: any transport and socket address is valid; port 0
/// asks the OS for a free port (useful in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenAddr {
    /// The transport.
    pub transport: Transport,
    /// The IP address and port to bind.
    pub addr: SocketAddr,
}

impl ListenAddr {
    /// Whether `self` and `other` cannot both be bound: same transport and port, and the same
    /// IP, or a wildcard (`0.0.0.0` / `::`) and any address of the same family. Port 0 never
    /// conflicts (the OS picks distinct ports).
    pub fn conflicts_with(&self, other: &ListenAddr) -> bool {
        if self.transport != other.transport
            || self.addr.port() != other.addr.port()
            || self.addr.port() == 0
        {
            return false;
        }
        let (a, b) = (self.addr.ip(), other.addr.ip());
        a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SocketAddr's Display brackets IPv6 addresses, which keeps the form parseable.
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

/// Why a listen address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenAddrError {
    /// No `transport:` prefix.
    #[error("expected transport:ip:port, e.g. udp:127.0.0.1:5060 or tcp:[::1]:5060")]
    MissingTransport,
    /// A transport other than udp or tcp.
    #[error("unsupported transport {0:?} (supported: udp, tcp)")]
    UnknownTransport(String),
    /// The part after the transport is not `ip:port` (IPv6 in brackets).
    #[error("expected ip:port after the transport, with IPv6 in brackets ([::1]:5060)")]
    BadSocketAddr,
}

impl FromStr for ListenAddr {
    type Err = ListenAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (transport, rest) = s.split_once(':').ok_or(ListenAddrError::MissingTransport)?;
        let transport = match transport.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "" => return Err(ListenAddrError::MissingTransport),
            other if other.parse::<std::net::IpAddr>().is_ok() || other.starts_with('[') => {
                return Err(ListenAddrError::MissingTransport);
            }
            other => return Err(ListenAddrError::UnknownTransport(other.to_owned())),
        };
        let addr = rest
            .parse::<SocketAddr>()
            .map_err(|_| ListenAddrError::BadSocketAddr)?;
        Ok(ListenAddr { transport, addr })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn la(s: &str) -> ListenAddr {
        s.parse().unwrap()
    }

    #[test]
    fn udp_and_tcp_with_ipv4_and_ipv6_parse_and_print_back() {
        for s in ["udp:127.0.0.1:5060", "tcp:[::1]:5061", "udp:0.0.0.0:0"] {
            assert_eq!(la(s).to_string(), s);
        }
        let a = la("TCP:[::1]:5061");
        assert_eq!(a.transport, Transport::Tcp);
        assert_eq!(a.addr, "[::1]:5061".parse().unwrap());
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        let cases = [
            ("127.0.0.1:5060", ListenAddrError::MissingTransport),
            ("5060", ListenAddrError::MissingTransport),
            ("[::1]:5060", ListenAddrError::MissingTransport),
            (
                "tls:127.0.0.1:5061",
                ListenAddrError::UnknownTransport("tls".into()),
            ),
            ("udp:127.0.0.1", ListenAddrError::BadSocketAddr),
            ("udp:::1:5060", ListenAddrError::BadSocketAddr),
            ("udp:localhost:5060", ListenAddrError::BadSocketAddr),
            ("udp:127.0.0.1:70000", ListenAddrError::BadSocketAddr),
        ];
        for (s, want) in cases {
            assert_eq!(s.parse::<ListenAddr>(), Err(want), "{s}");
        }
    }

    #[test]
    fn wildcard_overlaps_specific_address_of_same_family_transport_and_port() {
        assert!(la("udp:0.0.0.0:5060").conflicts_with(&la("udp:127.0.0.1:5060")));
        assert!(la("udp:127.0.0.1:5060").conflicts_with(&la("udp:127.0.0.1:5060")));
        assert!(!la("udp:0.0.0.0:5060").conflicts_with(&la("tcp:127.0.0.1:5060")));
        assert!(!la("udp:0.0.0.0:5060").conflicts_with(&la("udp:[::1]:5060")));
        assert!(!la("udp:127.0.0.1:5060").conflicts_with(&la("udp:127.0.0.2:5060")));
        assert!(!la("udp:127.0.0.1:0").conflicts_with(&la("udp:127.0.0.1:0")));
    }
}
