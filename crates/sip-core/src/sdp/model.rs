//! SDP data model (RFC 8866 §5): session and media descriptions with typed accessors.
//!
//! Pure: no I/O. Attributes are kept as an ordered list so unknown ones survive a round trip;
//! the typed views (`rtpmap`, `direction`, `rtcp`…) read from that list.

use std::fmt;
use std::net::IpAddr;

/// Address type of an `o=` or `c=` line (RFC 8866 §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddrType {
    /// The token as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }

    /// The address type that matches an IP address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => AddrType::Ip4,
            IpAddr::V6(_) => AddrType::Ip6,
        }
    }
}

/// The `o=` line (RFC 8866 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// User name, `-` when the host has no notion of users.
    pub username: String,
    /// Numeric session id, kept as text (it may exceed 64 bits in the wild).
    pub session_id: String,
    /// Session version; RFC 3264 §8 increments it on each new offer or answer.
    pub session_version: u64,
    /// Address type of the originating host.
    pub addr_type: AddrType,
    /// Address (IP literal or FQDN) of the originating host.
    pub address: String,
}

/// A `c=` line (RFC 8866 §5.7); network type is always `IN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Address type.
    pub addr_type: AddrType,
    /// Address, IP literal or FQDN, without the `/ttl/count` suffix.
    pub address: String,
    /// IPv4 multicast TTL (`/ttl`).
    pub ttl: Option<u32>,
    /// Number of multicast addresses (`/count`).
    pub count: Option<u32>,
}

impl Connection {
    /// A unicast connection for an IP address.
    pub fn from_ip(ip: IpAddr) -> Self {
        Connection {
            addr_type: AddrType::of(ip),
            address: ip.to_string(),
            ttl: None,
            count: None,
        }
    }

    /// The address as an IP, when it is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// RFC 3264 §8.4 (legacy RFC 2543 hold): `c=IN IP4 0.0.0.0`.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

/// A `b=` line (RFC 8866 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// Modifier such as `AS`, `CT`, `TIAS`.
    pub modifier: String,
    /// Bandwidth value.
    pub value: u64,
}

/// A `t=` line with its `r=` lines (RFC 8866 §5.9, §5.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Start time (NTP seconds), 0 for unbounded.
    pub start: u64,
    /// Stop time (NTP seconds), 0 for unbounded.
    pub stop: u64,
    /// Raw `r=` values following this `t=`.
    pub repeats: Vec<String>,
}

/// An `a=` line: a property attribute (`a=rtcp-mux`) or a value attribute (`a=ptime:20`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Value after the first `:`, absent for property attributes.
    pub value: Option<String>,
}

impl Attribute {
    /// A property attribute.
    pub fn property(name: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }

    /// A value attribute.
    pub fn value(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }
}

/// Media direction (RFC 8866 §6.7; RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name into a direction.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Builds a direction from send and receive flags.
    pub fn from_flags(sends: bool, receives: bool) -> Self {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// A parsed `a=rtpmap` value (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name (`PCMU`, `opus`, `telephone-event`).
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channel count (encoding parameters), absent means one.
    pub channels: Option<u32>,
}

impl fmt::Display for RtpMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding, self.clock_rate
        )?;
        if let Some(ch) = self.channels {
            write!(f, "/{ch}")?;
        }
        Ok(())
    }
}

/// A parsed `a=rtcp` value (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// Optional connection address for RTCP.
    pub connection: Option<Connection>,
}

impl fmt::Display for Rtcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = &self.connection {
            write!(f, " IN {} {}", c.addr_type.as_str(), c.address)?;
        }
        Ok(())
    }
}

/// A media description: an `m=` line and the lines that follow it (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type (`audio`, `video`, `application`…).
    pub media: String,
    /// Transport port; 0 marks a rejected or disabled stream (RFC 3264 §6).
    pub port: u16,
    /// Number of ports (`/<n>`), if given.
    pub port_count: Option<u32>,
    /// Transport protocol (`RTP/AVP`, `RTP/SAVPF`…).
    pub proto: String,
    /// Media formats (payload types for RTP), in preference order.
    pub formats: Vec<String>,
    /// `i=` line.
    pub info: Option<String>,
    /// `c=` lines (more than one only for multicast).
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` line.
    pub key: Option<String>,
    /// `a=` lines in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// First value of the named attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_value(&self.attributes, name)
    }

    /// Whether the named property or value attribute is present.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a.name == name)
    }

    /// All `a=rtpmap` lines that parse, in order.
    pub fn rtpmaps(&self) -> Vec<RtpMap> {
        self.attributes
            .iter()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| a.value.as_deref())
            .filter_map(|v| crate::sdp::parse::parse_rtpmap(v).ok())
            .collect()
    }

    /// The rtpmap for a payload type, falling back to the RFC 3551 static table.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap> {
        self.rtpmaps()
            .into_iter()
            .find(|m| m.payload_type == payload_type)
            .or_else(|| static_rtpmap(payload_type))
    }

    /// The `a=fmtp` parameters for a payload type.
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name == "fmtp")
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (pt, params) = v.split_once(' ').unwrap_or((v, ""));
                (pt.parse::<u8>().ok() == Some(payload_type)).then_some(params)
            })
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime").and_then(|v| v.trim().parse().ok())
    }

    /// `a=maxptime` in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attribute("maxptime")
            .and_then(|v| v.trim().parse().ok())
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(&self) -> Option<&str> {
        self.attribute("mid")
    }

    /// Whether `a=rtcp-mux` (RFC 5761) is present.
    pub fn rtcp_mux(&self) -> bool {
        self.has_attribute("rtcp-mux")
    }

    /// `a=rtcp` (RFC 3605), if present and well formed.
    pub fn rtcp(&self) -> Option<Rtcp> {
        self.attribute("rtcp")
            .and_then(|v| crate::sdp::parse::parse_rtcp(v).ok())
    }

    /// The direction attribute at media level, if any.
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// RFC 8866 §6.7: the media-level direction overrides the session-level one.
    pub fn direction(&self, session: &SessionDescription) -> Direction {
        self.direction_attribute()
            .or_else(|| session.direction_attribute())
            .unwrap_or(Direction::SendRecv)
    }

    /// The connection in effect: media-level first, else session-level.
    pub fn effective_connection<'a>(
        &'a self,
        session: &'a SessionDescription,
    ) -> Option<&'a Connection> {
        self.connections.first().or(session.connection.as_ref())
    }

    /// Whether the stream is rejected or disabled (port 0, RFC 3264 §6).
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether the stream is on hold: `sendonly`/`inactive` (RFC 3264 §8.4), or the legacy
    /// RFC 2543 `c=0.0.0.0`.
    pub fn is_on_hold(&self, session: &SessionDescription) -> bool {
        matches!(
            self.direction(session),
            Direction::SendOnly | Direction::Inactive
        ) || self
            .effective_connection(session)
            .is_some_and(Connection::is_unspecified)
    }

    /// Replaces the media-level direction attribute.
    pub fn set_direction(&mut self, direction: Direction) {
        set_direction_in(&mut self.attributes, direction);
    }
}

/// A whole session description (RFC 8866 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` line.
    pub origin: Origin,
    /// `s=` line (may be a single space or empty in the wild).
    pub session_name: String,
    /// `i=` line.
    pub info: Option<String>,
    /// `u=` line.
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=` line.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` lines; at least one.
    pub timings: Vec<Timing>,
    /// `z=` line.
    pub zone: Option<String>,
    /// `k=` line.
    pub key: Option<String>,
    /// Session-level `a=` lines in order.
    pub attributes: Vec<Attribute>,
    /// Media descriptions in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// First value of the named session-level attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_value(&self.attributes, name)
    }

    /// The session-level direction attribute, if any.
    pub fn direction_attribute(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// Whether every active stream is on hold (and there is at least one).
    pub fn is_on_hold(&self) -> bool {
        let mut active = self.media.iter().filter(|m| !m.is_rejected()).peekable();
        active.peek().is_some() && active.all(|m| m.is_on_hold(self))
    }
}

/// RFC 3551 §6 static payload types that may appear without `a=rtpmap`.
pub fn static_rtpmap(payload_type: u8) -> Option<RtpMap> {
    let (encoding, clock_rate) = match payload_type {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        18 => ("G729", 8000),
        _ => return None,
    };
    Some(RtpMap {
        payload_type,
        encoding: encoding.to_owned(),
        clock_rate,
        channels: None,
    })
}

fn find_value<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| a.value.as_deref())
}

fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::from_name(&a.name))
}

fn set_direction_in(attributes: &mut Vec<Attribute>, direction: Direction) {
    attributes.retain(|a| !(a.value.is_none() && Direction::from_name(&a.name).is_some()));
    attributes.push(Attribute::property(direction.as_str()));
}
