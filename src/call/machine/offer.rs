//! Offer/answer inside a confirmed call: re-INVITE and UPDATE from either side relayed to
//! the other (or answered by the switch when nothing changed), glare (RFC 3261 §14.2,
//! RFC 3311 §5.2), final responses of relayed requests coming back, and the switch's own
//! RFC 4028 refreshes.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use sip_core::message::{HeaderName, Method, Request, Response, StatusCode};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::TransactionKey;

use super::ack::AfterAck;
use super::api::Destination;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::session_timer::{self, LegTimer, Refresher, UasOutcome};
use super::transactions::Role;
use super::{CallMachine, Phase, other};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};
use crate::sip::response_route::ResponseRoute;

/// How long the switch waits to retry its refresh while another offer is pending.
const REFRESH_RETRY: Duration = Duration::from_secs(2);

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
#[derive(Debug)]
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
}

impl CallMachine {
    /// True while an offer/answer exchange is in progress anywhere in the call: a new offer
    /// then gets 491 (RFC 3261 §14.2, RFC 3311 §5.2).
    pub(super) fn offer_pending(&self) -> bool {
        self.phase != Phase::Answered
            || self.awaiting_ack()
            || self
                .relays
                .iter()
                .any(|r| matches!(r.kind, RelayKind::Offer { .. }))
            || [&self.a_leg, &self.b_leg]
                .into_iter()
                .flatten()
                .any(|leg| leg.refreshing == Some(Method::Invite))
    }

    /// A re-INVITE from `side`.
    pub(super) fn on_reinvite(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        if self.offer_pending() {
            self.reply(now, request, route, side, StatusCode::REQUEST_PENDING);
            return;
        }
        let sdp = match read_sdp(request.headers(), request.body()) {
            Ok(sdp) => sdp,
            Err(problem) => {
                self.reply(now, request, route, side, problem.status());
                return;
            }
        };
        if let Err(min) = self.refreshed_by(now, side, &request) {
            self.interval_too_small(now, side, request, route, min);
            return;
        }
        match sdp {
            Some(sdp) if !self.sdp_mut(side).is_new_from_phone(&sdp.parsed) => {
                self.answer_locally(now, side, request, route, true);
            }
            Some(sdp) => self.relay_offer(now, side, request, route, Some(sdp)),
            None => self.relay_offer(now, side, request, route, None),
        }
    }

    /// An UPDATE from `side` (RFC 3311).
    pub(super) fn on_update(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        let sdp = match read_sdp(request.headers(), request.body()) {
            Ok(sdp) => sdp,
            Err(problem) => {
                self.reply(now, request, route, side, problem.status());
                return;
            }
        };
        if sdp.is_some() && self.offer_pending() {
            self.reply(now, request, route, side, StatusCode::REQUEST_PENDING);
            return;
        }
        if let Err(min) = self.refreshed_by(now, side, &request) {
            self.interval_too_small(now, side, request, route, min);
            return;
        }
        match sdp {
            Some(sdp) if self.sdp_mut(side).is_new_from_phone(&sdp.parsed) => {
                self.relay_offer(now, side, request, route, Some(sdp));
            }
            Some(_) => self.answer_locally(now, side, request, route, true),
            None => self.answer_locally(now, side, request, route, false),
        }
    }

    /// RFC 4028 §9: a re-INVITE or UPDATE from `side` refreshes its session; one with
    /// Session-Expires renegotiates it (Err: below Min-SE).
    fn refreshed_by(
        &mut self,
        now: Instant,
        side: LegSide,
        request: &Request,
    ) -> Result<(), Duration> {
        let headers = request.headers();
        let outcome = session_timer::session_expires(headers)
            .map(|_| session_timer::negotiate_as_uas(headers, &self.settings));
        let Some(leg) = self.leg_mut(side) else {
            return Ok(());
        };
        match outcome {
            Some(UasOutcome::TooSmall(min)) => return Err(min),
            Some(UasOutcome::Timer(interval, refresher)) => {
                leg.supports_timer |= outgoing::supports_timer(headers);
                leg.timer = Some(LegTimer::new(now, interval, refresher == Refresher::Uas));
            }
            Some(UasOutcome::None) | None => {
                if let Some(timer) = leg.timer.as_mut() {
                    timer.restart(now);
                }
            }
        }
        Ok(())
    }

    /// 422 with the switch's Min-SE (RFC 4028 §6).
    fn interval_too_small(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
        min: Duration,
    ) {
        let status = StatusCode::from_u16(422).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = self.response_for(&request, side, status);
        response
            .headers_mut()
            .push(HeaderName::MinSe, min.as_secs().to_string());
        self.serve(now, request, route, Role::Answered(side), Some(response));
    }

    /// The switch answers a refresh itself: 200 with the SDP it last sent `side` (when the
    /// request carried an offer) and the leg's session timer.
    fn answer_locally(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
        with_sdp: bool,
    ) {
        let body = if with_sdp {
            self.sdp_mut(side).last_sent().cloned()
        } else {
            None
        };
        let response = self.dialog_ok(&request, side, StatusCode::OK, body.as_ref());
        let is_invite = *request.method() == Method::Invite;
        let seq = request.headers().cseq().map(|c| c.seq).unwrap_or(0);
        let bytes = response.encode();
        self.serve(now, request, route, Role::Answered(side), Some(response));
        if is_invite {
            self.expect_ack(
                now,
                side,
                seq,
                bytes,
                Destination::Response(route),
                AfterAck::Nothing,
            );
        }
    }

    /// A 2xx to a target-refresh request from `side`: the switch's Contact, Allow, Supported
    /// and the leg's Session-Expires (RFC 4028 §9), with `body` as SDP.
    fn dialog_ok(
        &self,
        request: &Request,
        side: LegSide,
        status: StatusCode,
        body: Option<&Bytes>,
    ) -> Response {
        let mut response = self.response_for(request, side, status);
        let headers = response.headers_mut();
        if let Some(leg) = self.leg(side) {
            headers.push(HeaderName::Contact, outgoing::contact(&leg.flow));
            if let Some(timer) = leg.timer {
                // The phone sent this request: it is the UAC of this refresh.
                let refresher = if timer.switch_refreshes() {
                    Refresher::Uas
                } else {
                    Refresher::Uac
                };
                headers.push(
                    HeaderName::SessionExpires,
                    session_timer::header_value(timer.interval(), refresher),
                );
                if leg.supports_timer {
                    headers.push(HeaderName::Require, "timer");
                }
            }
        }
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::Supported, SUPPORTED);
        outgoing::with_sdp(response, body)
    }

    /// The Session-Expires a request the switch sends on `side` carries.
    pub(super) fn session_expires_for_request(&self, side: LegSide) -> Option<String> {
        let timer = self.leg(side)?.timer?;
        Some(session_timer::header_value(
            timer.interval(),
            timer.refresher_as_uac(),
        ))
    }

    /// Relays an offer (or, with `None`, a late-offer re-INVITE) from `side`.
    fn relay_offer(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
        sdp: Option<Sdp>,
    ) {
        let late = sdp.is_none();
        let previous = self.sdp_mut(side).received().cloned();
        let body = sdp.map(|sdp| self.hear(side, &sdp));
        let id = self.next_relay;
        self.relay_request(now, side, request, route, RelayKind::Offer { late }, body);
        match self.relays.iter_mut().find(|r| r.id == id) {
            Some(relay) => relay.previous = previous,
            None => self.offer_failed(side, previous),
        }
    }

    /// Takes an SDP from `side`'s phone: tells the actor where its media goes and returns
    /// the body for the other side.
    fn hear(&mut self, side: LegSide, sdp: &Sdp) -> Bytes {
        self.sdp_mut(side).heard(&sdp.parsed);
        self.remote_media(side, phone_media(&sdp.parsed));
        let to = other(side);
        let relay = self.media.relay_for(to);
        self.sdp_mut(to).render(relay, sdp)
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

    /// An offer from `side` failed (RFC 3264 §8: the session stays as it was): its phone's
    /// previous SDP is current again, and the actor hears of its media again.
    fn offer_failed(&mut self, side: LegSide, previous: Option<SessionDescription>) {
        let changed = self.sdp_mut(side).received() != previous.as_ref();
        if changed && let Some(sdp) = &previous {
            self.remote_media(side, phone_media(sdp));
        }
        self.sdp_mut(side).restore(previous);
    }

    /// A 2xx on `side` to a request the switch sent there: the session on that leg is
    /// refreshed, with the interval and refresher the 2xx names (RFC 4028 §7.2).
    fn answered_refresh(&mut self, now: Instant, side: LegSide, response: &Response) {
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        let current = leg.timer.map(|t| t.interval());
        leg.timer = session_timer::negotiate_as_uac(response.headers(), current)
            .map(|(interval, refresher)| LegTimer::new(now, interval, refresher == Refresher::Uac));
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

    /// A relayed request got no final response: its originator gets 408.
    pub(super) fn on_relay_gone(&mut self, now: Instant, id: u32) {
        let Some(position) = self.relays.iter().position(|r| r.id == id) else {
            return;
        };
        let relay = self.relays.remove(position);
        if matches!(relay.kind, RelayKind::Offer { .. }) {
            self.offer_failed(relay.from, relay.previous.clone());
        }
        if let Some(request) = self.txs.request(&relay.server).cloned() {
            let response = self.response_for(&request, relay.from, StatusCode::REQUEST_TIMEOUT);
            let _ = self.txs.respond(&relay.server, now, response);
        }
    }

    /// The originator cancelled a relayed re-INVITE (RFC 3261 §9.2): 487 to it, CANCEL on the
    /// other side.
    pub(super) fn cancel_relay(&mut self, now: Instant, id: u32) {
        let Some(position) = self.relays.iter().position(|r| r.id == id) else {
            return;
        };
        let relay = self.relays.remove(position);
        self.offer_failed(relay.from, relay.previous.clone());
        if let Some(request) = self.txs.request(&relay.server).cloned() {
            let response = self.response_for(&request, relay.from, StatusCode::REQUEST_TERMINATED);
            let _ = self.txs.respond(&relay.server, now, response);
        }
        if self.txs.invite_pending(&relay.client)
            && let Some(invite) = self.txs.request(&relay.client)
        {
            let cancel = outgoing::cancel_for(invite);
            if let Some(flow) = self.leg(other(relay.from)).map(|leg| leg.flow) {
                self.send_request(now, cancel, flow, Role::Detached);
            }
        }
    }

    /// `side`'s session timer fired: the switch refreshes, or the session has expired
    /// (RFC 4028 §10).
    pub(super) fn session_timer_due(&mut self, now: Instant, side: LegSide) {
        let Some(leg) = self.leg(side) else {
            return;
        };
        let Some(timer) = leg.timer else {
            return;
        };
        if !timer.switch_refreshes() {
            self.tear_down(
                now,
                HangupCause::SessionTimeout,
                HangupSide::Switch,
                true,
                true,
            );
            return;
        }
        if self.offer_pending() {
            if let Some(timer) = self.leg_mut(side).and_then(|leg| leg.timer.as_mut()) {
                timer.retry_at(now + REFRESH_RETRY);
            }
            return;
        }
        let body = self.sdp_mut(side).last_sent().cloned();
        let user_agent = self.settings.user_agent.clone();
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        // RFC 4028 §7.4: UPDATE when the peer allows it, else a re-INVITE with the last SDP.
        let method = if leg.allows_update || body.is_none() {
            Method::Update
        } else {
            Method::Invite
        };
        let flow = leg.flow;
        let Ok(request) = leg
            .dialog
            .create_request(method.clone(), outgoing::via(&flow))
        else {
            // The leg's dialog is gone (a 481 or 408 ended it): the session cannot go on.
            self.tear_down(
                now,
                HangupCause::SessionTimeout,
                HangupSide::Switch,
                true,
                true,
            );
            return;
        };
        leg.refreshing = Some(method.clone());
        let mut request = request;
        let headers = request.headers_mut();
        headers.push(
            HeaderName::SessionExpires,
            session_timer::header_value(timer.interval(), Refresher::Uac),
        );
        headers.push(HeaderName::Supported, SUPPORTED);
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::UserAgent, user_agent);
        let request = if method == Method::Invite {
            outgoing::request_with_sdp(request, body.as_ref())
        } else {
            request
        };
        self.send_request(now, request, flow, Role::Refresh(side));
    }

    /// The final response to the switch's refresh on `side`.
    pub(super) fn on_refresh_response(
        &mut self,
        now: Instant,
        side: LegSide,
        key: &TransactionKey,
        response: Response,
    ) {
        let status = response.status();
        if status.is_provisional() {
            return;
        }
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        let method = leg.refreshing.take();
        let _ = leg.dialog.handle_response(&response);
        if status.is_success() {
            if method == Some(Method::Invite) {
                let seq = response.headers().cseq().map(|c| c.seq).unwrap_or(0);
                self.ack_leg(side, seq, key.clone(), CallMachine::tag_of(&response), None);
            }
            self.answered_refresh(now, side, &response);
            if let Ok(Some(sdp)) = read_sdp(response.headers(), response.body())
                && self.sdp_mut(side).is_new_from_phone(&sdp.parsed)
            {
                self.sdp_mut(side).heard(&sdp.parsed);
                self.remote_media(side, phone_media(&sdp.parsed));
            }
        } else if status == StatusCode::REQUEST_PENDING {
            // RFC 3261 §14.1: try again after a random 2.1 to 4 s.
            let wait = Duration::from_millis(rand::thread_rng().gen_range(2100..=4000));
            if let Some(timer) = self.leg_mut(side).and_then(|leg| leg.timer.as_mut()) {
                timer.retry_at(now + wait);
            }
        } else {
            self.tear_down(
                now,
                HangupCause::SessionTimeout,
                HangupSide::Switch,
                true,
                true,
            );
        }
    }

    /// The switch's refresh got no response (RFC 4028 §10: the session ends).
    pub(super) fn on_refresh_failed(&mut self, now: Instant, side: LegSide) {
        if let Some(leg) = self.leg_mut(side) {
            leg.refreshing = None;
        }
        self.tear_down(
            now,
            HangupCause::SessionTimeout,
            HangupSide::Switch,
            true,
            true,
        );
    }
}
