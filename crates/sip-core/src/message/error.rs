//! Parse errors and the reaction RFC 3261 asks for (respond with a status, or drop).

use thiserror::Error;

use super::header_name::HeaderName;
use super::request::Request;
use super::response::Response;
use super::status::StatusCode;

/// What went wrong while parsing or validating a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// The input holds no message (empty, or only CRLF).
    #[error("empty message")]
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line")]
    InvalidStartLine,
    /// The SIP-Version is not `SIP/2.0` (RFC 3261 §8.2.2.1 wants 505 for requests).
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The method is not an RFC 3261 `token`.
    #[error("invalid method")]
    InvalidMethod,
    /// The Request-URI is malformed (embedded whitespace, `<>`, bad host...).
    #[error("invalid Request-URI")]
    InvalidRequestUri,
    /// The Request-URI scheme is not one this element serves (RFC 3261 §8.2.2.1: 416).
    #[error("unsupported URI scheme")]
    UnsupportedUriScheme,
    /// A URI outside a message failed to parse.
    #[error("invalid URI")]
    InvalidUri,
    /// The status code is not three digits in 100..=699.
    #[error("invalid status code")]
    InvalidStatusCode,
    /// The reason phrase is not UTF-8 text.
    #[error("invalid reason phrase")]
    InvalidReasonPhrase,
    /// A header line has no colon, an invalid name, or the header section never ends.
    #[error("malformed header line")]
    InvalidHeaderLine,
    /// A header value does not follow its grammar.
    #[error("invalid {0} header")]
    InvalidHeader(HeaderName),
    /// A header that must be present is missing.
    #[error("missing {0} header")]
    MissingHeader(HeaderName),
    /// A header that must appear once appears several times (RFC 4475 §3.3.8).
    #[error("duplicate {0} header")]
    DuplicateHeader(HeaderName),
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length is not a single non-negative number (RFC 4475 §3.1.2.3, §3.3.9).
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Content-Length promises more octets than the datagram holds (RFC 3261 §18.3).
    #[error("body shorter than Content-Length ({available} of {declared} octets)")]
    BodyTruncated {
        /// The Content-Length value.
        declared: usize,
        /// Octets present after the header section.
        available: usize,
    },
    /// The message is larger than the configured limit.
    #[error("message larger than {limit} octets")]
    TooLarge {
        /// The limit in octets.
        limit: usize,
    },
}

impl ParseErrorKind {
    /// The status code RFC 3261 wants in answer to a request failing this way.
    pub fn status(&self) -> StatusCode {
        match self {
            ParseErrorKind::UnsupportedVersion => StatusCode::VERSION_NOT_SUPPORTED,
            ParseErrorKind::UnsupportedUriScheme => StatusCode::UNSUPPORTED_URI_SCHEME,
            ParseErrorKind::TooLarge { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// How a server reacts to a message that failed to parse or validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseReaction {
    /// Answer the request statelessly with this status (build it with
    /// [`ParseError::error_response`]).
    Respond(StatusCode),
    /// Discard silently: a response, or a request that cannot be answered.
    Drop,
}

/// A parse or validation failure: what went wrong, and what can be salvaged to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind}")]
pub struct ParseError {
    kind: ParseErrorKind,
    request: Option<Box<Request>>,
}

impl ParseError {
    /// An error with no salvaged request (its reaction is `Drop`).
    pub fn new(kind: ParseErrorKind) -> ParseError {
        ParseError {
            kind,
            request: None,
        }
    }

    /// An error about a request of which `request` could be read.
    pub(crate) fn with_request(kind: ParseErrorKind, request: Request) -> ParseError {
        ParseError {
            kind,
            request: Some(Box::new(request)),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// The request as far as it could be read, when the failing message was a request whose
    /// start line and header section could be split. Its Request-URI may be a placeholder
    /// (`Uri::Absolute`) when the Request-URI itself was malformed.
    pub fn partial_request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    /// Respond with the RFC's status, or drop. A request is answerable when it has Via and
    /// CSeq headers, echoed so the client can match the response (RFC 3261 §17.1.3); From, To
    /// and Call-ID are copied when present. If its top Via does not parse, send the response
    /// to the request's source address and port. Responses are always dropped.
    pub fn reaction(&self) -> ParseReaction {
        match &self.request {
            Some(req) if req.is_answerable() => ParseReaction::Respond(self.kind.status()),
            _ => ParseReaction::Drop,
        }
    }

    /// The stateless error response for [`ParseReaction::Respond`]; `None` for `Drop`.
    pub fn error_response(&self) -> Option<Response> {
        match (self.reaction(), &self.request) {
            (ParseReaction::Respond(status), Some(req)) => Some(Response::for_request(req, status)),
            _ => None,
        }
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> ParseError {
        ParseError::new(kind)
    }
}
