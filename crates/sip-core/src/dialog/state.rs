//! The dialog state of RFC 3261 §12: identifiers, sequence numbers, targets and route set,
//! created on either side and updated by the requests and responses that pass through it.

use super::error::DialogError;
use super::id::{DialogId, SipCallId, Tag};
use super::route_set::RouteSet;
use crate::message::{Headers, Method, NameAddr, Request, Response, Uri};

/// Where a dialog stands (RFC 3261 §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Created by a provisional response with a To tag.
    Early,
    /// Established by a 2xx response.
    Confirmed,
    /// Ended by BYE, a failed INVITE or a 481/408 to an in-dialog request.
    Terminated,
}

/// One dialog, seen from this side (UAC or UAS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    local_target: Uri,
    remote_target: Uri,
    route_set: RouteSet,
    secure: bool,
}

impl Dialog {
    /// The UAS dialog for a dialog-creating `request` (an INVITE) answered with a 1xx or 2xx
    /// carrying `local_tag` in To (RFC 3261 §12.1.1). Starts [`DialogState::Early`]; call
    /// [`Dialog::handle_sent_response`] with the 2xx to confirm it.
    pub fn new_uas(
        request: &Request,
        local_tag: Tag,
        local_contact: Uri,
    ) -> Result<Dialog, DialogError> {
        let headers = request.headers();
        let from = headers.from()?;
        let mut to = headers.to()?;
        to.set_tag(local_tag.as_str());
        let remote_tag = Tag::new(from.tag().unwrap_or_default());
        let id = DialogId {
            call_id: SipCallId::new(headers.call_id()?),
            local_tag,
            remote_tag,
        };
        Ok(Dialog {
            id,
            state: DialogState::Early,
            // RFC 3261 §12.1.1: the local sequence number starts empty on the UAS side.
            local_seq: None,
            remote_seq: Some(headers.cseq()?.seq),
            remote_target: contact_uri(headers)?.ok_or(DialogError::MissingContact)?,
            route_set: RouteSet::from_request_record_route(headers.record_route()?),
            secure: is_sips(request.uri()),
            local_uri: to,
            remote_uri: from,
            local_target: local_contact,
        })
    }

    /// The UAC dialog created by `response` (101-199 with a To tag, or 2xx) to the
    /// dialog-creating `request` this side sent (RFC 3261 §12.1.2).
    ///
    /// Each distinct To tag from a forked INVITE creates its own dialog.
    pub fn new_uac(request: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let status = response.status();
        let code = status.as_u16();
        let state = if status.is_success() {
            DialogState::Confirmed
        } else if (101..200).contains(&code) {
            DialogState::Early
        } else {
            return Err(DialogError::NotDialogCreating(code));
        };
        let id = DialogId::for_incoming_response(response)?;
        let req_headers = request.headers();
        let resp_headers = response.headers();
        let local_target = contact_uri(req_headers)?.ok_or(DialogError::MissingContact)?;
        // RFC 3261 §12.1.2: a 2xx must carry Contact; a provisional response without one keeps
        // the Request-URI as target until a later response names one.
        let remote_target = match contact_uri(resp_headers)? {
            Some(uri) => uri,
            None if state == DialogState::Early => request.uri().clone(),
            None => return Err(DialogError::MissingContact),
        };
        Ok(Dialog {
            id,
            state,
            local_seq: Some(req_headers.cseq()?.seq),
            // RFC 3261 §12.1.2: the remote sequence number starts empty on the UAC side.
            remote_seq: None,
            local_uri: req_headers.from()?,
            remote_uri: resp_headers.to()?,
            local_target,
            remote_target,
            route_set: RouteSet::from_response_record_route(resp_headers.record_route()?),
            secure: is_sips(request.uri()),
        })
    }

    /// The dialog's identifier.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Early, confirmed or terminated.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The last CSeq number this side used, if any.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The highest CSeq number received from the peer, if any.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// This side's address (From in our requests), with the local tag.
    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    /// The peer's address (To in our requests), with the remote tag.
    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// This side's Contact URI.
    pub fn local_target(&self) -> &Uri {
        &self.local_target
    }

    /// The peer's Contact URI: where in-dialog requests go.
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set, first hop first.
    pub fn route_set(&self) -> &RouteSet {
        &self.route_set
    }

    /// True when the dialog was set up with a SIPS Request-URI (RFC 3261 §12.1.1).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Ends the dialog locally (after sending or receiving BYE, or on a local decision).
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Applies an in-dialog request from the peer (RFC 3261 §12.2.2): checks CSeq ordering,
    /// records the remote sequence number and refreshes the remote target.
    ///
    /// On [`DialogError::OutOfOrderCSeq`] the caller answers 500 (see
    /// [`DialogError::response_status`]) and the dialog is unchanged.
    pub fn handle_request(&mut self, request: &Request) -> Result<(), DialogError> {
        let headers = request.headers();
        if DialogId::for_incoming_request(request)? != self.id {
            return Err(DialogError::WrongDialog);
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let method = request.method();
        // ACK and CANCEL reuse the CSeq number of the request they refer to.
        if !matches!(method, Method::Ack | Method::Cancel) {
            let seq = headers.cseq()?.seq;
            if let Some(expected) = self.remote_seq
                && seq < expected
            {
                return Err(DialogError::OutOfOrderCSeq {
                    received: seq,
                    expected,
                });
            }
            if is_target_refresh(method)
                && let Some(uri) = contact_uri(headers)?
            {
                self.remote_target = uri;
            }
            self.remote_seq = Some(seq);
        }
        if *method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// Applies a response to a request this side sent in the dialog, or to the INVITE that
    /// created it (UAC side, RFC 3261 §12.1.2, §12.2.1.2, §13.2.2.4).
    pub fn handle_response(&mut self, response: &Response) -> Result<(), DialogError> {
        if DialogId::for_incoming_response(response)? != self.id {
            return Err(DialogError::WrongDialog);
        }
        let headers = response.headers();
        let method = headers.cseq()?.method;
        let status = response.status();
        let code = status.as_u16();
        if method == Method::Invite && status.is_success() && self.state == DialogState::Early {
            // RFC 3261 §13.2.2.4: the 2xx confirms the early dialog and its Record-Route
            // recomputes the route set.
            self.state = DialogState::Confirmed;
            self.route_set = RouteSet::from_response_record_route(headers.record_route()?);
        } else if method == Method::Invite
            && status.is_final()
            && !status.is_success()
            && self.state == DialogState::Early
        {
            self.state = DialogState::Terminated;
        }
        // RFC 3261 §12.2.1.2: 481 or 408 to an in-dialog request ends the dialog.
        if code == 481 || code == 408 {
            self.state = DialogState::Terminated;
        }
        // RFC 3261 §12.2.1.2: a 2xx to a target refresh request replaces the remote target.
        // RFC 6141 §3: while early, a 1xx (other than 100) to the INVITE with a Contact
        // does the same.
        let early_refresh = method == Method::Invite
            && status.is_provisional()
            && code > 100
            && self.state == DialogState::Early;
        if (early_refresh || (status.is_success() && is_target_refresh(&method)))
            && let Some(uri) = contact_uri(headers)?
        {
            self.remote_target = uri;
        }
        Ok(())
    }

    /// Applies a response this side (UAS) sent to the dialog-creating INVITE: a 2xx confirms
    /// the dialog, a failure ends an early one, and a 2xx to a re-INVITE or UPDATE changes
    /// nothing here (RFC 3261 §12.1.1, §13.3.1.4).
    pub fn handle_sent_response(&mut self, response: &Response) -> Result<(), DialogError> {
        let method = response.headers().cseq()?.method;
        if method != Method::Invite || self.state != DialogState::Early {
            return Ok(());
        }
        let status = response.status();
        if status.is_success() {
            self.state = DialogState::Confirmed;
        } else if status.is_final() {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    pub(super) fn next_local_seq(&mut self) -> Result<u32, DialogError> {
        // RFC 3261 §8.1.1.5: CSeq numbers are below 2^31. A UAS with an empty local sequence
        // number starts at 1.
        let next = match self.local_seq {
            Some(seq) => seq.checked_add(1).ok_or(DialogError::CSeqExhausted)?,
            None => 1,
        };
        if next >= 1 << 31 {
            return Err(DialogError::CSeqExhausted);
        }
        self.local_seq = Some(next);
        Ok(next)
    }
}

/// Requests whose Contact replaces the remote target: re-INVITE and UPDATE (RFC 3261 §12.2,
/// RFC 3311), SUBSCRIBE/NOTIFY (RFC 6665) and REFER (RFC 3515).
fn is_target_refresh(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

/// The first Contact URI, if any.
fn contact_uri(headers: &Headers) -> Result<Option<Uri>, DialogError> {
    Ok(headers
        .contact()?
        .contacts()
        .first()
        .map(|c| c.uri().clone()))
}

fn is_sips(uri: &Uri) -> bool {
    uri.as_sip().is_some_and(|u| u.is_secure())
}
