//! The callee's side before answer: one INVITE per target (parallel forking), provisional
//! responses relayed to the caller, the first 2xx winning, CANCEL for the others, and the
//! caller's answer when every branch failed (RFC 3261 §16.7 step 6 style).
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use sip_core::dialog::Dialog;
use sip_core::message::{HeaderName, Method, NameAddr, Request, Response, StatusCode};
use sip_core::transaction::TransactionKey;

use super::ack::AfterAck;
use super::api::Target;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::session_timer::{self, LegTimer, Refresher};
use super::transactions::Role;
use super::{CallMachine, Leg, Phase};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};

/// RFC 3261 §8.1.1.6: the most Max-Forwards the switch sends.
const MAX_FORWARDS: u32 = 70;

/// Whether an INVITE the switch sent (a branch, a relayed re-INVITE) is being cancelled
/// (RFC 3261 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancel {
    /// Not cancelled.
    No,
    /// Cancelled before any provisional response: the CANCEL waits for the first one.
    Waiting,
    /// CANCEL sent.
    Sent,
}

/// One forked INVITE to one target.
#[derive(Debug)]
pub(super) struct Branch {
    /// Where it rings.
    pub(super) target: Target,
    /// The INVITE sent (CANCEL and ACKs are built from it).
    pub(super) invite: Request,
    /// Its client transaction's key.
    pub(super) key: TransactionKey,
    /// When it was sent.
    pub(super) started: Instant,
    /// A provisional response arrived.
    pub(super) provisional: bool,
    /// Cancellation state.
    pub(super) cancel: Cancel,
    /// The final status received (408 for Timer B, 503 for a transport failure).
    pub(super) final_status: Option<u16>,
    /// Its reason phrase, for relaying a failure to the caller.
    pub(super) final_reason: String,
    /// When it answered.
    pub(super) answered: Option<Instant>,
    /// When it failed or lost.
    pub(super) ended: Option<Instant>,
    /// The callee's To tag, when it sent one.
    pub(super) remote_tag: Option<String>,
    /// The SDP of the last 180/183 that had one, with that response's To tag.
    pub(super) early_sdp: Option<(String, Sdp)>,
}

/// Rank of a failure for the caller's answer: lower is better. 6xx first; then busy; then
/// other client errors; then timeouts; then server errors; redirects and cancellations last.
fn failure_rank(status: u16) -> (u8, u16) {
    let rank = match status {
        600..=699 => 0,
        486 => 1,
        487 => 6,
        408 => 3,
        400..=499 => 2,
        500..=599 => 4,
        _ => 5,
    };
    (rank, status)
}

/// The CSeq number of an INVITE the switch built.
fn invite_seq(invite: &Request) -> u32 {
    invite.headers().cseq().map_or(1, |c| c.seq)
}

impl CallMachine {
    /// Sends one INVITE per target.
    pub(super) fn dial_targets(&mut self, now: Instant, targets: Vec<Target>) {
        if self.phase != Phase::Routing {
            return;
        }
        if targets.is_empty() {
            let cause = HangupCause::UserNotRegistered;
            self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
            return;
        }
        let offer = self.caller.offer.clone();
        let relay = self.media.relay_for(LegSide::B);
        let body = offer.as_ref().map(|sdp| self.sdp_b.render(relay, sdp));
        for target in targets {
            let invite = self.branch_invite(&target, body.as_ref());
            let Ok(key) = TransactionKey::for_client_request(&invite) else {
                continue;
            };
            let n = self.branches.len();
            self.branches.push(Branch {
                target: target.clone(),
                invite: invite.clone(),
                key,
                started: now,
                provisional: false,
                cancel: Cancel::No,
                final_status: None,
                final_reason: String::new(),
                answered: None,
                ended: None,
                remote_tag: None,
                early_sdp: None,
            });
            self.send_request(now, invite, target.flow, Role::Branch(n));
        }
        self.phase = Phase::Ringing;
        self.ring_deadline = Some(now + self.settings.ring_timeout);
    }

    /// The INVITE to one target: only the caller's identity and the (rewritten) offer come
    /// from the caller's INVITE; everything else is the switch's.
    fn branch_invite(&self, target: &Target, body: Option<&bytes::Bytes>) -> Request {
        let source = self.caller.invite.headers();
        let mut invite = Request::new(Method::Invite, target.uri.clone());
        let max_forwards = source
            .max_forwards()
            .ok()
            .flatten()
            .map_or(MAX_FORWARDS, |n| n.saturating_sub(1).min(MAX_FORWARDS));
        let from = source.from().ok().map(|caller| {
            let mut from = NameAddr::new(caller.uri);
            from.display_name = caller.display_name;
            from
        });
        let mut from = from.unwrap_or_else(|| NameAddr::new(outgoing::contact_uri(&target.flow)));
        from.set_tag(&self.b_tag);
        let to = source
            .to()
            .map(|to| NameAddr::new(to.uri))
            .unwrap_or_else(|_| NameAddr::new(target.uri.clone()));
        let headers = invite.headers_mut();
        headers.push(HeaderName::Via, outgoing::via(&target.flow).to_string());
        headers.push(HeaderName::MaxForwards, max_forwards);
        headers.push(HeaderName::From, from.to_string());
        headers.push(HeaderName::To, to.to_string());
        headers.push(HeaderName::CallId, self.b_call_id.as_str());
        headers.push(HeaderName::CSeq, "1 INVITE");
        headers.push(HeaderName::Contact, outgoing::contact(&target.flow));
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::Supported, SUPPORTED);
        headers.push(HeaderName::UserAgent, self.settings.user_agent.as_str());
        if let Some(interval) = self.settings.session_expires {
            headers.push(HeaderName::SessionExpires, interval.as_secs().to_string());
            headers.push(
                HeaderName::MinSe,
                self.settings.min_se.as_secs().to_string(),
            );
        }
        outgoing::request_with_sdp(invite, body)
    }

    /// A response on branch `n`'s INVITE.
    pub(super) fn on_branch_response(
        &mut self,
        now: Instant,
        n: usize,
        key: &TransactionKey,
        response: Response,
    ) {
        let status = response.status();
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        if let Some(tag) = response
            .headers()
            .to()
            .ok()
            .and_then(|to| to.tag().map(str::to_owned))
        {
            branch.remote_tag = Some(tag);
        }
        if status.is_provisional() {
            branch.provisional = true;
            if status != StatusCode::TRYING
                && let Ok(Some(sdp)) = read_sdp(response.headers(), response.body())
            {
                branch.early_sdp = Some((CallMachine::tag_of(&response), sdp));
            }
            if branch.cancel == Cancel::Waiting {
                self.send_cancel(now, n);
                return;
            }
            if self.phase == Phase::Ringing
                && branch.cancel == Cancel::No
                && status != StatusCode::TRYING
            {
                self.on_early_response(now, response);
            }
        } else if status.is_success() {
            self.on_branch_2xx(now, n, key, response);
        } else if status.as_u16() == 422
            && branch.cancel == Cancel::No
            && self.phase == Phase::Ringing
            && let Some(min) = session_timer::min_se(response.headers())
            && branch.invite.headers().cseq().is_ok_and(|c| c.seq == 1)
        {
            self.retry_with_interval(now, n, min);
        } else {
            branch.final_status = Some(status.as_u16());
            branch.final_reason = response.reason().to_owned();
            branch.ended = Some(now);
            if branch.cancel == Cancel::No {
                self.on_branch_failed(now, status.as_u16());
            }
        }
    }

    /// RFC 4028 §6: a 422 names the callee's Min-SE; the branch's INVITE is sent once more
    /// (new branch, next CSeq) with that interval.
    fn retry_with_interval(&mut self, now: Instant, n: usize, min: std::time::Duration) {
        let ours = self.settings.session_expires.unwrap_or_default();
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        let mut invite = branch.invite.clone();
        let headers = invite.headers_mut();
        headers.set(
            HeaderName::Via,
            outgoing::via(&branch.target.flow).to_string(),
        );
        headers.set(HeaderName::CSeq, "2 INVITE");
        headers.set(
            HeaderName::SessionExpires,
            ours.max(min).as_secs().to_string(),
        );
        headers.set(HeaderName::MinSe, min.as_secs().to_string());
        let Ok(key) = TransactionKey::for_client_request(&invite) else {
            return;
        };
        branch.invite = invite.clone();
        branch.key = key;
        branch.provisional = false;
        let flow = branch.target.flow;
        self.send_request(now, invite, flow, Role::Branch(n));
    }

    /// Relays a 180/183 to the caller, with its early media SDP.
    fn on_early_response(&mut self, now: Instant, response: Response) {
        let body = match read_sdp(response.headers(), response.body()) {
            Ok(Some(sdp)) => {
                self.sdp_b.heard(&sdp.parsed);
                self.remote_media(LegSide::B, phone_media(&sdp.parsed));
                let relay = self.media.relay_for(LegSide::A);
                Some(self.sdp_a.render(relay, &sdp))
            }
            _ => None,
        };
        self.relay_provisional(now, response.status(), response.reason(), body);
    }

    /// Branch `n` can no longer answer (Timer B or a transport failure).
    pub(super) fn on_branch_gone(&mut self, now: Instant, n: usize) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        if branch.final_status.is_some() {
            return;
        }
        branch.final_status = Some(StatusCode::REQUEST_TIMEOUT.as_u16());
        branch.final_reason = StatusCode::REQUEST_TIMEOUT.canonical_reason().to_owned();
        branch.ended = Some(now);
        if branch.cancel == Cancel::No {
            self.on_branch_failed(now, StatusCode::REQUEST_TIMEOUT.as_u16());
        }
    }

    /// A branch failed: a 6xx ends the call at once (RFC 3261 §16.7 step 5); otherwise the
    /// caller gets the best failure once every branch has failed.
    fn on_branch_failed(&mut self, now: Instant, status: u16) {
        if self.phase != Phase::Ringing {
            return;
        }
        let decided = if (600..700).contains(&status) {
            self.branches
                .iter()
                .find(|b| b.final_status == Some(status))
                .map(|b| (status, b.final_reason.clone()))
        } else if self.branches.iter().all(|b| b.final_status.is_some()) {
            self.branches
                .iter()
                .filter_map(|b| b.final_status.map(|s| (s, b.final_reason.clone())))
                .min_by_key(|(s, _)| failure_rank(*s))
        } else {
            None
        };
        let Some((best, reason)) = decided else {
            return;
        };
        // Redirects are not followed, and their Contact is the callee's: the caller gets 480.
        let (relayed, reason) = if (300..400).contains(&best) {
            (StatusCode::TEMPORARILY_UNAVAILABLE, None)
        } else {
            (
                StatusCode::from_u16(best).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR),
                Some(reason),
            )
        };
        let cause = HangupCause::from_sip_status(relayed.as_u16());
        self.fail_unanswered(now, relayed, reason.as_deref(), cause, HangupSide::Callee);
    }

    /// A 2xx on branch `n`: the first one wins; any other is acknowledged and hung up
    /// (RFC 3261 §13.2.2.4).
    fn on_branch_2xx(&mut self, now: Instant, n: usize, key: &TransactionKey, response: Response) {
        let tag = CallMachine::tag_of(&response);
        let winner = self.branches.get(n).is_some_and(|b| b.answered.is_some())
            && self
                .b_leg
                .as_ref()
                .is_some_and(|leg| leg.dialog.id().remote_tag.as_str() == tag);
        if winner {
            // A retransmission of the answer whose ACK waits for the caller's (late offer).
            return;
        }
        let wins = self.phase == Phase::Ringing
            && self.branches.get(n).is_some_and(|b| b.cancel == Cancel::No);
        if !wins {
            self.ack_and_bye(now, n, key, &response);
            return;
        }
        let Some(branch) = self.branches.get(n) else {
            return;
        };
        let sdp = match read_sdp(response.headers(), response.body()) {
            Ok(Some(sdp)) => Some(sdp),
            // RFC 3261 §13.2.1 wants the answer in the 2xx even when a provisional response
            // carried it; some gateways leave it out of the 2xx, so the one they sent in
            // their 183 on the same dialog stands. A late offer needs the 2xx's own.
            Ok(None) if self.caller.offer.is_some() => branch
                .early_sdp
                .as_ref()
                .filter(|(early_tag, _)| *early_tag == tag)
                .map(|(_, sdp)| sdp.clone()),
            Ok(None) | Err(_) => None,
        };
        let invite = branch.invite.clone();
        // RFC 3264 §4: the 2xx carries the answer (or, after a late offer, the offer); without
        // one, or without a dialog, the branch cannot be connected.
        let dialog = Dialog::new_uac(&invite, &response);
        match (dialog, sdp) {
            (Ok(dialog), Some(sdp)) => self.answer(now, n, key, dialog, response, sdp),
            (Ok(_), None) | (Err(_), _) => {
                tracing::debug!(branch = n, "2xx without SDP or dialog: hung up");
                self.ack_and_bye(now, n, key, &response);
                if let Some(branch) = self.branches.get_mut(n) {
                    branch.final_status = Some(StatusCode::NOT_ACCEPTABLE_HERE.as_u16());
                    branch.final_reason = StatusCode::NOT_ACCEPTABLE_HERE
                        .canonical_reason()
                        .to_owned();
                }
                self.on_branch_failed(now, StatusCode::NOT_ACCEPTABLE_HERE.as_u16());
            }
        }
    }

    /// Branch `n` answered first: it becomes the B leg, the others are cancelled and the
    /// caller gets the 2xx.
    fn answer(
        &mut self,
        now: Instant,
        n: usize,
        key: &TransactionKey,
        dialog: Dialog,
        response: Response,
        sdp: Sdp,
    ) {
        let tag = CallMachine::tag_of(&response);
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        branch.final_status = Some(response.status().as_u16());
        branch.answered = Some(now);
        let flow = branch.target.flow;
        let seq = invite_seq(&branch.invite);
        self.phase = Phase::Answered;
        self.ring_deadline = None;
        self.answered_at = Some(now);
        self.max_duration_deadline = self.settings.max_duration.map(|d| now + d);
        for other in 0..self.branches.len() {
            if other != n {
                self.cancel_branch(now, other);
            }
        }
        let headers = response.headers();
        let timer = session_timer::negotiate_as_uac(headers, self.settings.session_expires)
            .map(|(interval, refresher)| LegTimer::new(now, interval, refresher == Refresher::Uac));
        self.b_leg = Some(Leg {
            dialog,
            flow,
            timer,
            allows_update: outgoing::allows_update(headers),
            supports_timer: outgoing::supports_timer(headers),
            refreshing: None,
        });
        self.sdp_b.heard(&sdp.parsed);
        self.remote_media(LegSide::B, phone_media(&sdp.parsed));
        let relay = self.media.relay_for(LegSide::A);
        let body = self.sdp_a.render(relay, &sdp);
        let then = if self.caller.offer.is_some() {
            // RFC 3261 §13.2.2.4: ACK the 2xx at once; its answer completed the exchange.
            self.ack_leg(LegSide::B, seq, key.clone(), tag, None);
            AfterAck::Nothing
        } else {
            // RFC 3264 §4: late offer: the caller's ACK carries the answer for the callee.
            AfterAck::AckOther {
                side: LegSide::B,
                seq,
                key: key.clone(),
                tag,
            }
        };
        self.answer_caller(now, response.status(), Some(body), then);
    }

    /// ACK and BYE for a 2xx the call does not use (RFC 3261 §13.2.2.4).
    fn ack_and_bye(&mut self, now: Instant, n: usize, key: &TransactionKey, response: &Response) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        if branch.final_status.is_none() {
            branch.final_status = Some(response.status().as_u16());
            branch.ended = Some(now);
        }
        let flow = branch.target.flow;
        let Ok(mut dialog) = Dialog::new_uac(&branch.invite, response) else {
            return;
        };
        let ack = dialog.create_ack(invite_seq(&branch.invite), outgoing::via(&flow));
        self.remember_ack(key.clone(), CallMachine::tag_of(response), &ack, flow);
        if let Ok(mut bye) = dialog.create_request(Method::Bye, outgoing::via(&flow)) {
            bye.headers_mut()
                .push(HeaderName::UserAgent, self.settings.user_agent.as_str());
            self.send_request(now, bye, flow, Role::Detached);
        }
    }

    /// Cancels branch `n` unless it has a final response; before its first provisional
    /// response the CANCEL waits (RFC 3261 §9.1).
    pub(super) fn cancel_branch(&mut self, now: Instant, n: usize) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        if branch.final_status.is_some() || branch.cancel != Cancel::No {
            return;
        }
        if branch.provisional {
            self.send_cancel(now, n);
        } else {
            branch.cancel = Cancel::Waiting;
        }
    }

    fn send_cancel(&mut self, now: Instant, n: usize) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        branch.cancel = Cancel::Sent;
        if !self.txs.invite_pending(&branch.key) {
            return;
        }
        let cancel = outgoing::cancel_for(&branch.invite);
        let flow = branch.target.flow;
        self.send_request(now, cancel, flow, Role::Detached);
    }
}
