//! The caller's (A) INVITE: the checks before the call may go on, the responses the caller
//! gets (provisional, 2xx, failures) and CANCEL.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::dialog::{Dialog, Tag};
use sip_core::message::{HeaderName, HeaderValue, Request, Response, StatusCode};
use sip_core::transaction::TransactionKey;

use super::ack::AfterAck;
use super::api::{CallEvent, CallSetup, Destination};
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::session_timer::{self, Refresher, UasOutcome};
use super::transactions::{Role, Transactions, Tx};
use super::{CallMachine, Leg, Phase, Start};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};
use crate::sip::response_route::ResponseRoute;
use crate::transport::Peer;

/// The caller's INVITE and what the switch answered it.
#[derive(Debug)]
pub(super) struct Caller {
    /// The INVITE.
    pub(super) invite: Request,
    /// Its server transaction's key; None in an originated call, whose A leg the switch
    /// dialled (its `invite` is the call as A would have dialled it, never sent).
    pub(super) key: Option<TransactionKey>,
    /// The flow it came on.
    pub(super) peer: Peer,
    /// Where its responses go.
    pub(super) route: ResponseRoute,
    /// The switch's To tag towards the caller.
    pub(super) tag: String,
    /// The caller's From tag.
    pub(super) remote_tag: String,
    /// The SDP offer in the INVITE (None: late offer, RFC 3261 §13.2.1).
    pub(super) offer: Option<Sdp>,
    /// The final status the caller got.
    pub(super) final_status: Option<u16>,
    /// The last provisional status relayed, so repeated bodiless ones are sent once.
    pub(super) last_provisional: Option<u16>,
    /// RFC 4028 interval and refresher the 2xx will carry.
    pub(super) session: Option<(Duration, Refresher)>,
}

/// `CallMachine::new`: takes the INVITE over, sends 100 Trying and checks the INVITE.
pub(super) fn start(setup: CallSetup, now: Instant) -> CallMachine {
    let invite = setup.invite.request().clone();
    let key = setup.invite.key().clone();
    let headers = invite.headers();
    let a_call_id = headers.call_id().map(str::to_owned).unwrap_or_default();
    let remote_tag = headers
        .from()
        .ok()
        .and_then(|f| f.tag().map(str::to_owned))
        .unwrap_or_default();
    let mut txs = Transactions::default();
    txs.insert(
        Tx::InviteServer(Box::new(setup.invite)),
        Destination::Response(setup.a_route),
        Role::CallerInvite,
    );
    let tag = outgoing::new_tag();
    let a_leg = Dialog::new_uas(
        &invite,
        Tag::new(tag.clone()),
        outgoing::contact_uri(&setup.a_peer),
    )
    .ok()
    .map(|dialog| Leg {
        dialog,
        flow: setup.a_peer,
        timer: None,
        allows_update: outgoing::allows_update(headers),
        supports_timer: outgoing::supports_timer(headers),
        refreshing: None,
    });
    let mut machine = CallMachine::assemble(
        Start {
            id: setup.id,
            a_call_id,
            profile: setup.profile,
            caller_user: setup.caller,
            settings: setup.settings,
            media: setup.media,
            wall: setup.wall,
            phase: Phase::Routing,
            caller: Caller {
                invite,
                key: Some(key),
                peer: setup.a_peer,
                route: setup.a_route,
                tag,
                remote_tag,
                offer: None,
                final_status: None,
                last_provisional: None,
                session: None,
            },
            a_leg,
            txs,
            originated: None,
        },
        now,
    );
    let trying = outgoing::response(
        &machine.caller.invite,
        StatusCode::TRYING,
        None,
        &machine.settings.user_agent,
    );
    machine.respond_caller(now, trying);
    if let Err(refusal) = machine.check_invite() {
        let status = refusal.status();
        let cause = HangupCause::from_sip_status(status.as_u16());
        machine.refuse_caller(now, refusal, cause, HangupSide::Switch);
    } else if let Some(offer) = &machine.caller.offer {
        let media = phone_media(&offer.parsed);
        machine.sdp_a.heard(&offer.parsed);
        machine.remote_media(LegSide::A, media);
    }
    machine.pump(now);
    machine
}

/// Why the caller's INVITE is refused before anything is dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// An option tag in Require the switch does not support (RFC 3261 §8.2.2.3: 420).
    Extension(Vec<String>),
    /// Max-Forwards reached 0 (RFC 3261 §16.3 step 2: 483).
    TooManyHops,
    /// The INVITE cannot make a dialog (no Contact, malformed From/To) (400).
    BadRequest,
    /// The body cannot be relayed (415, 400, 488).
    Body(StatusCode),
    /// RFC 4028 §8.1: the session interval is below Min-SE (422 with Min-SE).
    IntervalTooSmall(Duration),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Extension(_) => StatusCode::BAD_EXTENSION,
            Refusal::TooManyHops => StatusCode::TOO_MANY_HOPS,
            Refusal::BadRequest => StatusCode::BAD_REQUEST,
            Refusal::Body(status) => *status,
            Refusal::IntervalTooSmall(_) => {
                StatusCode::from_u16(422).unwrap_or(StatusCode::BAD_REQUEST)
            }
        }
    }
}

impl CallMachine {
    /// The checks of the caller's INVITE; fills in its offer and session timer.
    fn check_invite(&mut self) -> Result<(), Refusal> {
        let headers = self.caller.invite.headers();
        let unsupported = outgoing::unsupported_required(headers);
        if !unsupported.is_empty() {
            return Err(Refusal::Extension(unsupported));
        }
        if headers.max_forwards().ok().flatten() == Some(0) {
            return Err(Refusal::TooManyHops);
        }
        if self.a_leg.is_none() {
            return Err(Refusal::BadRequest);
        }
        self.caller.offer = read_sdp(headers, self.caller.invite.body())
            .map_err(|problem| Refusal::Body(problem.status()))?;
        self.caller.session = match session_timer::negotiate_as_uas(headers, &self.settings) {
            UasOutcome::TooSmall(min) => return Err(Refusal::IntervalTooSmall(min)),
            UasOutcome::Timer(interval, refresher) => Some((interval, refresher)),
            UasOutcome::None => None,
        };
        Ok(())
    }

    /// Answers the caller's INVITE with a refusal and ends the call.
    fn refuse_caller(
        &mut self,
        now: Instant,
        refusal: Refusal,
        cause: HangupCause,
        side: HangupSide,
    ) {
        let mut response = self.caller_response(refusal.status());
        match &refusal {
            Refusal::Extension(tags) => {
                response
                    .headers_mut()
                    .push(HeaderName::Unsupported, tags.join(", "));
            }
            Refusal::IntervalTooSmall(min) => {
                response
                    .headers_mut()
                    .push(HeaderName::MinSe, min.as_secs().to_string());
            }
            _ => {}
        }
        self.caller.final_status = Some(refusal.status().as_u16());
        self.respond_caller(now, response);
        self.end_call(now, cause, side, refusal.status().as_u16());
    }

    /// A response to the caller's INVITE with the switch's To tag and Server header.
    pub(super) fn caller_response(&self, status: StatusCode) -> Response {
        outgoing::response(
            &self.caller.invite,
            status,
            Some(&self.caller.tag),
            &self.settings.user_agent,
        )
    }

    /// A dialog-creating response to the caller (1xx with tag, 2xx): RFC 3261 §12.1.1 adds
    /// the INVITE's own Record-Route and the switch's Contact.
    fn caller_dialog_response(&self, status: StatusCode, body: Option<&Bytes>) -> Response {
        let mut response = self.caller_response(status);
        let headers = response.headers_mut();
        let record_route: Vec<HeaderValue> = self
            .caller
            .invite
            .headers()
            .get_all(HeaderName::RecordRoute)
            .cloned()
            .collect();
        for value in record_route {
            headers.push(HeaderName::RecordRoute, value);
        }
        headers.push(HeaderName::Contact, outgoing::contact(&self.caller.peer));
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::Supported, SUPPORTED);
        outgoing::with_sdp(response, body)
    }

    /// Sends a response through the caller's INVITE transaction.
    pub(super) fn respond_caller(&mut self, now: Instant, response: Response) {
        let Some(key) = self.caller.key.clone() else {
            return;
        };
        if let Err(error) = self.txs.respond(&key, now, response) {
            tracing::debug!(%error, "caller's INVITE transaction refused a response");
        }
    }

    /// True while the caller's INVITE has no final response.
    pub(super) fn caller_unanswered(&self) -> bool {
        self.caller.final_status.is_none()
    }

    /// Relays a provisional response to the caller (RFC 3261 §13.3.1.1), with early media
    /// SDP rewritten for the caller.
    pub(super) fn relay_provisional(
        &mut self,
        now: Instant,
        status: StatusCode,
        reason: &str,
        body: Option<Bytes>,
    ) {
        if self.a_answered_by_switch() {
            // A's INVITE is answered already (A's ringing was reported, or the switch
            // answered it).
            return;
        }
        if body.is_none() && self.caller.last_provisional == Some(status.as_u16()) {
            return;
        }
        if self.caller.last_provisional.is_none() {
            self.events.push_back(CallEvent::Ringing);
        }
        self.caller.last_provisional = Some(status.as_u16());
        let mut response = self.caller_dialog_response(status, body.as_ref());
        response.set_reason(reason);
        self.respond_caller(now, response);
    }

    /// Sends the 2xx to the caller and starts retransmitting it until the ACK
    /// (RFC 3261 §13.3.1.4); `then` says what the ACK completes.
    pub(super) fn answer_caller(
        &mut self,
        now: Instant,
        status: StatusCode,
        body: Option<Bytes>,
        then: AfterAck,
    ) {
        if self.a_answered_by_switch() {
            // A answered before B was dialled: B's answer completes the bridge.
            self.events.push_back(CallEvent::Answered);
            return;
        }
        self.send_caller_2xx(now, status, body, then);
        self.events.push_back(CallEvent::Answered);
    }

    /// Sends the 2xx to the caller's INVITE, with the caller's session timer, and
    /// retransmits it until the ACK.
    pub(super) fn send_caller_2xx(
        &mut self,
        now: Instant,
        status: StatusCode,
        body: Option<Bytes>,
        then: AfterAck,
    ) {
        let mut response = self.caller_dialog_response(status, body.as_ref());
        if let Some((interval, refresher)) = self.caller.session {
            let supports = self.a_leg.as_ref().is_some_and(|leg| leg.supports_timer);
            let headers = response.headers_mut();
            headers.push(
                HeaderName::SessionExpires,
                session_timer::header_value(interval, refresher),
            );
            // RFC 4028 §9: Require: timer only towards a caller that supports it.
            if supports {
                headers.push(HeaderName::Require, "timer");
            }
            if let Some(leg) = self.a_leg.as_mut() {
                leg.timer = Some(session_timer::LegTimer::new(
                    now,
                    interval,
                    refresher == Refresher::Uas,
                ));
            }
        }
        if let Some(leg) = self.a_leg.as_mut() {
            let _ = leg.dialog.handle_sent_response(&response);
        }
        self.caller.final_status = Some(status.as_u16());
        let seq = self
            .caller
            .invite
            .headers()
            .cseq()
            .map(|c| c.seq)
            .unwrap_or(1);
        let bytes = response.encode();
        self.respond_caller(now, response);
        let destination = Destination::Response(self.caller.route);
        self.expect_ack(now, LegSide::A, seq, bytes, destination, then);
    }

    /// A CANCEL (RFC 3261 §9.2): 200 to the CANCEL; an unanswered INVITE gets 487 and the
    /// call ends. A CANCEL for a relayed re-INVITE is passed on.
    pub(super) fn on_cancel(&mut self, now: Instant, cancel: Request, route: ResponseRoute) {
        let Ok(invite_key) = TransactionKey::for_cancelled_invite(&cancel) else {
            return;
        };
        let Some(side) = self.side_of(&cancel) else {
            return;
        };
        let target = if self.caller.key.as_ref() == Some(&invite_key) {
            Some(CancelTarget::Caller)
        } else if let Some(Role::RelayServer(id)) = self.txs.role(&invite_key) {
            Some(CancelTarget::Relay(id))
        } else {
            None
        };
        let to_tag = match side {
            LegSide::A => self.caller.tag.clone(),
            LegSide::B => self.b_tag.clone(),
        };
        let status = if target.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
        };
        // RFC 3261 §9.2: the response to CANCEL carries the To tag of the INVITE's responses.
        let response =
            outgoing::response(&cancel, status, Some(&to_tag), &self.settings.user_agent);
        self.serve(now, cancel, route, Role::Answered(side), Some(response));
        match target {
            Some(CancelTarget::Caller) if self.caller_unanswered() => {
                let cause = HangupCause::OriginatorCancel;
                self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Caller);
            }
            Some(CancelTarget::Relay(id)) => self.cancel_relay(now, id),
            _ => {}
        }
    }
}

/// What a CANCEL refers to.
enum CancelTarget {
    Caller,
    Relay(u32),
}
