//! Requests inside the call: matching them to a transaction or a dialog, BYE from either
//! side, INFO/OPTIONS/MESSAGE handed to `relay`, and the fixed answers (481 for an
//! unknown or ended dialog, 482 for a merged INVITE, 501 for what the switch does not do).
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use sip_core::dialog::DialogId;
use sip_core::message::{HeaderName, Method, Request, Response, StatusCode};
use sip_core::transaction::{ServerInviteTransaction, ServerNonInviteTransaction, TransactionKey};

use super::api::Destination;
use super::outgoing::{self, ALLOW};
use super::relay::RelayKind;
use super::transactions::{Role, Tx};
use super::{CallMachine, Phase, other};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};
use crate::sip::response_route::ResponseRoute;
use crate::transport::Peer;

impl CallMachine {
    /// A request for this call: a retransmission goes to its transaction, an ACK for a 2xx
    /// to the dialog, a CANCEL to what it cancels, anything else starts a server transaction.
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        request: Request,
        _peer: Peer,
        route: ResponseRoute,
    ) {
        let Ok(key) = TransactionKey::for_request(&request) else {
            return;
        };
        if self.txs.contains(&key) {
            // RFC 3261 §17.2.3: a retransmission, or the ACK for a non-2xx final.
            self.txs.handle_request(&key, now, request);
            return;
        }
        if self.caller.key.as_ref() == Some(&key) && *request.method() == Method::Invite {
            // The caller's INVITE once more after its transaction ended (RFC 6026 Timer L):
            // the same request, not a merged one (RFC 3261 §8.2.2.2); nothing to answer.
            return;
        }
        match request.method() {
            Method::Ack => {
                if let Some(side) = self.side_of(&request) {
                    self.on_ack(side, request);
                }
            }
            Method::Cancel => self.on_cancel(now, request, route),
            _ => {
                if let Some(side) = self.side_of(&request) {
                    self.on_new_request(now, side, request, route);
                }
            }
        }
    }

    fn on_new_request(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        let method = request.method().clone();
        let in_dialog = request
            .headers()
            .to()
            .ok()
            .is_some_and(|to| to.tag().is_some());
        if !in_dialog {
            // RFC 3261 §8.2.2.2: the caller's INVITE again under another branch is a merged
            // request; other requests without a To tag are no part of this call.
            let status = if method == Method::Invite {
                StatusCode::LOOP_DETECTED
            } else {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            };
            self.reply(now, request, route, side, status);
            return;
        }
        if self.phase == Phase::Ended {
            // RFC 3261 §15.1.2: BYEs that cross get 200; anything else after the end, 481.
            let status = if method == Method::Bye && self.is_dialog_of(side, &request) {
                StatusCode::OK
            } else {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            };
            self.reply(now, request, route, side, status);
            return;
        }
        let accepted = match self.leg_mut(side) {
            Some(leg) => leg.dialog.handle_request(&request),
            None => Err(sip_core::dialog::DialogError::WrongDialog),
        };
        if let Err(error) = accepted {
            // RFC 3261 §12.2.2: 481 for an unknown dialog, 500 for an out-of-order CSeq.
            let status = error
                .response_status()
                .unwrap_or(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            self.reply(now, request, route, side, status);
            return;
        }
        if self.phase == Phase::App {
            self.on_app_request(now, side, request, route);
            return;
        }
        if self.phase != Phase::Answered {
            self.on_early_request(now, side, request, route);
            return;
        }
        match method {
            Method::Bye => self.on_bye(now, side, request, route),
            Method::Invite => self.on_reinvite(now, side, request, route),
            Method::Update => self.on_update(now, side, request, route),
            Method::Info | Method::Options | Method::Message => {
                self.relay_request(now, side, request, route, RelayKind::Plain, None);
            }
            // RFC 3262: the switch never sends reliable provisional responses.
            Method::Prack => {
                self.reply(
                    now,
                    request,
                    route,
                    side,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                );
            }
            _ => self.not_implemented(now, side, request, route),
        }
    }

    /// A request in the caller's early dialog (RFC 3261 §15: a BYE before the 2xx ends the
    /// call like a CANCEL; an offer while the INVITE is pending gets 491, RFC 3311 §5.2), or
    /// on A's confirmed dialog while B is dialled for an A the switch answered.
    fn on_early_request(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        match request.method() {
            Method::Bye => {
                self.reply(now, request, route, side, StatusCode::OK);
                let cause = HangupCause::OriginatorCancel;
                self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Caller);
            }
            Method::Invite | Method::Update => {
                self.reply(now, request, route, side, StatusCode::REQUEST_PENDING);
            }
            // A answered by the switch waits for B: its dialog is confirmed, and an INFO
            // (a digit pressed while B rings) or OPTIONS (a keep-alive) must not end it.
            Method::Info | Method::Options
                if side == LegSide::A
                    && self.a_answered_by_switch()
                    && !self.caller_unanswered() =>
            {
                self.reply(now, request, route, side, StatusCode::OK);
            }
            _ => self.reply(
                now,
                request,
                route,
                side,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            ),
        }
    }

    /// True when `request` belongs to `side`'s dialog (Call-ID and both tags).
    fn is_dialog_of(&self, side: LegSide, request: &Request) -> bool {
        let Ok(id) = DialogId::for_incoming_request(request) else {
            return false;
        };
        self.leg(side).is_some_and(|leg| *leg.dialog.id() == id)
    }

    /// BYE (RFC 3261 §15.1.2): 200, BYE to the other side, the call ends.
    pub(super) fn on_bye(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        self.reply(now, request, route, side, StatusCode::OK);
        let by = match side {
            LegSide::A => HangupSide::Caller,
            LegSide::B => HangupSide::Callee,
        };
        let to = other(side);
        self.tear_down(
            now,
            HangupCause::NormalClearing,
            by,
            to == LegSide::A,
            to == LegSide::B,
        );
    }

    /// 501 with Allow (RFC 3261 §8.2.1) for REFER, SUBSCRIBE, NOTIFY and unknown methods.
    pub(super) fn not_implemented(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        let mut response = self.response_for(&request, side, StatusCode::NOT_IMPLEMENTED);
        response.headers_mut().push(HeaderName::Allow, ALLOW);
        self.serve(now, request, route, Role::Answered(side), Some(response));
    }

    /// A response to a request from `side`, with the switch's tag when the request had none.
    pub(super) fn response_for(
        &self,
        request: &Request,
        side: LegSide,
        status: StatusCode,
    ) -> Response {
        let tag = match side {
            LegSide::A => &self.caller.tag,
            LegSide::B => &self.b_tag,
        };
        outgoing::response(request, status, Some(tag), &self.settings.user_agent)
    }

    /// Answers `request` from `side` with `status` in a new server transaction.
    pub(super) fn reply(
        &mut self,
        now: Instant,
        request: Request,
        route: ResponseRoute,
        side: LegSide,
        status: StatusCode,
    ) {
        let response = self.response_for(&request, side, status);
        self.serve(now, request, route, Role::Answered(side), Some(response));
    }

    /// Starts a server transaction for `request`, and sends `response` through it.
    pub(super) fn serve(
        &mut self,
        now: Instant,
        request: Request,
        route: ResponseRoute,
        role: Role,
        response: Option<Response>,
    ) -> Option<TransactionKey> {
        let reliable = matches!(route, ResponseRoute::Connection { .. });
        let timers = self.settings.timers;
        let key = TransactionKey::for_request(&request).ok()?;
        let tx = if *request.method() == Method::Invite {
            ServerInviteTransaction::with_key(key.clone(), request, now, reliable, timers)
                .map(|t| Tx::InviteServer(Box::new(t)))
        } else {
            ServerNonInviteTransaction::with_key(key.clone(), request, now, reliable, timers)
                .map(|t| Tx::NonInviteServer(Box::new(t)))
        };
        let tx = tx.ok()?;
        self.txs.insert(tx, Destination::Response(route), role);
        if let Some(response) = response {
            let _ = self.txs.respond(&key, now, response);
        }
        Some(key)
    }
}
