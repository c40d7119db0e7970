//! The callee's side before answer: one INVITE per target (parallel forking), provisional
//! responses relayed to the caller, the first 2xx winning, CANCEL for the others, and each
//! branch's failure (the stage decides what it means, RFC 3261 §16.7 step 6 style).
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use sip_core::dialog::Dialog;
use sip_core::message::{HeaderName, Method, Request, Response, StatusCode};
use sip_core::transaction::TransactionKey;

use super::ack::AfterAck;
use super::api::Target;
use super::branch_invite::invite_seq;
use super::challenge;
use super::outgoing;
use super::sdp_rewrite::{Sdp, keep_codecs, phone_media, read_sdp};
use super::session_timer::{self, LegTimer, Refresher};
use super::transactions::Role;
use super::{CallMachine, Leg, Phase};
use crate::call::record::LegSide;
use crate::transport::Peer;

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

impl Cancel {
    /// Asks for the INVITE to be cancelled: true when the CANCEL may go now (a provisional
    /// response came); before one it waits (RFC 3261 §9.1). Nothing once the INVITE has a
    /// final response or is being cancelled already.
    pub(super) fn ask(&mut self, provisional: bool, final_status: Option<u16>) -> bool {
        if final_status.is_some() || *self != Cancel::No {
            return false;
        }
        if !provisional {
            *self = Cancel::Waiting;
        }
        provisional
    }
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
    /// The dialling stage it belongs to, from 1.
    pub(super) stage: u32,
    /// It failed without any response (Timer B, transport failure, provisional timeout).
    pub(super) silent: bool,
    /// Its stage's provisional timeout ended it.
    pub(super) stage_timeout: bool,
    /// The transport could not deliver its INVITE (TCP connect failure): the callee never
    /// saw it, so its stage goes on whatever `failover_on` says.
    pub(super) unreachable: bool,
    /// When it is abandoned unless some response arrives (the stage's provisional timeout).
    pub(super) silence_deadline: Option<Instant>,
    /// The digest challenges it answered.
    pub(super) auth: challenge::Answered,
    /// It was sent again after a 422 (RFC 4028 §6), which happens once.
    pub(super) interval_retried: bool,
}

impl CallMachine {
    /// Sends one INVITE per target of stage `stage` (CSeq `seq`). A target whose INVITE
    /// cannot be sent is a failed branch (503, silent).
    pub(super) fn start_branches(
        &mut self,
        now: Instant,
        stage: u32,
        seq: u32,
        targets: Vec<Target>,
        provisional_timeout: Option<std::time::Duration>,
    ) {
        let offer = self.caller.offer.clone();
        let relay = self.media.relay_for(LegSide::B);
        let body = offer.as_ref().map(|sdp| self.sdp_b.render(relay, sdp));
        for target in targets {
            let filtered = match &body {
                Some(body) if !target.codecs.is_empty() => Some(keep_codecs(body, &target.codecs)),
                _ => None,
            };
            let no_codec = matches!(filtered, Some(None));
            let body = match filtered {
                Some(Some(filtered)) => Some(filtered),
                _ => body.clone(),
            };
            let invite = self.branch_invite(&target, seq, body.as_ref());
            let Ok(key) = TransactionKey::for_client_request(&invite) else {
                continue;
            };
            let n = self.branches.len();
            let flow = target.flow;
            self.branches.push(Branch {
                target,
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
                stage,
                silent: false,
                stage_timeout: false,
                unreachable: false,
                silence_deadline: provisional_timeout.map(|d| now + d),
                auth: challenge::Answered::default(),
                interval_retried: false,
            });
            if no_codec {
                // None of the caller's codecs may go this way (the trunk's `codecs`).
                if let Some(branch) = self.branches.get_mut(n) {
                    let status = StatusCode::NOT_ACCEPTABLE_HERE;
                    branch.final_status = Some(status.as_u16());
                    branch.final_reason = status.canonical_reason().to_owned();
                    branch.ended = Some(now);
                    branch.silence_deadline = None;
                }
                continue;
            }
            if !self.send_request(now, invite, flow, Role::Branch(n))
                && let Some(branch) = self.branches.get_mut(n)
            {
                let status = StatusCode::SERVICE_UNAVAILABLE;
                branch.final_status = Some(status.as_u16());
                branch.final_reason = status.canonical_reason().to_owned();
                branch.ended = Some(now);
                branch.silent = true;
                branch.silence_deadline = None;
            }
        }
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
        // Any response shows the branch is alive: the provisional timeout no longer applies.
        branch.silence_deadline = None;
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
        } else {
            let retryable = branch.cancel == Cancel::No && self.phase == Phase::Ringing;
            let resent = retryable
                && match status.as_u16() {
                    422 => self.retry_with_interval(now, n, &response),
                    401 | 407 => self.answer_challenge(now, n, &response),
                    _ => false,
                };
            if !resent {
                self.branch_failed(now, n, status.as_u16(), response.reason(), false);
            }
        }
    }

    /// Branch `n` ended without an answer: `status` is its outcome (received, or the
    /// switch's own when `silent`). A branch already given up keeps its first outcome.
    fn branch_failed(&mut self, now: Instant, n: usize, status: u16, reason: &str, silent: bool) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        if branch.final_status.is_some() {
            return;
        }
        branch.final_status = Some(status);
        branch.final_reason = reason.to_owned();
        branch.ended = Some(now);
        branch.silent = silent;
        branch.silence_deadline = None;
        if branch.cancel == Cancel::No {
            self.on_branch_failed(now, status);
        }
    }

    /// The stage's provisional timeout passed without any response on branch `n`: it counts
    /// as failed (408, silent). RFC 3261 §9.1: no CANCEL before a provisional response; its
    /// transaction runs out on its own, a late provisional response gets the CANCEL.
    pub(super) fn abandon_branch(&mut self, now: Instant, n: usize) {
        let Some(branch) = self.branches.get_mut(n) else {
            return;
        };
        branch.silence_deadline = None;
        if branch.final_status.is_some() || branch.cancel != Cancel::No || branch.provisional {
            return;
        }
        tracing::debug!(branch = n, "no response within the provisional timeout");
        branch.cancel = Cancel::Waiting;
        branch.stage_timeout = true;
        let status = StatusCode::REQUEST_TIMEOUT;
        branch.final_status = Some(status.as_u16());
        branch.final_reason = status.canonical_reason().to_owned();
        branch.ended = Some(now);
        branch.silent = true;
        self.on_branch_failed(now, status.as_u16());
    }

    /// RFC 4028 §6: a 422 names the callee's Min-SE; the branch's INVITE is sent once more
    /// with that interval. False when it cannot be (no Min-SE, already retried).
    fn retry_with_interval(&mut self, now: Instant, n: usize, response: &Response) -> bool {
        let Some(min) = session_timer::min_se(response.headers()) else {
            return false;
        };
        let ours = self.settings.session_expires.unwrap_or_default();
        let Some(branch) = self.branches.get_mut(n) else {
            return false;
        };
        if branch.interval_retried {
            return false;
        }
        branch.interval_retried = true;
        self.resend_invite(now, n, |headers| {
            headers.set(
                HeaderName::SessionExpires,
                ours.max(min).as_secs().to_string(),
            );
            headers.set(HeaderName::MinSe, min.as_secs().to_string());
        })
    }

    /// Relays a 180/183 to the caller, with its early media SDP.
    fn on_early_response(&mut self, now: Instant, response: Response) {
        let body = match read_sdp(response.headers(), response.body()) {
            Ok(Some(sdp)) => {
                self.sdp_b.heard(&sdp.parsed);
                self.remote_media(LegSide::B, phone_media(&sdp.parsed));
                // An originated call's A leg keeps the session it answered; B's early media
                // reaches it through the relay.
                let relay = self.media.relay_for(LegSide::A);
                (!self.a_answered_by_switch()).then(|| self.sdp_a.render(relay, &sdp))
            }
            _ => None,
        };
        self.relay_provisional(now, response.status(), response.reason(), body);
    }

    /// Branch `n` can no longer answer: Timer B (408) or a transport failure (503,
    /// RFC 3261 §8.1.3.1).
    pub(super) fn on_branch_gone(&mut self, now: Instant, n: usize, status: StatusCode) {
        self.branch_failed(now, n, status.as_u16(), status.canonical_reason(), true);
    }

    /// The transport could not deliver branch `n`'s INVITE (RFC 3261 §17.1.4; a refused or
    /// timed-out TCP connect): it fails at once as 503 without a response (§8.1.3.1), and
    /// its stage goes on to the next (the "TCP connect failure" failover).
    pub(super) fn on_branch_unreachable(&mut self, now: Instant, n: usize) {
        if let Some(branch) = self.branches.get_mut(n)
            && branch.final_status.is_none()
        {
            branch.unreachable = true;
        }
        self.on_branch_gone(now, n, StatusCode::SERVICE_UNAVAILABLE);
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
                let status = StatusCode::NOT_ACCEPTABLE_HERE;
                if let Some(branch) = self.branches.get_mut(n) {
                    branch.final_status = Some(status.as_u16());
                    branch.final_reason = status.canonical_reason().to_owned();
                }
                self.on_branch_failed(now, status.as_u16());
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
        // A leg answered by the switch counts from its own answer.
        self.answered_at.get_or_insert(now);
        if self.max_duration_deadline.is_none() {
            self.max_duration_deadline = self.settings.max_duration.map(|d| now + d);
        }
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
        // An originated call's A leg was offered the relay with the switch's own SDP; B's
        // answer, a subset of A's own answer, changes nothing for A.
        let body = (!self.a_answered_by_switch()).then(|| self.sdp_a.render(relay, &sdp));
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
        self.answer_caller(now, response.status(), body, then);
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
        let invite = branch.invite.clone();
        self.ack_and_bye_dialog(now, &invite, flow, key, response);
    }

    /// ACK and BYE on the dialog a 2xx to `invite` (sent on `flow`) made.
    pub(super) fn ack_and_bye_dialog(
        &mut self,
        now: Instant,
        invite: &Request,
        flow: Peer,
        key: &TransactionKey,
        response: &Response,
    ) {
        let Ok(mut dialog) = Dialog::new_uac(invite, response) else {
            return;
        };
        let mut ack = dialog.create_ack(invite_seq(invite), outgoing::via(&flow));
        CallMachine::with_credentials(&mut ack, invite);
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
        if branch.cancel.ask(branch.provisional, branch.final_status) {
            self.send_cancel(now, n);
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
