//! Requests relayed from one side to the other: each becomes a new request the switch
//! builds on the other side's dialog, and what comes back reaches the originator (a 180/183
//! to a re-INVITE with its SDP rewritten, the final response). A CANCEL of a relayed
//! re-INVITE waits for the other side's first provisional response (RFC 3261 §9.1), and a
//! re-INVITE left ringing is given up after Timer C (RFC 3261 §16.8).
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use sip_core::message::{HeaderName, Method, Request, Response, StatusCode};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::TransactionKey;

use super::ack::AfterAck;
use super::api::Destination;
use super::branch::Cancel;
use super::outgoing::{self, ALLOW};
use super::sdp_rewrite::read_sdp;
use super::transactions::Role;
use super::{CallMachine, other};
use crate::call::record::LegSide;
use crate::sip::response_route::ResponseRoute;

/// RFC 3261 §16.6 step 11: Timer C, more than three minutes. How long an INVITE the switch
/// sent may go without a final response once it got a provisional one.
pub(super) const TIMER_C: Duration = Duration::from_secs(181);

/// What a relayed request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RelayKind {
    /// INFO, OPTIONS, MESSAGE: body and Content-Type pass unchanged.
    Plain,
    /// re-INVITE or UPDATE: SDP rewritten per leg. `late` for a re-INVITE without an offer:
    /// the other side's 2xx carries it and the originator's ACK the answer.
    Offer {
        /// Late offer.
        late: bool,
    },
}

/// A request received on one side and sent on the other, until its final response returns.
#[derive(Debug, Clone)]
pub(super) struct Relay {
    pub(super) id: u32,
    pub(super) from: LegSide,
    pub(super) method: Method,
    pub(super) server: TransactionKey,
    pub(super) route: ResponseRoute,
    pub(super) client: TransactionKey,
    pub(super) out_seq: u32,
    pub(super) kind: RelayKind,
    /// The originator's SDP before its offer, restored when the offer fails.
    pub(super) previous: Option<SessionDescription>,
    /// The other side sent a provisional response (a CANCEL may go, RFC 3261 §9.1).
    pub(super) provisional: bool,
    /// Whether the other side's request is being cancelled; once it is, the originator has
    /// its final response and the relay only waits for the other side's.
    pub(super) cancel: Cancel,
    /// Timer C of a re-INVITE with a provisional response; after a CANCEL, 64*T1 for the
    /// final response it should bring.
    pub(super) deadline: Option<Instant>,
}

impl CallMachine {
    /// Relays `request` from `side` on the other side's dialog: a new request of the same
    /// method built by the switch, carrying `body` (already rewritten) or, for plain
    /// requests, the original body and Content-Type. Its final response comes back.
    pub(super) fn relay_request(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
        kind: RelayKind,
        body: Option<bytes::Bytes>,
    ) {
        let to = other(side);
        let method = request.method().clone();
        let user_agent = self.settings.user_agent.clone();
        let session = self.session_expires_for_request(to);
        let Some(leg) = self.leg_mut(to) else {
            self.reply(
                now,
                request,
                route,
                side,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            );
            return;
        };
        let flow = leg.flow;
        let Ok(mut out) = leg
            .dialog
            .create_request(method.clone(), outgoing::via(&flow))
        else {
            self.reply(
                now,
                request,
                route,
                side,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            );
            return;
        };
        let headers = out.headers_mut();
        headers.push(HeaderName::UserAgent, user_agent);
        match kind {
            RelayKind::Plain => {
                for name in [HeaderName::ContentType, HeaderName::ContentDisposition] {
                    if let Some(value) = request.headers().get(&name) {
                        headers.push(name, value.clone());
                    }
                }
                out.set_body(request.body().clone());
            }
            RelayKind::Offer { .. } => {
                headers.push(HeaderName::Allow, ALLOW);
                headers.push(HeaderName::Supported, outgoing::SUPPORTED);
                if let Some(value) = session {
                    headers.push(HeaderName::SessionExpires, value);
                }
                out = outgoing::request_with_sdp(out, body.as_ref());
            }
        }
        let out_seq = out.headers().cseq().map(|c| c.seq).unwrap_or(1);
        let id = self.next_relay;
        self.next_relay = self.next_relay.wrapping_add(1);
        let Some(server) = self.serve(now, request, route, Role::RelayServer(id), None) else {
            return;
        };
        let client = TransactionKey::for_client_request(&out).ok();
        let sent = client.is_some() && self.send_request(now, out, flow, Role::RelayClient(id));
        let (Some(client), true) = (client, sent) else {
            // Nothing went to the other side, so no answer will come from there.
            if let Some(request) = self.txs.request(&server).cloned() {
                let status = StatusCode::SERVER_INTERNAL_ERROR;
                let response = self.response_for(&request, side, status);
                let _ = self.txs.respond(&server, now, response);
            }
            return;
        };
        self.relays.push(Relay {
            id,
            from: side,
            method,
            server,
            route,
            client,
            out_seq,
            kind,
            previous: None,
            provisional: false,
            cancel: Cancel::No,
            deadline: None,
        });
    }

    /// The final response of a relayed request goes back to its originator; a 2xx to a
    /// re-INVITE is ACKed at once, or, after a late offer, with the originator's answer.
    pub(super) fn on_relay_response(
        &mut self,
        now: Instant,
        id: u32,
        key: &TransactionKey,
        response: Response,
    ) {
        let status = response.status();
        if status.is_provisional() {
            self.on_relay_provisional(now, id, &response);
            return;
        }
        let Some(position) = self.relays.iter().position(|r| r.id == id) else {
            self.ack_orphan(key, &response);
            return;
        };
        let relay = self.relays.remove(position);
        let to = other(relay.from);
        if let Some(leg) = self.leg_mut(to) {
            let _ = leg.dialog.handle_response(&response);
        }
        if relay.cancel != Cancel::No {
            // The originator has its answer already (487 or 408).
            self.ack_orphan(key, &response);
            return;
        }
        let Some(request) = self.txs.request(&relay.server).cloned() else {
            self.ack_orphan(key, &response);
            return;
        };
        let mut reply = match relay.kind {
            RelayKind::Offer { .. } if status.is_success() => {
                let body = match read_sdp(response.headers(), response.body()) {
                    Ok(Some(sdp)) => Some(self.hear(to, &sdp)),
                    _ => None,
                };
                self.answered_refresh(now, to, &response);
                self.dialog_ok(&request, relay.from, status, body.as_ref())
            }
            RelayKind::Offer { .. } => {
                self.offer_failed(relay.from, relay.previous.clone());
                self.response_for(&request, relay.from, status)
            }
            RelayKind::Plain => {
                let mut reply = self.response_for(&request, relay.from, status);
                if let Some(value) = response.headers().get(HeaderName::ContentType) {
                    reply
                        .headers_mut()
                        .push(HeaderName::ContentType, value.clone());
                }
                reply.set_body(response.body().clone());
                reply
            }
        };
        reply.set_reason(response.reason());
        if relay.method == Method::Invite && status.is_success() {
            let tag = CallMachine::tag_of(&response);
            let then = if relay.kind == (RelayKind::Offer { late: true }) {
                AfterAck::AckOther {
                    side: to,
                    seq: relay.out_seq,
                    key: key.clone(),
                    tag,
                }
            } else {
                self.ack_leg(to, relay.out_seq, key.clone(), tag, None);
                AfterAck::Nothing
            };
            let seq = request.headers().cseq().map(|c| c.seq).unwrap_or(0);
            let bytes = reply.encode();
            let _ = self.txs.respond(&relay.server, now, reply);
            self.expect_ack(
                now,
                relay.from,
                seq,
                bytes,
                Destination::Response(relay.route),
                then,
            );
        } else {
            let _ = self.txs.respond(&relay.server, now, reply);
        }
    }

    /// A 2xx to a re-INVITE whose relay is gone (cancelled or the call ended): ACK it.
    fn ack_orphan(&mut self, key: &TransactionKey, response: &Response) {
        let Ok(cseq) = response.headers().cseq() else {
            return;
        };
        if !response.status().is_success() || cseq.method != Method::Invite {
            return;
        }
        let Some(side) = response.headers().call_id().ok().and_then(|id| {
            (id == self.a_call_id)
                .then_some(LegSide::A)
                .or((id == self.b_call_id).then_some(LegSide::B))
        }) else {
            return;
        };
        self.ack_leg(
            side,
            cseq.seq,
            key.clone(),
            CallMachine::tag_of(response),
            None,
        );
    }

    /// A provisional response to a relayed re-INVITE: it lets a waiting CANCEL go
    /// (RFC 3261 §9.1) and restarts Timer C (§16.8); a 180/183 reaches the originator.
    fn on_relay_provisional(&mut self, now: Instant, id: u32, response: &Response) {
        let timeout = self.transaction_timeout();
        let Some(relay) = self.relays.iter_mut().find(|r| r.id == id) else {
            return;
        };
        if relay.method != Method::Invite {
            return;
        }
        relay.provisional = true;
        match relay.cancel {
            Cancel::Waiting => {
                relay.cancel = Cancel::Sent;
                relay.deadline = Some(now + timeout);
                let (client, to) = (relay.client.clone(), other(relay.from));
                self.send_relay_cancel(now, &client, to);
                return;
            }
            Cancel::Sent => return,
            Cancel::No => relay.deadline = Some(now + TIMER_C),
        }
        let status = response.status();
        if status == StatusCode::TRYING {
            return;
        }
        let (from, server, kind) = (relay.from, relay.server.clone(), relay.kind);
        let Some(request) = self.txs.request(&server).cloned() else {
            return;
        };
        // RFC 3261 §13.2.1: the answer to an offer may come in provisional responses before
        // the 2xx; after a late offer a provisional response may not carry the offer.
        let body = match read_sdp(response.headers(), response.body()) {
            Ok(Some(sdp)) if kind == (RelayKind::Offer { late: false }) => {
                let relay = self.media.relay_for(from);
                Some(self.sdp_mut(from).render(relay, &sdp))
            }
            _ => None,
        };
        let mut reply = self.response_for(&request, from, status);
        reply.set_reason(response.reason());
        if let Some(leg) = self.leg(from) {
            reply
                .headers_mut()
                .push(HeaderName::Contact, outgoing::contact(&leg.flow));
        }
        let reply = outgoing::with_sdp(reply, body.as_ref());
        let _ = self.txs.respond(&server, now, reply);
    }

    /// A relayed request got no final response (Timer B or F, or a transport failure): its
    /// originator gets 408, unless it has its answer already.
    pub(super) fn on_relay_gone(&mut self, now: Instant, id: u32) {
        let Some(position) = self.relays.iter().position(|r| r.id == id) else {
            return;
        };
        let relay = self.relays.remove(position);
        if relay.cancel == Cancel::No {
            self.answer_originator(now, &relay, StatusCode::REQUEST_TIMEOUT);
        }
    }

    /// The originator cancelled a relayed re-INVITE (RFC 3261 §9.2): it gets 487, the other
    /// side a CANCEL.
    pub(super) fn cancel_relay(&mut self, now: Instant, id: u32) {
        self.stop_relay(now, id, StatusCode::REQUEST_TERMINATED);
    }

    /// Answers the originator of relayed re-INVITE `id` with `status` and cancels the
    /// other side's INVITE: at once after a provisional response, else when the first one
    /// comes (RFC 3261 §9.1; Timer B bounds the wait).
    fn stop_relay(&mut self, now: Instant, id: u32, status: StatusCode) {
        let timeout = self.transaction_timeout();
        let Some(relay) = self.relays.iter_mut().find(|r| r.id == id) else {
            return;
        };
        if relay.cancel != Cancel::No {
            return;
        }
        let send_now = relay.provisional;
        relay.cancel = if send_now {
            Cancel::Sent
        } else {
            Cancel::Waiting
        };
        relay.deadline = send_now.then_some(now + timeout);
        let relay = relay.clone();
        self.answer_originator(now, &relay, status);
        if send_now {
            self.send_relay_cancel(now, &relay.client, other(relay.from));
        }
    }

    /// The originator of `relay` gets `status`; an offer it made is withdrawn.
    fn answer_originator(&mut self, now: Instant, relay: &Relay, status: StatusCode) {
        if matches!(relay.kind, RelayKind::Offer { .. }) {
            self.offer_failed(relay.from, relay.previous.clone());
        }
        if let Some(request) = self.txs.request(&relay.server).cloned() {
            let response = self.response_for(&request, relay.from, status);
            let _ = self.txs.respond(&relay.server, now, response);
        }
    }

    /// Sends the CANCEL for the relayed INVITE `client` on `side` while it is pending.
    fn send_relay_cancel(&mut self, now: Instant, client: &TransactionKey, side: LegSide) {
        if !self.txs.invite_pending(client) {
            return;
        }
        let Some(invite) = self.txs.request(client) else {
            return;
        };
        let cancel = outgoing::cancel_for(invite);
        if let Some(flow) = self.leg(side).map(|leg| leg.flow) {
            self.send_request(now, cancel, flow, Role::Detached);
        }
    }

    /// Relay deadlines due at `now`: Timer C gives the originator 408 and the other side a
    /// CANCEL (RFC 3261 §16.8); 64*T1 after a CANCEL without a final response, the relay is
    /// given up (RFC 3261 §9.1) and new offers may go again.
    pub(super) fn relay_timers(&mut self, now: Instant) {
        let due: Vec<(u32, Cancel)> = self
            .relays
            .iter()
            .filter(|r| r.deadline.is_some_and(|at| at <= now))
            .map(|r| (r.id, r.cancel))
            .collect();
        for (id, cancel) in due {
            if cancel == Cancel::No {
                self.stop_relay(now, id, StatusCode::REQUEST_TIMEOUT);
            } else {
                self.relays.retain(|r| r.id != id);
            }
        }
    }

    /// The earliest relay deadline.
    pub(super) fn relay_deadline(&self) -> Option<Instant> {
        self.relays.iter().filter_map(|r| r.deadline).min()
    }
}
