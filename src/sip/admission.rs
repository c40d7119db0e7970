//! Source admission for profiles that take carrier traffic: which source addresses may send
//! requests outside any call, and the one answer everyone else gets (a bare 403).

use std::net::IpAddr;

use sip_core::message::{Request, Response, StatusCode};

use super::reply::Responder;

/// Decides whether a source address may send requests to a profile (e.g. the inbound
/// networks of its trunks). Asked on the receive path for every request that belongs to no
/// call: it must answer at once, without waiting.
pub trait SourceAdmission: Send + Sync + 'static {
    /// True when `source` may send requests outside any call.
    fn admits(&self, source: IpAddr) -> bool;
}

impl<F> SourceAdmission for F
where
    F: Fn(IpAddr) -> bool + Send + Sync + 'static,
{
    fn admits(&self, source: IpAddr) -> bool {
        self(source)
    }
}

/// Admits the sources inside a fixed set of networks.
#[derive(Debug, Clone, Default)]
pub struct NetworkAdmission {
    networks: Vec<ipnet::IpNet>,
}

impl NetworkAdmission {
    /// Admits the sources in `networks`.
    pub fn new(networks: Vec<ipnet::IpNet>) -> Self {
        NetworkAdmission { networks }
    }
}

impl SourceAdmission for NetworkAdmission {
    fn admits(&self, source: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&source))
    }
}

/// The answer to a request from a source that is not admitted: 403 with the headers RFC 3261
/// §8.2.6.2 requires (Via, From, To with our tag, Call-ID, CSeq) and nothing else: no Server,
/// no Warning, no reason beyond "Forbidden", so the refusal reveals nothing of the switch.
pub(crate) fn refusal(responder: &Responder, request: &Request) -> Response {
    let mut response = Response::for_request(request, StatusCode::FORBIDDEN);
    response.set_to_tag(&responder.to_tag(request));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use bytes::Bytes;
    use sip_core::message::{HeaderName, Message};

    use super::*;

    #[test]
    fn network_admission_admits_only_sources_inside_its_networks() {
        let admission = NetworkAdmission::new(vec![
            "198.51.100.0/24".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]);
        assert!(admission.admits("198.51.100.77".parse().unwrap()));
        assert!(admission.admits("127.0.0.1".parse().unwrap()));
        assert!(!admission.admits("127.0.0.2".parse().unwrap()));
        assert!(!admission.admits("::1".parse().unwrap()));
    }

    #[test]
    fn the_refusal_is_a_bare_403_with_a_to_tag() {
        let text = "INVITE sip:+15551230001@192.0.2.1 SIP/2.0\r\n\
                    Via: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKx\r\n\
                    From: <sip:a@203.0.113.9>;tag=1\r\nTo: <sip:+15551230001@192.0.2.1>\r\n\
                    Call-ID: r1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
                    Content-Length: 0\r\n\r\n";
        let Message::Request(request) = Message::parse(Bytes::from(text)).unwrap() else {
            panic!("not a request");
        };
        let bytes = refusal(&Responder::new(), &request).encode();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 403 Forbidden\r\n"), "{text}");
        let response = match Message::parse(bytes.clone()).unwrap() {
            Message::Response(r) => r,
            Message::Request(_) => panic!("not a response"),
        };
        assert!(response.headers().to().unwrap().tag().is_some());
        let names: Vec<String> = response
            .headers()
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(
            names,
            ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"],
            "{text}"
        );
        assert!(!response.headers().contains(HeaderName::Server));
    }
}
