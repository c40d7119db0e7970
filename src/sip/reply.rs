//! Responses the switch originates: the common finishing touches (To tag, Server header) and
//! the fixed answers of the driver itself (OPTIONS, 501, 503, 481).

use std::hash::{BuildHasher, Hasher, RandomState};

use sip_core::message::{HeaderName, Request, Response, StatusCode};

/// The Server header value (RFC 3261 §20.35).
pub const SERVER: &str = concat!("Switchyard/", env!("CARGO_PKG_VERSION"));

/// Methods a profile without calls implements, for Allow (RFC 3261 §20.5).
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// Methods a profile that takes calls implements, for Allow (RFC 3261 §20.5).
pub const ALLOW_WITH_CALLS: &str = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, REGISTER";

/// Body types the switch accepts, for Accept (RFC 3261 §20.1).
pub const ACCEPT: &str = "application/sdp";

/// Option tags the switch supports, for Supported (RFC 3261 §20.37); none yet.
pub const SUPPORTED: &str = "";

/// Builds responses to received requests. One per process: the To tags it derives are
/// keyed by a random secret so they cannot be predicted.
#[derive(Debug, Clone, Default)]
pub struct Responder {
    tag_key: RandomState,
}

impl Responder {
    /// A responder with a fresh random tag key.
    pub fn new() -> Self {
        Responder::default()
    }

    /// A response to `request` per RFC 3261 §8.2.6: headers copied by
    /// [`Response::for_request`], then [`Self::finish`].
    pub fn response(&self, request: &Request, status: StatusCode) -> Response {
        let mut response = Response::for_request(request, status);
        self.finish(request, &mut response);
        response
    }

    /// Completes a response to `request` built elsewhere (e.g. by the registrar): adds the To
    /// tag when the request's To had none (RFC 3261 §8.2.6.2, not on 100 Trying) and the Server
    /// header, unless present. Content-Length is written by `encode`.
    pub fn finish(&self, request: &Request, response: &mut Response) {
        if response.status() != StatusCode::TRYING {
            response.set_to_tag(&self.to_tag(request));
        }
        if !response.headers().contains(HeaderName::Server) {
            response.headers_mut().push(HeaderName::Server, SERVER);
        }
    }

    /// The To tag for responses to `request`: the same for every retransmission of it
    /// (same Call-ID, From, CSeq and top Via), so a stateless answer stays consistent.
    pub fn to_tag(&self, request: &Request) -> String {
        let mut hasher = self.tag_key.build_hasher();
        let headers = request.headers();
        for name in [
            HeaderName::CallId,
            HeaderName::From,
            HeaderName::CSeq,
            HeaderName::Via,
        ] {
            if let Some(value) = headers.get(&name) {
                hasher.write(value.as_bytes());
            }
            hasher.write_u8(0xff);
        }
        format!("{:016x}", hasher.finish())
    }

    /// 200 OK to an OPTIONS for the switch, with Allow (`allow`: [`ALLOW`] or
    /// [`ALLOW_WITH_CALLS`]), Accept and Supported (RFC 3261 §11.2).
    pub fn options_ok(&self, request: &Request, allow: &str) -> Response {
        let mut response = self.response(request, StatusCode::OK);
        let headers = response.headers_mut();
        headers.push(HeaderName::Allow, allow);
        headers.push(HeaderName::Accept, ACCEPT);
        headers.push(HeaderName::Supported, SUPPORTED);
        response
    }

    /// 420 Bad Extension listing the option tags of Require the switch does not support
    /// (RFC 3261 §8.2.2.3); `None` when there are none.
    pub fn unsupported_extensions(&self, request: &Request) -> Option<Response> {
        let required = request.headers().require().ok()?;
        let unsupported: Vec<&str> = required
            .into_iter()
            .filter(|tag| {
                !SUPPORTED
                    .split(',')
                    .any(|s| s.trim().eq_ignore_ascii_case(tag))
            })
            .collect();
        if unsupported.is_empty() {
            return None;
        }
        let mut response = self.response(request, StatusCode::BAD_EXTENSION);
        response
            .headers_mut()
            .push(HeaderName::Unsupported, unsupported.join(", "));
        Some(response)
    }

    /// 501 Not Implemented with Allow (RFC 3261 §8.2.1, §21.5.2).
    pub fn not_implemented(&self, request: &Request, allow: &str) -> Response {
        let mut response = self.response(request, StatusCode::NOT_IMPLEMENTED);
        response.headers_mut().push(HeaderName::Allow, allow);
        response
    }

    /// 503 Service Unavailable with Retry-After, for overload (RFC 3261 §21.5.4, §20.33).
    pub fn overloaded(&self, request: &Request, retry_after_secs: u32) -> Response {
        let mut response = self.response(request, StatusCode::SERVICE_UNAVAILABLE);
        response
            .headers_mut()
            .push(HeaderName::RetryAfter, retry_after_secs);
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use bytes::Bytes;
    use sip_core::message::Message;

    use super::*;

    fn request(to: &str, cseq: u32) -> Request {
        let text = format!(
            "OPTIONS sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKa\r\n\
             From: <sip:a@x>;tag=1\r\nTo: {to}\r\nCall-ID: c1\r\nCSeq: {cseq} OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        match Message::parse(Bytes::from(text)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    #[test]
    fn to_tag_is_stable_for_a_retransmission_and_differs_for_a_new_request() {
        let r = Responder::new();
        let a = r.to_tag(&request("<sip:192.0.2.1>", 1));
        assert_eq!(a, r.to_tag(&request("<sip:192.0.2.1>", 1)));
        assert_ne!(a, r.to_tag(&request("<sip:192.0.2.1>", 2)));
    }

    #[test]
    fn response_gets_to_tag_and_server_header() {
        let r = Responder::new();
        let req = request("<sip:192.0.2.1>", 1);
        let resp = r.response(&req, StatusCode::OK);
        let to = resp.headers().to().unwrap();
        assert_eq!(to.tag(), Some(r.to_tag(&req).as_str()));
        let server = resp.headers().get(HeaderName::Server).unwrap();
        assert_eq!(server.as_bytes(), SERVER.as_bytes());
    }

    #[test]
    fn an_existing_to_tag_is_kept() {
        let r = Responder::new();
        let resp = r.response(&request("<sip:192.0.2.1>;tag=theirs", 1), StatusCode::OK);
        assert_eq!(resp.headers().to().unwrap().tag(), Some("theirs"));
    }

    #[test]
    fn options_answer_lists_allow_accept_supported() {
        let r = Responder::new();
        let bytes = r.options_ok(&request("<sip:192.0.2.1>", 1), ALLOW).encode();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
        assert!(text.contains("\r\nAllow: REGISTER, OPTIONS\r\n"), "{text}");
        assert!(text.contains("\r\nAccept: application/sdp\r\n"), "{text}");
        assert!(text.contains("\r\nSupported: "), "{text}");
        assert!(text.contains("\r\nContent-Length: 0\r\n"), "{text}");
    }

    #[test]
    fn a_required_extension_is_refused_with_420_naming_it() {
        let r = Responder::new();
        let mut req = request("<sip:192.0.2.1>", 1);
        assert!(r.unsupported_extensions(&req).is_none());
        req.headers_mut().push(HeaderName::Require, "100rel, timer");
        let resp = r.unsupported_extensions(&req).unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_EXTENSION);
        assert_eq!(
            resp.headers()
                .get(HeaderName::Unsupported)
                .unwrap()
                .as_bytes(),
            b"100rel, timer"
        );
    }

    #[test]
    fn overload_answer_carries_retry_after() {
        let r = Responder::new();
        let resp = r.overloaded(&request("<sip:192.0.2.1>", 1), 7);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            resp.headers()
                .get(HeaderName::RetryAfter)
                .unwrap()
                .as_bytes(),
            b"7"
        );
    }
}
