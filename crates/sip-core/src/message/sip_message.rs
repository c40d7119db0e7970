//! A SIP message: request or response, parsed from and encoded to wire bytes.

use bytes::Bytes;

use super::error::{ParseError, ParseErrorKind};
use super::headers::Headers;
use super::parse::parse_message;
use super::request::Request;
use super::response::Response;

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Parses one message from a datagram or a framed stream message.
    ///
    /// The start line and the header section are checked; typed headers are parsed on access,
    /// and [`Request::validate`] checks the ones a server needs. A Content-Length larger than
    /// the input is an error (RFC 3261 §18.3); octets past it are ignored; without
    /// Content-Length the body is the rest of the input.
    pub fn parse(buf: Bytes) -> Result<Message, ParseError> {
        parse_message(buf)
    }

    /// Like [`Message::parse`], but a message longer than `max_size` octets is refused with
    /// [`ParseErrorKind::TooLarge`]; a readable request gets 413 (RFC 3261 §21.4.11).
    pub fn parse_with_limit(buf: Bytes, max_size: usize) -> Result<Message, ParseError> {
        if buf.len() <= max_size {
            return parse_message(buf);
        }
        let kind = ParseErrorKind::TooLarge { limit: max_size };
        match parse_message(buf) {
            Ok(Message::Request(r)) => Err(ParseError::with_request(kind, r)),
            Err(e) => match e.partial_request() {
                Some(r) => Err(ParseError::with_request(kind, r.clone())),
                None => Err(ParseError::new(kind)),
            },
            Ok(Message::Response(_)) => Err(ParseError::new(kind)),
        }
    }

    /// Serializes in canonical form with a correct Content-Length.
    pub fn encode(&self) -> Bytes {
        match self {
            Message::Request(r) => r.encode(),
            Message::Response(r) => r.encode(),
        }
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => r.headers(),
            Message::Response(r) => r.headers(),
        }
    }

    /// Mutable headers.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => r.headers_mut(),
            Message::Response(r) => r.headers_mut(),
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => r.body(),
            Message::Response(r) => r.body(),
        }
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    /// The request, when this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, when this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}
