//! SIP responses: status, reason phrase, headers and body; building one for a request.

use bytes::Bytes;

use super::encode::encode_message;
use super::header_name::HeaderName;
use super::headers::{HeaderValue, Headers};
use super::name_addr::NameAddr;
use super::request::Request;
use super::status::StatusCode;

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: StatusCode,
    reason: Bytes,
    headers: Headers,
    body: Bytes,
}

impl Response {
    /// A response with the canonical reason phrase, no headers and an empty body.
    pub fn new(status: StatusCode) -> Response {
        Response {
            status,
            reason: Bytes::from_static(status.canonical_reason().as_bytes()),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// `reason` must be valid UTF-8 (checked by the parser).
    pub(crate) fn from_parts(
        status: StatusCode,
        reason: Bytes,
        headers: Headers,
        body: Bytes,
    ) -> Response {
        Response {
            status,
            reason,
            headers,
            body,
        }
    }

    /// A response to `request` per RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID
    /// and CSeq are copied as received. The To tag is left to the caller ([`Self::set_to_tag`]).
    pub fn for_request(request: &Request, status: StatusCode) -> Response {
        let mut response = Response::new(status);
        let copied = [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ];
        for name in copied {
            for value in request.headers().get_all(&name) {
                response.headers.push(name.clone(), value.clone());
            }
        }
        response
    }

    /// Adds `;tag=TAG` to the To header unless it already has a tag (RFC 3261 §8.2.6.2).
    /// Returns false when there is no readable To header.
    pub fn set_to_tag(&mut self, tag: &str) -> bool {
        let Some(to) = self.headers.get(HeaderName::To) else {
            return false;
        };
        let Some(text) = to.to_str().ok() else {
            return false;
        };
        match NameAddr::parse(text) {
            Some(addr) if addr.tag().is_some() => true,
            Some(_) => {
                let value = HeaderValue::from(format!("{text};tag={tag}"));
                self.headers.set(HeaderName::To, value);
                true
            }
            None => false,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase (may be empty, RFC 4475 §3.1.1.13).
    pub fn reason(&self) -> &str {
        std::str::from_utf8(&self.reason).unwrap_or("")
    }

    /// Replaces the reason phrase (CR/LF are replaced by SP).
    pub fn set_reason(&mut self, reason: &str) {
        self.reason = HeaderValue::from(reason).as_shared().clone();
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Mutable headers.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the body; `encode` writes the matching Content-Length.
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Serializes the response in canonical form with a matching Content-Length.
    pub fn encode(&self) -> Bytes {
        let start = format!("SIP/2.0 {} {}", self.status, self.reason());
        encode_message(&start, &self.headers, &self.body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::message::Message;

    fn request() -> Request {
        let raw = b"INVITE sip:bob@b.example SIP/2.0\r\n\
Via: SIP/2.0/UDP p1.example;branch=z9hG4bK1, SIP/2.0/TCP p2.example;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP ua.example;branch=z9hG4bK3\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@b.example>\r\n\
From: <sip:alice@a.example>;tag=88\r\n\
Call-ID: c1\r\n\
CSeq: 1 INVITE\r\n\
Subject: hi\r\n\
Content-Length: 0\r\n\r\n";
        match Message::parse(Bytes::from_static(raw)).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    #[test]
    fn response_for_request_copies_the_rfc3261_headers_in_order() {
        let mut resp = Response::for_request(&request(), StatusCode::RINGING);
        let vias = resp.headers().via().unwrap();
        let branches: Vec<_> = vias
            .iter()
            .map(|v| v.branch().unwrap().to_owned())
            .collect();
        assert_eq!(branches, ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]);
        assert!(resp.headers().get(HeaderName::Subject).is_none());
        assert!(resp.headers().get(HeaderName::MaxForwards).is_none());
        assert_eq!(resp.headers().call_id().unwrap(), "c1");
        assert_eq!(resp.headers().to().unwrap().tag(), None);
        assert!(resp.set_to_tag("t1"));
        assert_eq!(resp.headers().to().unwrap().tag(), Some("t1"));
        assert!(resp.set_to_tag("t2"));
        assert_eq!(resp.headers().to().unwrap().tag(), Some("t1"));
        let wire = resp.encode();
        assert!(wire.starts_with(b"SIP/2.0 180 Ringing\r\n"));
        let back = Message::parse(wire).unwrap();
        assert_eq!(back.headers().content_length().unwrap(), Some(0));
        assert_eq!(back.headers().get_all(HeaderName::Via).count(), 2);
        assert_eq!(back.as_response().unwrap().status(), StatusCode::RINGING);
    }

    #[test]
    fn custom_reason_phrase_cannot_break_the_status_line() {
        let mut r = Response::new(StatusCode::OK);
        r.set_reason("Fine\r\nVia: x");
        assert_eq!(r.reason(), "Fine  Via: x");
    }
}
