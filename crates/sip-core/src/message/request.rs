//! SIP requests: method, Request-URI, headers and body.

use bytes::Bytes;

use super::encode::encode_message;
use super::header_name::HeaderName;
use super::headers::Headers;
use super::method::Method;
use super::uri::Uri;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    uri: Uri,
    headers: Headers,
    body: Bytes,
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    pub(crate) fn from_parts(method: Method, uri: Uri, headers: Headers, body: Bytes) -> Request {
        Request {
            method,
            uri,
            headers,
            body,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Replaces the method.
    pub fn set_method(&mut self, method: Method) {
        self.method = method;
    }

    /// The Request-URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Replaces the Request-URI.
    pub fn set_uri(&mut self, uri: Uri) {
        self.uri = uri;
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Mutable headers.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the body; `encode` writes the matching Content-Length.
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// Serializes the request in canonical form (full header names) with a Content-Length
    /// that matches the body.
    pub fn encode(&self) -> Bytes {
        let start = format!("{} {} SIP/2.0", self.method, self.uri);
        encode_message(&start, &self.headers, &self.body)
    }

    /// True when a response can be sent for this request: it has a Via and a CSeq header,
    /// which the response echoes so the client can match it (RFC 3261 §8.2.6.2, §17.1.3).
    /// When the top Via cannot be parsed, the response goes to the source address and port
    /// of the request (as RFC 3261 §18.2.2 and RFC 3581 do for `received`/`rport`).
    pub fn is_answerable(&self) -> bool {
        self.headers.contains(HeaderName::Via) && self.headers.contains(HeaderName::CSeq)
    }
}
