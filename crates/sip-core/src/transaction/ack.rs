//! The ACK a client INVITE transaction sends for a 300–699 final response
//! (RFC 3261 §17.1.1.3).
//!
//! Pure: copies header values from the INVITE and the response.

use super::error::TransactionError;
use crate::message::{HeaderName, HeaderValue, Method, Request, Response, Uri};

/// What the ACK keeps from the INVITE, captured when the transaction starts so building the
/// ACK later cannot fail.
#[derive(Debug, Clone)]
pub(crate) struct AckTemplate {
    uri: Uri,
    top_via: HeaderValue,
    routes: Vec<HeaderValue>,
    max_forwards: Option<HeaderValue>,
    from: Option<HeaderValue>,
    to: Option<HeaderValue>,
    call_id: Option<HeaderValue>,
    cseq: u32,
}

impl AckTemplate {
    /// Captures the parts of `invite` the ACK repeats; fails when its top Via or CSeq is
    /// missing or malformed.
    pub(crate) fn from_invite(invite: &Request) -> Result<Self, TransactionError> {
        let headers = invite.headers();
        let top_via = headers.top_via()?;
        Ok(Self {
            uri: invite.uri().clone(),
            top_via: HeaderValue::from(top_via.to_string()),
            routes: headers.get_all(HeaderName::Route).cloned().collect(),
            max_forwards: headers.get(HeaderName::MaxForwards).cloned(),
            from: headers.get(HeaderName::From).cloned(),
            to: headers.get(HeaderName::To).cloned(),
            call_id: headers.get(HeaderName::CallId).cloned(),
            cseq: headers.cseq()?.seq,
        })
    }

    /// The ACK for `response`, a 300–699 to the INVITE.
    ///
    /// RFC 3261 §17.1.1.3: Request-URI, Call-ID, From, CSeq number and Route as in the INVITE;
    /// only the INVITE's top Via; To from the response (it carries the UAS's tag); method ACK.
    pub(crate) fn ack_for(&self, response: &Response) -> Request {
        let mut ack = Request::new(Method::Ack, self.uri.clone());
        let to = response
            .headers()
            .get(HeaderName::To)
            .or(self.to.as_ref())
            .cloned();
        let headers = ack.headers_mut();
        headers.push(HeaderName::Via, self.top_via.clone());
        for route in &self.routes {
            headers.push(HeaderName::Route, route.clone());
        }
        if let Some(v) = &self.max_forwards {
            headers.push(HeaderName::MaxForwards, v.clone());
        }
        if let Some(v) = &self.from {
            headers.push(HeaderName::From, v.clone());
        }
        if let Some(v) = to {
            headers.push(HeaderName::To, v);
        }
        if let Some(v) = &self.call_id {
            headers.push(HeaderName::CallId, v.clone());
        }
        headers.push(
            HeaderName::CSeq,
            HeaderValue::from(format!("{} ACK", self.cseq)),
        );
        ack
    }
}
