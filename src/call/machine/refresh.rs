//! The switch's own RFC 4028 session refreshes: sending them when a leg's timer is due
//! (UPDATE, or a re-INVITE with the last SDP, §7.4), their responses, the retry after 491,
//! and ending the call when a refresh fails, never comes or never gets its final response
//! (§10).
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use rand::Rng;
use sip_core::message::{HeaderName, Method, Response, StatusCode};
use sip_core::transaction::TransactionKey;

use super::CallMachine;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::relay::TIMER_C;
use super::sdp_rewrite::{phone_media, read_sdp};
use super::session_timer::{self, Refresher};
use super::transactions::Role;
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};

/// How long the switch waits to retry its refresh while another offer is pending.
const REFRESH_RETRY: Duration = Duration::from_secs(2);

/// The switch's refresh in flight on one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refreshing {
    /// UPDATE or INVITE.
    pub(super) method: Method,
    /// When the refresh counts as failed if no final response came.
    pub(super) give_up: Instant,
}

impl CallMachine {
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
        // A re-INVITE that got a provisional response has no transaction timer left
        // (RFC 3261 §17.1.1.2): the refresh gives up after Timer C or the session interval.
        leg.refreshing = Some(Refreshing {
            method: method.clone(),
            give_up: now + TIMER_C.min(timer.interval()),
        });
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
        leg.refreshing = None;
        let _ = leg.dialog.handle_response(&response);
        if status.is_success() {
            // RFC 3261 §13.2.2.4: a re-INVITE's 2xx gets its ACK, even for a refresh given up.
            if let Ok(cseq) = response.headers().cseq()
                && cseq.method == Method::Invite
            {
                let tag = CallMachine::tag_of(&response);
                self.ack_leg(side, cseq.seq, key.clone(), tag, None);
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

    /// The switch's refresh on either leg that has waited too long for its final response
    /// ends the call like one that failed.
    pub(super) fn refresh_timers(&mut self, now: Instant) {
        for side in [LegSide::A, LegSide::B] {
            let expired = self
                .leg(side)
                .and_then(|leg| leg.refreshing.as_ref())
                .is_some_and(|r| r.give_up <= now);
            if expired {
                self.on_refresh_failed(now, side);
            }
        }
    }

    /// When a refresh in flight gives up.
    pub(super) fn refresh_deadline(&self) -> Option<Instant> {
        [&self.a_leg, &self.b_leg]
            .into_iter()
            .flatten()
            .filter_map(|leg| leg.refreshing.as_ref().map(|r| r.give_up))
            .min()
    }
}
