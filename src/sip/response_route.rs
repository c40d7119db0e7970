//! Server transport duties of RFC 3261 §18.2: stamping `received`/`rport` into the top Via of
//! a request, and choosing where its responses go.

use std::net::{IpAddr, SocketAddr};

use sip_core::message::{HeaderName, HeaderValue, Request, Rport, Via};

use crate::transport::{Peer, Transport};

/// Port used when a Via sent-by has none (RFC 3261 §18.2.2, §19.1.2: 5060 for UDP and TCP).
const DEFAULT_SIP_PORT: u16 = 5060;

/// Why the top Via of a request could not be read or stamped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViaError {
    /// The request has no Via header.
    #[error("request has no Via header")]
    Missing,
    /// The first Via header line does not parse.
    #[error("top Via header is malformed")]
    Malformed,
}

/// Adds `received` and `rport` to the top Via of a request received from `peer`.
///
/// RFC 3261 §18.2.1: `received` carries the source IP when the sent-by host differs from it
/// (a domain name always differs). RFC 3581 §4: when `rport` is present without a value, it
/// is set to the source port, and `received` is added even if it equals the sent-by host.
/// Returns the stamped top Via.
pub fn stamp_top_via(request: &mut Request, peer: &Peer) -> Result<Via, ViaError> {
    let line = request
        .headers_mut()
        .get_mut(HeaderName::Via)
        .ok_or(ViaError::Missing)?;
    let text = line.to_str().map_err(|_| ViaError::Malformed)?;
    // Most lines hold one value: parse the top one alone, and the others (which must parse
    // too) only when there are any.
    let (first, others) = match top_level_comma(text)? {
        Some(comma) => {
            let others = Via::parse_list(&text[comma + 1..]).ok_or(ViaError::Malformed)?;
            (&text[..comma], others)
        }
        None => (text, Vec::new()),
    };
    let mut top = Via::parse(first.trim_matches([' ', '\t'])).ok_or(ViaError::Malformed)?;
    let source = peer.remote.ip();
    let mut changed = false;
    if top.rport() == Rport::Requested {
        top.set_rport(peer.remote.port());
        top.set_received(source);
        changed = true;
    } else if top.host().ip() != Some(source) {
        top.set_received(source);
        changed = true;
    }
    if changed {
        *line = HeaderValue::from(join_vias(&top, &others));
    }
    Ok(top)
}

/// The first comma of `text` outside quoted strings and `<...>` (`Ok(None)`: a single value);
/// malformed when a quoted string or angle bracket is left open. The same splitting rules as
/// the message parser's comma lists (RFC 3261 §7.3.1).
fn top_level_comma(text: &str) -> Result<Option<usize>, ViaError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_angle = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                // RFC 3261 §25.1: a quoted-pair escapes the next byte.
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => return Err(ViaError::Malformed),
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => return Ok(Some(i)),
            _ => {}
        }
        i += 1;
    }
    if in_angle {
        Err(ViaError::Malformed)
    } else {
        Ok(None)
    }
}

fn join_vias(top: &Via, others: &[Via]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(128 * (1 + others.len()));
    let _ = write!(out, "{top}");
    for via in others {
        let _ = write!(out, ", {via}");
    }
    out
}

/// Where the responses of one request go (RFC 3261 §18.2.2, RFC 3581 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseRoute {
    /// Reliable transport: on the connection the request came in on. If it has closed, on a
    /// new connection to `reconnect` (the `received` address and the sent-by port).
    Connection {
        /// The flow of the request.
        peer: Peer,
        /// Where to connect when that connection is gone.
        reconnect: SocketAddr,
    },
    /// Unreliable transport: a datagram from `peer.local` to `peer.remote`.
    Datagram(Peer),
}

impl ResponseRoute {
    /// The route for responses to a request whose stamped top Via is `via`, received on `peer`.
    pub fn for_request(via: &Via, peer: &Peer) -> ResponseRoute {
        let received = via.received_addr().unwrap_or(peer.remote.ip());
        let sent_by_port = via.port().unwrap_or(DEFAULT_SIP_PORT);
        match peer.transport {
            Transport::Tcp => ResponseRoute::Connection {
                peer: *peer,
                reconnect: SocketAddr::new(received, sent_by_port),
            },
            Transport::Udp => {
                let remote = if let Some(maddr) = via.maddr().and_then(parse_ip) {
                    // RFC 3261 §18.2.2: maddr wins, with the sent-by port.
                    SocketAddr::new(maddr, sent_by_port)
                } else if let Rport::Value(port) = via.rport() {
                    // RFC 3581 §4: back to the source IP and port of the request.
                    SocketAddr::new(received, port)
                } else {
                    // RFC 3261 §18.2.2: the received address (or the sent-by host when it
                    // equals the source and so was not stamped) and the sent-by port.
                    let ip = via.received_addr().or(via.host().ip()).unwrap_or(received);
                    SocketAddr::new(ip, sent_by_port)
                };
                ResponseRoute::Datagram(Peer { remote, ..*peer })
            }
        }
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use bytes::Bytes;
    use sip_core::message::Message;

    use super::*;

    fn peer(transport: Transport, remote: &str) -> Peer {
        Peer {
            transport,
            remote: remote.parse().unwrap(),
            local: "192.0.2.1:5060".parse().unwrap(),
        }
    }

    fn request(via: &str) -> Request {
        let text = format!(
            "OPTIONS sip:192.0.2.1 SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:192.0.2.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\
             Content-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(text)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    fn stamped(via: &str, p: &Peer) -> (Request, Via) {
        let mut req = request(via);
        let top = stamp_top_via(&mut req, p).unwrap();
        (req, top)
    }

    #[test]
    fn rport_without_value_gets_source_port_and_received_even_when_host_matches() {
        let p = peer(Transport::Udp, "198.51.100.7:40000");
        let (req, top) = stamped("SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bKa", &p);
        assert_eq!(top.rport(), Rport::Value(40000));
        assert_eq!(top.received(), Some("198.51.100.7"));
        let line = req
            .headers()
            .get(HeaderName::Via)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(line.contains("rport=40000"), "{line}");
        assert!(line.contains("received=198.51.100.7"), "{line}");
    }

    #[test]
    fn received_is_added_when_sent_by_differs_from_source() {
        let p = peer(Transport::Udp, "203.0.113.9:5060");
        let (_, top) = stamped("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa", &p);
        assert_eq!(top.received(), Some("203.0.113.9"));
        assert_eq!(top.rport(), Rport::Absent);
    }

    #[test]
    fn received_is_added_for_a_domain_sent_by() {
        let p = peer(Transport::Udp, "203.0.113.9:5060");
        let (_, top) = stamped("SIP/2.0/UDP phone.example.com;branch=z9hG4bKa", &p);
        assert_eq!(top.received(), Some("203.0.113.9"));
    }

    #[test]
    fn matching_sent_by_without_rport_is_left_untouched() {
        let p = peer(Transport::Udp, "203.0.113.9:5060");
        let via = "SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bKa";
        let (req, top) = stamped(via, &p);
        assert_eq!(top.received(), None);
        assert_eq!(
            req.headers()
                .get(HeaderName::Via)
                .unwrap()
                .to_str()
                .unwrap(),
            via
        );
    }

    #[test]
    fn only_the_top_via_of_a_multi_value_line_is_stamped() {
        let p = peer(Transport::Udp, "203.0.113.9:5062");
        let (req, _) = stamped(
            "SIP/2.0/UDP 10.0.0.5;rport;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb",
            &p,
        );
        let vias = req.headers().via().unwrap();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0].rport(), Rport::Value(5062));
        assert_eq!(vias[1].received(), None);
        assert_eq!(vias[1].rport(), Rport::Absent);
    }

    #[test]
    fn udp_response_with_rport_goes_to_source_ip_and_port() {
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        let (_, top) = stamped("SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKa", &p);
        let route = ResponseRoute::for_request(&top, &p);
        assert_eq!(route, ResponseRoute::Datagram(p));
    }

    #[test]
    fn udp_response_without_rport_goes_to_received_and_sent_by_port() {
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        let (_, top) = stamped("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa", &p);
        let ResponseRoute::Datagram(to) = ResponseRoute::for_request(&top, &p) else {
            panic!("expected a datagram route");
        };
        assert_eq!(to.remote, "203.0.113.9:5070".parse().unwrap());
        assert_eq!(to.local, p.local);
    }

    #[test]
    fn udp_response_without_port_in_sent_by_goes_to_5060() {
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        let (_, top) = stamped("SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKa", &p);
        let ResponseRoute::Datagram(to) = ResponseRoute::for_request(&top, &p) else {
            panic!("expected a datagram route");
        };
        assert_eq!(to.remote, "203.0.113.9:5060".parse().unwrap());
    }

    #[test]
    fn udp_response_honours_maddr_with_sent_by_port() {
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        let (_, top) = stamped(
            "SIP/2.0/UDP 10.0.0.5:5070;maddr=239.255.255.1;ttl=1;branch=z9hG4bKa",
            &p,
        );
        let ResponseRoute::Datagram(to) = ResponseRoute::for_request(&top, &p) else {
            panic!("expected a datagram route");
        };
        assert_eq!(to.remote, "239.255.255.1:5070".parse().unwrap());
    }

    #[test]
    fn tcp_response_uses_the_connection_and_reconnects_to_received_and_sent_by_port() {
        let p = peer(Transport::Tcp, "203.0.113.9:40000");
        let (_, top) = stamped("SIP/2.0/TCP 10.0.0.5:5070;branch=z9hG4bKa", &p);
        assert_eq!(
            ResponseRoute::for_request(&top, &p),
            ResponseRoute::Connection {
                peer: p,
                reconnect: "203.0.113.9:5070".parse().unwrap(),
            }
        );
    }

    #[test]
    fn ipv6_source_is_stamped_and_routed() {
        let p = peer(Transport::Udp, "[2001:db8::9]:40000");
        let (_, top) = stamped("SIP/2.0/UDP [2001:db8::1]:5070;rport;branch=z9hG4bKa", &p);
        assert_eq!(top.received_addr(), Some("2001:db8::9".parse().unwrap()));
        assert_eq!(
            ResponseRoute::for_request(&top, &p),
            ResponseRoute::Datagram(p)
        );
    }

    #[test]
    fn a_comma_inside_a_quoted_via_parameter_does_not_end_the_top_value() {
        let p = peer(Transport::Udp, "203.0.113.9:5062");
        let (req, top) = stamped(
            "SIP/2.0/UDP 10.0.0.5;rport;x=\"a,b\";branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKb",
            &p,
        );
        assert_eq!(top.branch(), Some("z9hG4bKa"));
        assert_eq!(top.rport(), Rport::Value(5062));
        let vias = req.headers().via().unwrap();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[1].branch(), Some("z9hG4bKb"));
    }

    #[test]
    fn a_line_whose_second_via_is_malformed_cannot_be_stamped() {
        let mut req = request("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa");
        req.headers_mut().set(
            HeaderName::Via,
            "SIP/2.0/UDP 10.0.0.5;rport;branch=z9hG4bKa, not a via",
        );
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        assert_eq!(stamp_top_via(&mut req, &p), Err(ViaError::Malformed));
        req.headers_mut().set(
            HeaderName::Via,
            "SIP/2.0/UDP 10.0.0.5;x=\"open;branch=z9hG4bKa",
        );
        assert_eq!(stamp_top_via(&mut req, &p), Err(ViaError::Malformed));
    }

    #[test]
    fn request_without_via_cannot_be_stamped() {
        let mut req = request("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKa");
        req.headers_mut().remove(HeaderName::Via);
        let p = peer(Transport::Udp, "203.0.113.9:40000");
        assert_eq!(stamp_top_via(&mut req, &p), Err(ViaError::Missing));
    }
}
