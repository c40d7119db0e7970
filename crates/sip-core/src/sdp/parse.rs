//! SDP text parser (RFC 8866 §5): CRLF or bare LF lines into a `SessionDescription`.
//!
//! Pure: no I/O. Mandatory lines are checked strictly; unknown attributes are kept.

use super::error::SdpError;
use super::model::{
    AddrType, Attribute, Bandwidth, Connection, MediaDescription, Origin, Rtcp, RtpMap,
    SessionDescription, Timing,
};

impl SessionDescription {
    /// Parses a session description from bytes (a SIP body).
    pub fn parse_bytes(input: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(input).map_err(|_| SdpError::NotUtf8)?;
        Self::parse(text)
    }

    /// Parses a session description; accepts CRLF and bare LF line endings.
    pub fn parse(input: &str) -> Result<Self, SdpError> {
        let mut lines = input
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .enumerate()
            .map(|(i, l)| (i + 1, l))
            .filter(|(_, l)| !l.is_empty())
            .map(|(n, l)| split_line(n, l))
            .peekable();

        let (_, kind, value) = lines.next().ok_or(SdpError::Empty)??;
        if kind != 'v' {
            return Err(SdpError::MissingVersion);
        }
        if value.trim() != "0" {
            return Err(SdpError::UnsupportedVersion(value.to_owned()));
        }
        let origin = match lines.next().transpose()? {
            Some((n, 'o', v)) => parse_origin(n, v)?,
            _ => return Err(SdpError::MissingOrigin),
        };
        let session_name = match lines.next().transpose()? {
            Some((_, 's', v)) => v.to_owned(),
            _ => return Err(SdpError::MissingSessionName),
        };
        let mut sdp = SessionDescription {
            origin,
            session_name,
            info: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timings: Vec::new(),
            zone: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        };

        for line in lines {
            let (n, kind, value) = line?;
            if kind == 'm' {
                sdp.media.push(parse_media(n, value)?);
                continue;
            }
            if let Some(media) = sdp.media.last_mut() {
                parse_media_line(media, n, kind, value)?;
            } else {
                parse_session_line(&mut sdp, n, kind, value)?;
            }
        }

        if sdp.timings.is_empty() {
            return Err(SdpError::MissingTiming);
        }
        // RFC 8866 §5.7: every active stream needs a c= at session or media level.
        if let Some(index) = sdp
            .media
            .iter()
            .position(|m| m.port != 0 && m.connections.is_empty())
            .filter(|_| sdp.connection.is_none())
        {
            return Err(SdpError::MissingConnection { index });
        }
        Ok(sdp)
    }
}

fn split_line(n: usize, line: &str) -> Result<(usize, char, &str), SdpError> {
    let bytes = line.as_bytes();
    if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
        return Err(SdpError::InvalidLine { line: n });
    }
    Ok((n, char::from(bytes[0]), &line[2..]))
}

fn parse_session_line(
    sdp: &mut SessionDescription,
    n: usize,
    kind: char,
    value: &str,
) -> Result<(), SdpError> {
    let misplaced = SdpError::MisplacedLine { line: n, kind };
    match kind {
        'i' if sdp.info.is_none() => sdp.info = Some(value.to_owned()),
        'u' if sdp.uri.is_none() => sdp.uri = Some(value.to_owned()),
        'e' => sdp.emails.push(value.to_owned()),
        'p' => sdp.phones.push(value.to_owned()),
        'c' if sdp.connection.is_none() => sdp.connection = Some(parse_connection(n, value)?),
        'b' => sdp.bandwidths.push(parse_bandwidth(n, value)?),
        't' => sdp.timings.push(parse_timing(n, value)?),
        'r' => match sdp.timings.last_mut() {
            Some(t) => t.repeats.push(value.to_owned()),
            None => return Err(misplaced),
        },
        'z' if sdp.zone.is_none() => sdp.zone = Some(value.to_owned()),
        'k' if sdp.key.is_none() => sdp.key = Some(value.to_owned()),
        'a' => sdp.attributes.push(parse_attribute(value)),
        'v' | 'o' | 's' | 'i' | 'u' | 'c' | 'z' | 'k' => return Err(misplaced),
        _ => return Err(SdpError::UnknownLineType { line: n, kind }),
    }
    Ok(())
}

fn parse_media_line(
    media: &mut MediaDescription,
    n: usize,
    kind: char,
    value: &str,
) -> Result<(), SdpError> {
    match kind {
        'i' if media.info.is_none() => media.info = Some(value.to_owned()),
        'c' => media.connections.push(parse_connection(n, value)?),
        'b' => media.bandwidths.push(parse_bandwidth(n, value)?),
        'k' if media.key.is_none() => media.key = Some(value.to_owned()),
        'a' => {
            let attr = parse_attribute(value);
            // Typed attributes the relay rewrites must be well formed.
            match (attr.name.as_str(), attr.value.as_deref()) {
                ("rtpmap", Some(v)) => {
                    parse_rtpmap(v).map_err(|_| malformed(n, "rtpmap"))?;
                }
                ("rtcp", Some(v)) => {
                    parse_rtcp(v).map_err(|_| malformed(n, "rtcp"))?;
                }
                ("rtpmap" | "rtcp", None) => return Err(malformed(n, "attribute value")),
                _ => {}
            }
            media.attributes.push(attr);
        }
        'v' | 'o' | 's' | 'i' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' | 'k' => {
            return Err(SdpError::MisplacedLine { line: n, kind });
        }
        _ => return Err(SdpError::UnknownLineType { line: n, kind }),
    }
    Ok(())
}

fn malformed(line: usize, what: &'static str) -> SdpError {
    SdpError::Malformed { line, what }
}

fn parse_addr_type(token: &str) -> Option<AddrType> {
    match token {
        "IP4" => Some(AddrType::Ip4),
        "IP6" => Some(AddrType::Ip6),
        _ => None,
    }
}

fn valid_address(addr_type: AddrType, address: &str) -> bool {
    if address.is_empty() {
        return false;
    }
    match address.parse::<std::net::IpAddr>() {
        Ok(ip) => AddrType::of(ip) == addr_type,
        // RFC 8866 §5.7: an FQDN is allowed; it must not contain ':' (that would be bad IPv6).
        Err(_) => {
            !address.contains(':')
                && address
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        }
    }
}

fn parse_origin(n: usize, value: &str) -> Result<Origin, SdpError> {
    let err = || malformed(n, "o=");
    let fields: Vec<&str> = value.split(' ').collect();
    let [username, session_id, version, net, addr_type, address] = fields[..] else {
        return Err(err());
    };
    let addr_type = parse_addr_type(addr_type).ok_or_else(err)?;
    if username.is_empty()
        || session_id.is_empty()
        || !session_id.bytes().all(|b| b.is_ascii_digit())
        || net != "IN"
        || !valid_address(addr_type, address)
    {
        return Err(err());
    }
    Ok(Origin {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: version.parse().map_err(|_| err())?,
        addr_type,
        address: address.to_owned(),
    })
}

/// Parses the value of a `c=` line (`IN IP4 192.0.2.1`, `IN IP4 224.2.1.1/127/3`).
pub(crate) fn parse_connection(n: usize, value: &str) -> Result<Connection, SdpError> {
    let err = || malformed(n, "c=");
    let fields: Vec<&str> = value.split(' ').collect();
    let [net, addr_type, address] = fields[..] else {
        return Err(err());
    };
    let addr_type = parse_addr_type(addr_type).ok_or_else(err)?;
    if net != "IN" {
        return Err(err());
    }
    let mut parts = address.split('/');
    let address = parts.next().unwrap_or_default();
    let suffix: Vec<u32> = parts
        .map(|p| p.parse::<u32>().map_err(|_| err()))
        .collect::<Result<_, _>>()?;
    // RFC 8866 §5.7: IPv4 multicast has /ttl[/count]; IPv6 has only /count.
    let (ttl, count) = match (addr_type, suffix.as_slice()) {
        (_, []) => (None, None),
        (AddrType::Ip4, &[ttl]) => (Some(ttl), None),
        (AddrType::Ip4, &[ttl, count]) => (Some(ttl), Some(count)),
        (AddrType::Ip6, &[count]) => (None, Some(count)),
        _ => return Err(err()),
    };
    if !valid_address(addr_type, address) {
        return Err(err());
    }
    Ok(Connection {
        addr_type,
        address: address.to_owned(),
        ttl,
        count,
    })
}

fn parse_bandwidth(n: usize, value: &str) -> Result<Bandwidth, SdpError> {
    let err = || malformed(n, "b=");
    let (modifier, bw) = value.split_once(':').ok_or_else(err)?;
    if modifier.is_empty() || modifier.contains(' ') {
        return Err(err());
    }
    Ok(Bandwidth {
        modifier: modifier.to_owned(),
        value: bw.parse().map_err(|_| err())?,
    })
}

fn parse_timing(n: usize, value: &str) -> Result<Timing, SdpError> {
    let err = || malformed(n, "t=");
    let (start, stop) = value.split_once(' ').ok_or_else(err)?;
    Ok(Timing {
        start: start.parse().map_err(|_| err())?,
        stop: stop.parse().map_err(|_| err())?,
        repeats: Vec::new(),
    })
}

fn parse_media(n: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let err = || malformed(n, "m=");
    let mut fields = value.split(' ');
    let media = fields.next().filter(|m| !m.is_empty()).ok_or_else(err)?;
    let port_field = fields.next().ok_or_else(err)?;
    let proto = fields.next().filter(|p| !p.is_empty()).ok_or_else(err)?;
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.is_empty() || formats.iter().any(String::is_empty) {
        return Err(err());
    }
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, c)) => (p, Some(c.parse().map_err(|_| err())?)),
        None => (port_field, None),
    };
    Ok(MediaDescription {
        media: media.to_owned(),
        port: port.parse().map_err(|_| err())?,
        port_count,
        proto: proto.to_owned(),
        formats,
        info: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    })
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, v)) => Attribute {
            name: name.to_owned(),
            value: Some(v.to_owned()),
        },
        None => Attribute {
            name: value.to_owned(),
            value: None,
        },
    }
}

/// Parses an `a=rtpmap` value: `<pt> <encoding>/<clock>[/<channels>]`.
pub fn parse_rtpmap(value: &str) -> Result<RtpMap, SdpError> {
    let err = || malformed(0, "rtpmap");
    let (pt, rest) = value.split_once(' ').ok_or_else(err)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty()).ok_or_else(err)?;
    let clock_rate = parts.next().and_then(|c| c.parse().ok()).ok_or_else(err)?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse().map_err(|_| err())?),
        None => None,
    };
    if parts.next().is_some() {
        return Err(err());
    }
    Ok(RtpMap {
        payload_type: pt.parse().map_err(|_| err())?,
        encoding: encoding.to_owned(),
        clock_rate,
        channels,
    })
}

/// Parses an `a=rtcp` value (RFC 3605): `<port> [IN <addrtype> <address>]`.
pub fn parse_rtcp(value: &str) -> Result<Rtcp, SdpError> {
    let err = || malformed(0, "rtcp");
    let (port, rest) = match value.split_once(' ') {
        Some((p, r)) => (p, Some(r)),
        None => (value, None),
    };
    let connection = match rest {
        Some(r) => Some(parse_connection(0, r).map_err(|_| err())?),
        None => None,
    };
    Ok(Rtcp {
        port: port.parse().map_err(|_| err())?,
        connection,
    })
}
