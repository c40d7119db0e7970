//! The Via header value (RFC 3261 §20.42, §18.2.1) with RFC 3581 `rport` and RFC 5118 IPv6.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use super::host::{Host, parse_host_port};
use super::params::Params;
use super::syntax::{
    find_byte, is_token, is_ws, parse_u32, split_once_byte, split_top_level, trim_ws, trim_ws_start,
};

/// The RFC 3261 §8.1.1.7 magic cookie that starts every RFC 3261 branch.
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value (`via-parm`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    protocol: Cow<'static, str>,
    version: Cow<'static, str>,
    transport: Cow<'static, str>,
    host: Host,
    port: Option<u16>,
    params: Params,
}

/// The RFC 3581 `rport` parameter of a Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    /// No `rport` parameter.
    Absent,
    /// `rport` without a value: the client asks for symmetric response routing.
    Requested,
    /// `rport=PORT`, filled in by the server.
    Value(u16),
}

impl Via {
    /// A `SIP/2.0/<transport>` Via for `host[:port]` with the given branch.
    pub fn new(transport: &str, host: Host, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::new();
        params.set("branch", Some(branch.to_owned()));
        Via {
            protocol: Cow::Borrowed("SIP"),
            version: Cow::Borrowed("2.0"),
            transport: shared(&transport.to_ascii_uppercase()),
            host,
            port,
            params,
        }
    }

    /// Parses one `via-parm`. RFC 3261 §7.3.1/§25.1: LWS may surround `/`, `;` and `=`.
    pub fn parse(s: &str) -> Option<Via> {
        let (protocol, rest) = split_once_byte(s, b'/')?;
        let (version, rest) = split_once_byte(rest, b'/')?;
        let protocol = trim_ws(protocol);
        let version = trim_ws(version);
        if !is_token(protocol) || !is_token(version) {
            return None;
        }
        let rest = trim_ws_start(rest);
        let transport_end = rest.bytes().position(is_ws).unwrap_or(rest.len());
        let (transport, rest) = rest.split_at(transport_end);
        if !is_token(transport) {
            return None;
        }
        let params_start = find_byte(rest.as_bytes(), b';').unwrap_or(rest.len());
        let sent_by = sent_by_without_ws(trim_ws(&rest[..params_start]))?;
        let (host, port) = parse_host_port(&sent_by)?;
        let params = Params::parse_header_params(&rest[params_start..])?;
        Some(Via {
            protocol: shared(protocol),
            version: shared(version),
            transport: shared(transport),
            host,
            port,
            params,
        })
    }

    /// Parses a comma-separated list of Via values from one header line.
    pub fn parse_list(s: &str) -> Option<Vec<Via>> {
        split_top_level(s, b',')?
            .into_iter()
            .map(|part| Via::parse(trim_ws(part)))
            .collect()
    }

    /// The protocol name and version, normally `("SIP", "2.0")`.
    pub fn protocol(&self) -> (&str, &str) {
        (&self.protocol, &self.version)
    }

    /// The transport token as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`...).
    pub fn transport(&self) -> &str {
        &self.transport
    }

    /// The sent-by host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The sent-by port, if explicit.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie and has an id after it.
    /// RFC 4475 §3.2.1: a bare `z9hG4bK` is treated as an RFC 2543 branch.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| {
            b.len() > BRANCH_MAGIC_COOKIE.len() && b.starts_with(BRANCH_MAGIC_COOKIE)
        })
    }

    /// The `received` parameter as written.
    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }

    /// The `received` address; accepts IPv6 with or without brackets (RFC 5118 §4.5).
    pub fn received_addr(&self) -> Option<IpAddr> {
        let r = self.received()?;
        let r = r
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(r);
        r.parse().ok()
    }

    /// The `rport` parameter (RFC 3581).
    pub fn rport(&self) -> Rport {
        match self.params.get("rport") {
            None => Rport::Absent,
            Some(p) => match p
                .value()
                .and_then(parse_u32)
                .and_then(|v| u16::try_from(v).ok())
            {
                Some(port) => Rport::Value(port),
                None => Rport::Requested,
            },
        }
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.value("maddr")
    }

    /// All parameters in wire order.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Mutable parameters.
    pub fn params_mut(&mut self) -> &mut Params {
        &mut self.params
    }

    /// Sets `received` (RFC 3261 §18.2.1). IPv6 is written without brackets, as the RFC 3261
    /// grammar has it (RFC 5118 §4.5 asks receivers to accept both).
    pub fn set_received(&mut self, addr: IpAddr) {
        self.params.set("received", Some(addr.to_string()));
    }

    /// Sets `rport=PORT` (RFC 3581 §4).
    pub fn set_rport(&mut self, port: u16) {
        self.params.set("rport", Some(port.to_string()));
    }

    /// `host[:port]` as written in sent-by.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{}", self.host, p),
            None => self.host.to_string(),
        }
    }
}

/// Shares the common protocol, version and transport tokens instead of allocating them.
fn shared(token: &str) -> Cow<'static, str> {
    Cow::Borrowed(match token {
        "SIP" => "SIP",
        "2.0" => "2.0",
        "UDP" => "UDP",
        "TCP" => "TCP",
        "TLS" => "TLS",
        "SCTP" => "SCTP",
        "WS" => "WS",
        "WSS" => "WSS",
        other => return Cow::Owned(other.to_owned()),
    })
}

/// RFC 3261 §25.1 `COLON = SWS ":" SWS`: whitespace is allowed only around the port colon.
fn sent_by_without_ws(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.bytes().any(is_ws) {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let (host, port) = s.rsplit_once(':')?;
    let (host, port) = (trim_ws(host), trim_ws(port));
    if host.bytes().any(is_ws) || port.bytes().any(is_ws) {
        return None;
    }
    Some(std::borrow::Cow::Owned(format!("{host}:{port}")))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn via_with_lws_everywhere_parses() {
        let v = Via::parse("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport(), "UDP");
        assert_eq!(v.host().to_string(), "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.is_rfc3261_branch());
    }

    #[test]
    fn two_values_on_one_line_are_both_kept() {
        let list = Via::parse_list(
            "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(list[1].host().to_string(), "192.168.255.111");
        assert_eq!(list[1].branch(), Some("z9hG4bK30239"));
    }

    #[test]
    fn empty_params_and_elements_are_rejected() {
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_none());
        assert!(Via::parse("SIP/2.0/UDP").is_none());
    }

    #[test]
    fn rport_has_three_states() {
        let v = Via::parse("SIP/2.0/UDP h;rport;branch=z9hG4bK1").unwrap();
        assert_eq!(v.rport(), Rport::Requested);
        let mut v2 = v.clone();
        v2.set_rport(5070);
        v2.set_received("192.0.2.9".parse().unwrap());
        assert_eq!(v2.rport(), Rport::Value(5070));
        assert_eq!(
            v2.to_string(),
            "SIP/2.0/UDP h;rport=5070;branch=z9hG4bK1;received=192.0.2.9"
        );
        assert_eq!(Via::parse("SIP/2.0/UDP h").unwrap().rport(), Rport::Absent);
    }

    #[test]
    fn received_accepts_ipv6_with_and_without_brackets() {
        let a =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKx")
                .unwrap();
        let b = Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKx")
            .unwrap();
        assert_eq!(a.received_addr(), b.received_addr());
        assert!(a.received_addr().is_some());
    }

    #[test]
    fn port_may_have_whitespace_around_colon() {
        let v = Via::parse("SIP/2.0/UDP host.example.com : 5070;branch=z9hG4bKx").unwrap();
        assert_eq!(v.port(), Some(5070));
    }
}
