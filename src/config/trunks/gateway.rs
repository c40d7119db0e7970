//! Gateway URIs of a trunk: `sip:host[:port][;transport=udp|tcp]`, host an IP literal or a
//! DNS name. The dialled number becomes the user part, so the URI has none.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use sip_core::message::{Host, SipUri};

use crate::config::Transport;
use crate::config::validate::is_host_name;

/// RFC 3261 §19.1.2: the default port of `sip:` over UDP and TCP.
pub const SIP_DEFAULT_PORT: u16 = 5060;

/// A validated gateway URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUri {
    text: String,
    host: Host,
    port: Option<u16>,
    transport: Option<Transport>,
}

impl GatewayUri {
    /// Parses and checks a gateway URI; the error is the reason, for
    /// `ConfigErrorKind::BadGatewayUri`.
    pub fn parse(s: &str) -> Result<GatewayUri, &'static str> {
        let scheme = s.split_once(':').map(|(scheme, _)| scheme);
        if scheme.is_some_and(|sc| sc.eq_ignore_ascii_case("sips")) {
            return Err("sips: is not supported (use sip:)");
        }
        if !scheme.is_some_and(|sc| sc.eq_ignore_ascii_case("sip")) {
            return Err("must start with sip:");
        }
        let uri = SipUri::parse(s).ok_or("not a valid SIP URI")?;
        if uri.user().is_some() {
            return Err("must have no user part (the dialled number goes there)");
        }
        if !uri.headers().is_empty() {
            return Err("must have no headers (?...)");
        }
        if uri.port() == Some(0) {
            return Err("port 0 is not a port");
        }
        if let Host::Domain(name) = uri.host()
            && !is_dns_name(name)
        {
            return Err("host is neither an IP address nor a DNS name");
        }
        let transport = match uri.transport_param() {
            None => None,
            Some(t) if t.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
            Some(t) if t.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
            Some(_) => return Err("transport must be udp or tcp"),
        };
        Ok(GatewayUri {
            text: s.to_owned(),
            host: uri.host().clone(),
            port: uri.port(),
            transport,
        })
    }

    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host (IPv6 displays in brackets).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The explicit port.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<Transport> {
        self.transport
    }

    /// The address when the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.ip()
    }

    /// The DNS name when the host is not an IP literal.
    pub fn dns_name(&self) -> Option<&str> {
        match &self.host {
            Host::Domain(d) => Some(d),
            _ => None,
        }
    }

    /// For an IP literal: the socket address (port default 5060, RFC 3263 §4.2).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.ip()
            .map(|ip| SocketAddr::new(ip, self.port.unwrap_or(SIP_DEFAULT_PORT)))
    }

    /// `host[:port]` as it goes into URIs built for this gateway.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }
}

impl fmt::Display for GatewayUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A DNS name a gateway may name (RFC 3261 §25.1 `hostname`).
pub(super) fn is_dns_name(s: &str) -> bool {
    is_host_name(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ip_literal_gateway_has_a_socket_address_with_default_port() {
        let g = GatewayUri::parse("sip:127.0.0.1").unwrap();
        assert_eq!(g.socket_addr(), Some("127.0.0.1:5060".parse().unwrap()));
        let g = GatewayUri::parse("sip:[::1]:5071;transport=udp").unwrap();
        assert_eq!(g.socket_addr(), Some("[::1]:5071".parse().unwrap()));
        assert_eq!(g.transport(), Some(Transport::Udp));
        assert_eq!(g.host_port(), "[::1]:5071");
    }

    #[test]
    fn dns_name_gateway_keeps_its_name_for_resolution() {
        let g = GatewayUri::parse("sip:sip.carrier.example;transport=tcp").unwrap();
        assert_eq!(g.dns_name(), Some("sip.carrier.example"));
        assert_eq!(g.socket_addr(), None);
        assert_eq!(g.transport(), Some(Transport::Tcp));
    }

    proptest::proptest! {
        #[test]
        fn gateway_uri_parser_never_panics(text in "(sips?:)?[a-z0-9.:\\[\\];=@?-]{0,60}") {
            let _ = GatewayUri::parse(&text);
        }
    }

    #[test]
    fn unusable_gateway_uris_are_refused_with_a_reason() {
        for bad in [
            "sips:a.example",
            "tel:+1555",
            "a.example",
            "sip:1000@a.example",
            "sip:a.example;transport=tls",
            "sip:a.example?x=y",
            "sip:a..example",
            "sip:127.0.0.1:0",
            "sip:-a.example",
        ] {
            assert!(GatewayUri::parse(bad).is_err(), "{bad}");
        }
    }
}
