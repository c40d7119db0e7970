//! What a server checks before processing a parsed message: the essential headers are present,
//! single, readable and consistent (RFC 3261 §8.2, RFC 4475 §3.1.2 and §3.3).

use super::error::{ParseError, ParseErrorKind};
use super::header_name::HeaderName;
use super::request::Request;
use super::response::Response;
use super::uri::Uri;

const ESSENTIAL: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

impl Request {
    /// Checks the request as a server would before processing it: Via, From, To, Call-ID and
    /// CSeq present and well formed, single-valued headers not repeated (RFC 4475 §3.3.8),
    /// CSeq method equal to the request method (§3.1.2.17), Max-Forwards and Contact well
    /// formed, and a Request-URI this element serves: `sip`, `sips` or `tel` (416 otherwise,
    /// RFC 3261 §8.2.2.1) without URI headers (§19.1.5, RFC 4475 §3.1.2.11).
    ///
    /// On failure the error carries this request, so [`ParseError::reaction`] and
    /// [`ParseError::error_response`] work as for parse errors.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.check()
            .map_err(|kind| ParseError::with_request(kind, self.clone()))
    }

    fn check(&self) -> Result<(), ParseErrorKind> {
        let h = self.headers();
        for name in ESSENTIAL {
            if !h.contains(&name) {
                return Err(ParseErrorKind::MissingHeader(name));
            }
        }
        for (name, _) in h.iter() {
            if name.is_single_valued() && h.count(name) > 1 {
                return Err(ParseErrorKind::DuplicateHeader(name.clone()));
            }
        }
        h.via().map_err(|e| e.kind().clone())?;
        h.from().map_err(|e| e.kind().clone())?;
        h.to().map_err(|e| e.kind().clone())?;
        h.call_id().map_err(|e| e.kind().clone())?;
        let cseq = h.cseq().map_err(|e| e.kind().clone())?;
        if &cseq.method != self.method() {
            return Err(ParseErrorKind::CSeqMethodMismatch);
        }
        h.max_forwards().map_err(|e| e.kind().clone())?;
        h.contact().map_err(|e| e.kind().clone())?;
        match self.uri() {
            Uri::Sip(u) if !u.headers().is_empty() => Err(ParseErrorKind::InvalidRequestUri),
            Uri::Sip(_) | Uri::Tel(_) => Ok(()),
            Uri::Absolute(_) => Err(ParseErrorKind::UnsupportedUriScheme),
        }
    }
}

impl Response {
    /// Checks the headers a client needs to match and process a response: Via, From, To,
    /// Call-ID, CSeq, and Retry-After when present (RFC 4475 §3.1.2.5). Failures are always
    /// dropped (no response is sent to a response).
    pub fn validate(&self) -> Result<(), ParseError> {
        let h = self.headers();
        for name in ESSENTIAL {
            if !h.contains(&name) {
                return Err(ParseError::new(ParseErrorKind::MissingHeader(name)));
            }
        }
        h.top_via()?;
        h.from()?;
        h.to()?;
        h.call_id()?;
        h.cseq()?;
        h.retry_after()?;
        Ok(())
    }
}
