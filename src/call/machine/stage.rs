//! Dialling stage by stage (sequential ringing, trunk failover): the stage being rung, its
//! own ring and provisional timeouts, whether a failed stage goes on to the next one, and the
//! caller's answer when none follows. The caller never hears a failure that went on.
//!
//! The call's ring timeout restarts with every stage that has no ring timeout of its own, and
//! its expiry ends the call; a stage's own ring timeout replaces it for that stage and goes on
//! to the next stage. Between stages (after `CallEvent::StageFailed`) no ring timer runs: the
//! actor answers at once with the next stage or `no_more_stages`.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use sip_core::message::StatusCode;

use super::api::{BranchOutcome, CallEvent, Stage, StageOutcome};
use super::{CallMachine, Phase};
use crate::call::cause::HangupCause;
use crate::call::record::HangupSide;

/// The stage being rung.
#[derive(Debug)]
struct CurrentStage {
    /// Index of its first branch in the call's branches (its branches are the rest).
    first: usize,
    /// Its own ring timeout's deadline.
    deadline: Option<Instant>,
    /// How long each branch may stay without any response.
    provisional_timeout: Option<Duration>,
    /// Statuses that go on to the next stage.
    failover_on: Vec<u16>,
}

/// A failure the caller may get: the best of every stage so far.
#[derive(Debug, Clone)]
struct Failure {
    status: u16,
    reason: String,
    /// The switch decided it (a timeout, a transport failure), not the callee.
    ours: bool,
}

/// The call's progress through its stages.
#[derive(Debug, Default)]
pub(super) struct Stages {
    current: Option<CurrentStage>,
    /// Stages dialled so far.
    count: u32,
    /// CSeq number of the next stage's INVITEs: each stage's are above every earlier one's,
    /// so a gateway seeing two stages (same Call-ID and From tag) never takes the second for a
    /// merged request (RFC 3261 §8.2.2.2).
    next_seq: u32,
    best: Option<Failure>,
}

/// Why a stage ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StageEnd {
    /// Every branch failed.
    AllFailed,
    /// A branch answered with this 6xx (RFC 3261 §16.7 step 5: the search ends).
    Global(u16),
    /// The stage's own ring timeout fired.
    RingTimeout,
}

/// Rank of a failure for the caller's answer: lower is better. 6xx first; then busy; then
/// other client errors; then timeouts; then server errors; redirects and cancellations last.
pub(super) fn failure_rank(status: u16) -> (u8, u16) {
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

/// What the caller is told of a branch's failure. Redirects are not followed, and their
/// Contact is the callee's: 480. A challenge the switch did not answer is the switch's
/// business with that carrier, and one the caller cannot answer: 403.
fn caller_status(status: u16, reason: &str) -> (StatusCode, Option<String>) {
    match status {
        300..=399 => (StatusCode::TEMPORARILY_UNAVAILABLE, None),
        401 | 407 => (StatusCode::FORBIDDEN, None),
        _ => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR),
            Some(reason.to_owned()),
        ),
    }
}

impl CallMachine {
    /// Rings `stage`'s targets at once. Only while waiting for a stage (before the first, or
    /// after `StageFailed`).
    pub(super) fn dial_stage(&mut self, now: Instant, stage: Stage) {
        if self.phase != Phase::Routing {
            return;
        }
        self.stages.count += 1;
        let number = self.stages.count;
        let seq = self.stages.next_seq.max(1);
        self.stages.next_seq = seq + 1;
        let first = self.branches.len();
        self.stages.current = Some(CurrentStage {
            first,
            deadline: stage.ring_timeout.map(|d| now + d),
            provisional_timeout: stage.provisional_timeout,
            failover_on: stage.failover_on,
        });
        self.ring_deadline = match stage.ring_timeout {
            Some(_) => None,
            None => Some(now + self.settings.ring_timeout),
        };
        self.phase = Phase::Ringing;
        self.start_branches(now, number, seq, stage.targets, stage.provisional_timeout);
        if self.branches[first..]
            .iter()
            .all(|b| b.final_status.is_some())
        {
            // Nothing rings (no targets, or none could be sent).
            self.stage_ended(now, StageEnd::AllFailed);
        }
    }

    /// CSeq numbers below this are taken by earlier INVITEs of the B side.
    pub(super) fn note_invite_seq(&mut self, seq: u32) {
        self.stages.next_seq = self.stages.next_seq.max(seq + 1);
    }

    /// The stage ended: on to the next one (the caller hears nothing), or the caller's answer.
    pub(super) fn stage_ended(&mut self, now: Instant, end: StageEnd) {
        if self.phase != Phase::Ringing {
            return;
        }
        let Some(stage) = self.stages.current.take() else {
            return;
        };
        // Branches still ringing are cancelled now: the ring timeout makes them 480, a 6xx
        // elsewhere 487.
        let pending = match end {
            StageEnd::RingTimeout => StatusCode::TEMPORARILY_UNAVAILABLE,
            StageEnd::AllFailed | StageEnd::Global(_) => StatusCode::REQUEST_TERMINATED,
        };
        let mut outcomes = Vec::new();
        let mut failures = Vec::new();
        for branch in &self.branches[stage.first..] {
            let (status, reason) = match branch.final_status {
                Some(status) => (status, branch.final_reason.clone()),
                None => (pending.as_u16(), pending.canonical_reason().to_owned()),
            };
            let silent = branch.silent || (branch.final_status.is_none() && !branch.provisional);
            outcomes.push(BranchOutcome {
                trunk: branch.target.trunk.clone(),
                flow: branch.target.flow,
                status,
                silent,
            });
            let timed_out = branch.stage_timeout
                || (branch.final_status.is_none() && end == StageEnd::RingTimeout);
            failures.push((
                Failure {
                    status,
                    reason,
                    ours: silent || timed_out,
                },
                // A timeout or an undelivered INVITE goes on whatever `failover_on` says.
                timed_out || branch.unreachable,
            ));
        }
        let best = match end {
            StageEnd::Global(status) => failures.iter().find(|(f, _)| f.status == status),
            StageEnd::AllFailed | StageEnd::RingTimeout => failures
                .iter()
                .min_by_key(|(f, timed_out)| (failure_rank(f.status), *timed_out)),
        };
        let goes_on = match best {
            None => true,
            Some((failure, timed_out)) => {
                end == StageEnd::RingTimeout
                    || *timed_out
                    || stage.failover_on.contains(&failure.status)
            }
        };
        if let Some((failure, _)) = best {
            let better = self
                .stages
                .best
                .as_ref()
                .is_none_or(|b| failure_rank(failure.status) < failure_rank(b.status));
            if better {
                self.stages.best = Some(failure.clone());
            }
        }
        for n in stage.first..self.branches.len() {
            self.cancel_branch(now, n);
        }
        if goes_on {
            self.phase = Phase::Routing;
            self.ring_deadline = None;
            let best_status = self.caller_failure().0.as_u16();
            self.events.push_back(CallEvent::StageFailed(StageOutcome {
                branches: outcomes,
                best_status,
            }));
        } else {
            self.answer_failure(now);
        }
    }

    /// No stage follows: the caller gets the best failure of every stage, or 480 when
    /// nothing was tried.
    pub(super) fn answer_failure(&mut self, now: Instant) {
        let (status, reason) = self.caller_failure();
        let (cause, side) = match &self.stages.best {
            None => (HangupCause::UserNotRegistered, HangupSide::Switch),
            Some(best) => (
                HangupCause::from_sip_status(status.as_u16()),
                if best.ours {
                    HangupSide::Switch
                } else {
                    HangupSide::Callee
                },
            ),
        };
        self.fail_unanswered(now, status, reason.as_deref(), cause, side);
    }

    /// The status (and reason) the caller would get now if no stage follows.
    fn caller_failure(&self) -> (StatusCode, Option<String>) {
        match &self.stages.best {
            Some(best) => caller_status(best.status, &best.reason),
            None => (HangupCause::UserNotRegistered.sip_status(), None),
        }
    }

    /// A branch failed: a 6xx ends its stage at once; otherwise the stage ends once every
    /// branch of it has failed.
    pub(super) fn on_branch_failed(&mut self, now: Instant, status: u16) {
        if self.phase != Phase::Ringing {
            return;
        }
        let Some(stage) = &self.stages.current else {
            return;
        };
        if (600..700).contains(&status) {
            self.stage_ended(now, StageEnd::Global(status));
        } else if self.branches[stage.first..]
            .iter()
            .all(|b| b.final_status.is_some())
        {
            self.stage_ended(now, StageEnd::AllFailed);
        }
    }

    /// The earliest of the stage's own timers (ring timeout, branches without a response).
    pub(super) fn stage_deadline(&self) -> Option<Instant> {
        let stage = self.stages.current.as_ref()?;
        if self.phase != Phase::Ringing {
            return None;
        }
        let silence = self.branches[stage.first..]
            .iter()
            .filter_map(|b| b.silence_deadline)
            .min();
        [stage.deadline, silence].into_iter().flatten().min()
    }

    /// Fires the stage's due timers: a branch still without any response is abandoned (408);
    /// the stage's ring timeout ends it.
    pub(super) fn stage_timers(&mut self, now: Instant) {
        if self.phase != Phase::Ringing {
            return;
        }
        let Some(stage) = &self.stages.current else {
            return;
        };
        let first = stage.first;
        if stage.deadline.is_some_and(|at| at <= now) {
            self.stage_ended(now, StageEnd::RingTimeout);
            return;
        }
        for n in first..self.branches.len() {
            if self.branches[n]
                .silence_deadline
                .is_some_and(|at| at <= now)
            {
                self.abandon_branch(now, n);
            }
        }
    }

    /// The provisional timeout of the current stage, for a branch (re)sent now.
    pub(super) fn silence_deadline(&self, now: Instant) -> Option<Instant> {
        let stage = self.stages.current.as_ref()?;
        stage.provisional_timeout.map(|d| now + d)
    }

    /// The branch that answered the call, once it has.
    pub(super) fn winner_outcome(&self) -> Option<BranchOutcome> {
        let branch = self.branches.iter().find(|b| b.answered.is_some())?;
        Some(BranchOutcome {
            trunk: branch.target.trunk.clone(),
            flow: branch.target.flow,
            status: branch.final_status.unwrap_or(200),
            silent: false,
        })
    }
}
