//! Building requests inside a dialog (RFC 3261 §12.2.1.1) and the ACK for a 2xx (§13.2.2.4).

use super::error::DialogError;
use super::state::{Dialog, DialogState};
use crate::message::{CSeq, HeaderName, Method, NameAddr, Request, Via};

/// RFC 3261 §8.1.1.6: the Max-Forwards a UAC puts in new requests.
const MAX_FORWARDS: u32 = 70;

impl Dialog {
    /// A new in-dialog request (BYE, re-INVITE, UPDATE, INFO, ...) with the next local CSeq.
    ///
    /// `via` is the caller's Via for this hop, carrying its sent-by and a fresh branch.
    /// ACK and CANCEL are refused: use [`Dialog::create_ack`], or build CANCEL from the
    /// INVITE (RFC 3261 §9.1).
    pub fn create_request(&mut self, method: Method, via: Via) -> Result<Request, DialogError> {
        if matches!(method, Method::Ack | Method::Cancel) {
            return Err(DialogError::NotANewRequest(method));
        }
        if self.state() == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let seq = self.next_local_seq()?;
        Ok(self.build(method.clone(), CSeq::new(seq, method), via))
    }

    /// The ACK for a 2xx to the INVITE with CSeq number `invite_seq` (RFC 3261 §13.2.2.4):
    /// same CSeq number, method ACK, routed like any in-dialog request.
    pub fn create_ack(&self, invite_seq: u32, via: Via) -> Request {
        self.build(Method::Ack, CSeq::new(invite_seq, Method::Ack), via)
    }

    fn build(&self, method: Method, cseq: CSeq, via: Via) -> Request {
        let destination = self.route_set().destination(self.remote_target());
        let mut request = Request::new(method, destination.request_uri);
        let headers = request.headers_mut();
        headers.push(HeaderName::Via, via.to_string());
        headers.push(HeaderName::MaxForwards, MAX_FORWARDS);
        for route in &destination.route {
            headers.push(HeaderName::Route, route.to_string());
        }
        headers.push(HeaderName::From, self.local_uri().to_string());
        headers.push(HeaderName::To, self.remote_uri().to_string());
        headers.push(HeaderName::CallId, self.id().call_id.as_str());
        headers.push(HeaderName::CSeq, cseq.to_string());
        headers.push(
            HeaderName::Contact,
            NameAddr::new(self.local_target().clone()).to_string(),
        );
        request
    }
}
