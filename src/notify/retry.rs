//! How one call attempt of a notification ended, and the retry policy that decides whether
//! another attempt follows. Pure.

use std::time::Duration;

use crate::call::HangupCause;

/// How a call attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// Answered, and the confirmation digit was pressed.
    Confirmed {
        /// The digit.
        digit: char,
    },
    /// Answered; the prompts played (no confirmation asked, or none given).
    Answered {
        /// A wrong digit pressed at the confirmation step, if any.
        digit: Option<char>,
    },
    /// Nobody answered (ring timeout, 480, 408).
    NoAnswer,
    /// Busy (486, 600).
    Busy,
    /// The call failed otherwise, or could not be started.
    Failed {
        /// Why, for people.
        reason: String,
    },
    /// The switch stopped during the attempt: it does not count, the notification is due
    /// again.
    Interrupted,
}

impl AttemptResult {
    /// The stored and wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttemptResult::Confirmed { .. } => "confirmed",
            AttemptResult::Answered { .. } => "answered",
            AttemptResult::NoAnswer => "no_answer",
            AttemptResult::Busy => "busy",
            AttemptResult::Failed { .. } => "failed",
            AttemptResult::Interrupted => "interrupted",
        }
    }

    /// The digit pressed, if any.
    pub fn digit(&self) -> Option<char> {
        match self {
            AttemptResult::Confirmed { digit } => Some(*digit),
            AttemptResult::Answered { digit } => *digit,
            _ => None,
        }
    }

    /// Why it failed, if it did.
    pub fn reason(&self) -> Option<&str> {
        match self {
            AttemptResult::Failed { reason } => Some(reason),
            _ => None,
        }
    }

    /// The result of a call that ended (or never started) with `cause` before the app ran.
    pub fn from_cause(cause: HangupCause) -> AttemptResult {
        match cause {
            HangupCause::NoAnswer
            | HangupCause::NoUserResponse
            | HangupCause::UserNotRegistered => AttemptResult::NoAnswer,
            HangupCause::SipFailure(480 | 408) => AttemptResult::NoAnswer,
            HangupCause::UserBusy | HangupCause::SipFailure(486 | 600) => AttemptResult::Busy,
            HangupCause::SystemShutdown => AttemptResult::Interrupted,
            cause => AttemptResult::Failed {
                reason: match cause {
                    HangupCause::SipFailure(status) => format!("sip_failure ({status})"),
                    cause => cause.code().to_owned(),
                },
            },
        }
    }
}

/// Results a retry policy may retry on (`retry.on`).
pub const RETRYABLE: [&str; 4] = ["no_answer", "busy", "failed", "answered"];

/// When to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub max_attempts: u32,
    /// Wait between an attempt's end and the next.
    pub interval: Duration,
    /// Results that are tried again (names of [`RETRYABLE`]).
    pub on: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            interval: Duration::from_secs(60),
            on: vec!["no_answer".into(), "busy".into(), "failed".into()],
        }
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Try again after the policy's interval.
    RetryAfter(Duration),
    /// Done: the outcome is this result's name.
    Done(&'static str),
}

impl RetryPolicy {
    /// What follows `result` after `counted` attempts (this one included) that count.
    pub fn next(&self, counted: u32, result: &AttemptResult) -> NextStep {
        if *result == AttemptResult::Interrupted {
            return NextStep::RetryAfter(Duration::ZERO);
        }
        let name = result.as_str();
        if counted < self.max_attempts && self.on.iter().any(|on| on == name) {
            NextStep::RetryAfter(self.interval)
        } else {
            NextStep::Done(name)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32, on: &[&str]) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            interval: Duration::from_secs(60),
            on: on.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_busy_attempt_is_retried_until_the_attempts_run_out() {
        let policy = policy(3, &["busy"]);
        let busy = AttemptResult::Busy;
        assert_eq!(
            policy.next(1, &busy),
            NextStep::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            policy.next(2, &busy),
            NextStep::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(policy.next(3, &busy), NextStep::Done("busy"));
    }

    #[test]
    fn results_the_policy_does_not_name_end_the_notification() {
        let policy = policy(3, &["busy"]);
        assert_eq!(
            policy.next(1, &AttemptResult::NoAnswer),
            NextStep::Done("no_answer")
        );
        assert_eq!(
            policy.next(1, &AttemptResult::Confirmed { digit: '1' }),
            NextStep::Done("confirmed")
        );
    }

    #[test]
    fn the_default_policy_makes_one_attempt() {
        assert_eq!(
            RetryPolicy::default().next(1, &AttemptResult::Busy),
            NextStep::Done("busy")
        );
    }

    #[test]
    fn an_interrupted_attempt_is_due_again_at_once() {
        assert_eq!(
            policy(1, &[]).next(0, &AttemptResult::Interrupted),
            NextStep::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn hangup_causes_map_to_no_answer_busy_or_failed() {
        assert_eq!(
            AttemptResult::from_cause(HangupCause::NoAnswer),
            AttemptResult::NoAnswer
        );
        assert_eq!(
            AttemptResult::from_cause(HangupCause::NoUserResponse),
            AttemptResult::NoAnswer
        );
        assert_eq!(
            AttemptResult::from_cause(HangupCause::UserBusy),
            AttemptResult::Busy
        );
        assert_eq!(
            AttemptResult::from_cause(HangupCause::SipFailure(600)),
            AttemptResult::Busy
        );
        assert_eq!(
            AttemptResult::from_cause(HangupCause::SipFailure(503)).as_str(),
            "failed"
        );
        assert_eq!(
            AttemptResult::from_cause(HangupCause::SystemShutdown),
            AttemptResult::Interrupted
        );
    }
}
