//! Offer/answer inside a confirmed call: re-INVITE and UPDATE from either side, relayed to
//! the other (see `relay`) or answered by the switch when nothing changed, glare
//! (RFC 3261 §14.2, RFC 3311 §5.2), the session refresh a request from a phone brings
//! (RFC 4028 §9) and what a failed offer leaves behind (RFC 3264 §8).
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::message::{HeaderName, Method, Request, Response, StatusCode};
use sip_core::sdp::SessionDescription;

use super::ack::AfterAck;
use super::api::Destination;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::relay::RelayKind;
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::session_timer::{self, LegTimer, Refresher, UasOutcome};
use super::transactions::Role;
use super::{CallMachine, other};
use crate::call::record::LegSide;
use crate::sip::response_route::ResponseRoute;

impl CallMachine {
    /// True while an offer/answer exchange is in progress anywhere in the call: a new offer
    /// then gets 491 (RFC 3261 §14.2, RFC 3311 §5.2).
    pub(super) fn offer_pending(&self) -> bool {
        !self.is_connected()
            || self.awaiting_ack()
            || self
                .relays
                .iter()
                .any(|r| matches!(r.kind, RelayKind::Offer { .. }))
            || [&self.a_leg, &self.b_leg].into_iter().flatten().any(|leg| {
                leg.refreshing
                    .as_ref()
                    .is_some_and(|r| r.method == Method::Invite)
            })
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
                self.answer_refresh(now, side, request, route, true);
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
            Some(_) => self.answer_refresh(now, side, request, route, true),
            None => self.answer_refresh(now, side, request, route, false),
        }
    }

    /// RFC 4028 §9: a re-INVITE or UPDATE from `side` refreshes its session; one with
    /// Session-Expires renegotiates it (Err: below Min-SE).
    pub(super) fn refreshed_by(
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
    pub(super) fn interval_too_small(
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
    fn answer_refresh(
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
        self.answer_ok(now, side, request, route, body.as_ref());
    }

    /// Answers `request` from `side` with a 200 carrying `body` as SDP (and the leg's session
    /// timer); a re-INVITE's 2xx is then retransmitted until its ACK (RFC 3261 §13.3.1.4).
    pub(super) fn answer_ok(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
        body: Option<&Bytes>,
    ) {
        let response = self.dialog_ok(&request, side, StatusCode::OK, body);
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
    pub(super) fn dialog_ok(
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
    pub(super) fn hear(&mut self, side: LegSide, sdp: &Sdp) -> Bytes {
        self.sdp_mut(side).heard(&sdp.parsed);
        self.remote_media(side, phone_media(&sdp.parsed));
        let to = other(side);
        let relay = self.media.relay_for(to);
        self.sdp_mut(to).render(relay, sdp)
    }

    /// An offer from `side` failed (RFC 3264 §8: the session stays as it was): its phone's
    /// previous SDP is current again, and the actor hears of its media again.
    pub(super) fn offer_failed(&mut self, side: LegSide, previous: Option<SessionDescription>) {
        let changed = self.sdp_mut(side).received() != previous.as_ref();
        if changed && let Some(sdp) = &previous {
            self.remote_media(side, phone_media(sdp));
        }
        self.sdp_mut(side).restore(previous);
    }

    /// A 2xx on `side` to a request the switch sent there: the session on that leg is
    /// refreshed, with the interval and refresher the 2xx names (RFC 4028 §7.2).
    pub(super) fn answered_refresh(&mut self, now: Instant, side: LegSide, response: &Response) {
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        let current = leg.timer.map(|t| t.interval());
        leg.timer = session_timer::negotiate_as_uac(response.headers(), current)
            .map(|(interval, refresher)| LegTimer::new(now, interval, refresher == Refresher::Uac));
    }
}
