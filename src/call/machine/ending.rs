//! How a call ends: failing an unanswered call, tearing down an answered one, the one call
//! record, and when every transaction is done.
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use sip_core::dialog::DialogState;
use sip_core::message::{HeaderName, Method, StatusCode};

use super::api::CallEvent;
use super::branch::Cancel;
use super::outgoing;
use super::transactions::Role;
use super::{CallMachine, Phase};
use crate::call::cause::HangupCause;
use crate::call::record::{CallRecord, Hangup, HangupSide, LegRecord, LegSide};
use crate::cluster::UnixMillis;

impl CallMachine {
    /// Ends an unanswered call: every branch is cancelled (RFC 3261 §9.1) and the caller gets
    /// `status`; an originated call's A leg is cancelled, or gets BYE once it answered.
    pub(super) fn fail_unanswered(
        &mut self,
        now: Instant,
        status: StatusCode,
        reason: Option<&str>,
        cause: HangupCause,
        side: HangupSide,
    ) {
        if self.phase == Phase::Ended {
            return;
        }
        self.ring_deadline = None;
        for n in 0..self.branches.len() {
            self.cancel_branch(now, n);
        }
        self.hang_up_origin(now);
        if self.caller_unanswered() {
            let mut response = self.caller_response(status);
            if let Some(reason) = reason {
                response.set_reason(reason);
            }
            self.caller.final_status = Some(status.as_u16());
            self.respond_caller(now, response);
        }
        self.end_call(now, cause, side, status.as_u16());
    }

    /// Ends an answered call with BYE to the sides named (RFC 3261 §15.1.1). A side still
    /// waiting for the ACK of a late-offer 2xx gets it first, without a body.
    pub(super) fn tear_down(
        &mut self,
        now: Instant,
        cause: HangupCause,
        side: HangupSide,
        bye_a: bool,
        bye_b: bool,
    ) {
        if self.phase == Phase::Ended {
            return;
        }
        self.flush_pending_acks();
        if bye_a {
            self.send_bye(now, LegSide::A);
        }
        if bye_b {
            self.send_bye(now, LegSide::B);
        }
        self.end_call(now, cause, side, StatusCode::OK.as_u16());
    }

    /// Sends BYE on `side`'s dialog, unless it has ended.
    pub(super) fn send_bye(&mut self, now: Instant, side: LegSide) {
        let user_agent = self.settings.user_agent.clone();
        let Some(leg) = self.leg_mut(side) else {
            return;
        };
        if leg.dialog.state() == DialogState::Terminated {
            return;
        }
        let flow = leg.flow;
        let bye = leg.dialog.create_request(Method::Bye, outgoing::via(&flow));
        leg.dialog.terminate();
        match bye {
            Ok(mut bye) => {
                bye.headers_mut().push(HeaderName::UserAgent, user_agent);
                self.send_request(now, bye, flow, Role::Detached);
            }
            Err(error) => tracing::debug!(%error, "no BYE for a leg"),
        }
    }

    /// The call is over: the record goes out once, requests still waiting for an answer get
    /// one, and the machine finishes when its transactions have (at most 64*T1 from now).
    pub(super) fn end_call(
        &mut self,
        now: Instant,
        cause: HangupCause,
        side: HangupSide,
        sip_status: u16,
    ) {
        if self.phase == Phase::Ended {
            return;
        }
        if self.caller_unanswered() {
            let status = cause.sip_status();
            self.caller.final_status = Some(status.as_u16());
            let response = self.caller_response(status);
            self.respond_caller(now, response);
        }
        self.phase = Phase::Ended;
        self.ended_cause = Some(cause);
        self.ring_deadline = None;
        self.max_duration_deadline = None;
        self.oks.clear();
        self.relays.clear();
        for key in self.txs.unanswered_servers() {
            let Some(request) = self.txs.request(&key) else {
                continue;
            };
            // RFC 3261 §15.1.2: requests of a dialog being ended are answered 487 (INVITE)
            // or 481.
            let status = if *request.method() == Method::Invite {
                StatusCode::REQUEST_TERMINATED
            } else {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            };
            let response = outgoing::response(request, status, None, &self.settings.user_agent);
            let _ = self.txs.respond(&key, now, response);
        }
        let hangup = Hangup {
            cause: cause.code().to_owned(),
            sip_status,
            q850: cause.q850(),
            side,
        };
        let record = self.record(now, hangup);
        self.events.push_back(CallEvent::Ended(Box::new(record)));
        self.finish_deadline = Some(now + self.transaction_timeout());
    }

    /// Every transaction is done (or 64*T1 passed since the end): the actor may stop.
    pub(super) fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.finish_deadline = None;
            self.events.push_back(CallEvent::Finished);
        }
    }

    /// The wall-clock time of `at`.
    pub(super) fn wall_at(&self, at: Instant) -> UnixMillis {
        let since = at.saturating_duration_since(self.epoch).as_millis();
        UnixMillis(
            self.wall
                .0
                .saturating_add(u64::try_from(since).unwrap_or(u64::MAX)),
        )
    }

    /// The call record at the end of the call.
    fn record(&self, now: Instant, hangup: Hangup) -> CallRecord {
        let headers = self.caller.invite.headers();
        let from_uri = headers
            .from()
            .map(|f| f.uri.to_string())
            .unwrap_or_default();
        let ended_at = self.wall_at(now);
        let answered_at = self.answered_at.map(|at| self.wall_at(at));
        let origin = self.origin_leg_record(now);
        let mut legs = vec![origin.unwrap_or_else(|| LegRecord {
            side: LegSide::A,
            sip_call_id: self.a_call_id.clone(),
            local_tag: self.caller.tag.clone(),
            remote_tag: Some(self.caller.remote_tag.clone()).filter(|t| !t.is_empty()),
            target: self.caller.invite.uri().to_string(),
            signalling_addr: Some(self.caller.peer.remote),
            started_at: self.wall,
            answered_at,
            ended_at,
            final_status: self.caller.final_status,
            media: None,
            trunk: None,
            stage: 0,
        })];
        for branch in &self.branches {
            legs.push(LegRecord {
                side: LegSide::B,
                sip_call_id: self.b_call_id.clone(),
                local_tag: self.b_tag.clone(),
                remote_tag: branch.remote_tag.clone(),
                target: branch.target.uri.to_string(),
                signalling_addr: Some(branch.target.flow.remote),
                started_at: self.wall_at(branch.started),
                answered_at: branch.answered.map(|at| self.wall_at(at)),
                ended_at: branch.ended.map_or(ended_at, |at| self.wall_at(at)),
                // A branch the switch cancelled whose 487 had not come back when the call
                // ended: RFC 3261 §9.2 makes 487 its answer, and the record is written now.
                final_status: branch.final_status.or(match branch.cancel {
                    Cancel::No => None,
                    Cancel::Waiting | Cancel::Sent => Some(487),
                }),
                media: None,
                trunk: branch.target.trunk.clone(),
                stage: branch.stage,
            });
        }
        CallRecord {
            call_id: self.id,
            profile: self.profile.clone(),
            from_uri,
            caller: self.caller_user.clone(),
            to_uri: self.caller.invite.uri().to_string(),
            started_at: self.wall,
            answered_at,
            ended_at,
            hangup,
            legs,
            recording: None,
        }
    }
}
