//! When a failed delivery is tried again: `initial * 2^(attempts - 1)`, capped at `max`, plus
//! up to a tenth more of jitter so deliveries that failed together do not retry in lockstep.
//!
//! Pure: no I/O, no clock; the jitter's randomness comes in as an argument.

use std::time::Duration;

/// The retry policy of one switch's webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failed attempt.
    pub initial: Duration,
    /// Longest wait.
    pub max: Duration,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again after this long.
    After(Duration),
    /// The attempts are used up: dead-letter it.
    DeadLetter,
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 = the first failed), without jitter.
    pub fn delay(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// What follows the failure of attempt number `attempts` (from 1); `jitter` in `[0, 1)`
    /// adds that fraction of a tenth of the wait.
    pub fn after_failure(&self, attempts: u32, jitter: f64) -> NextAttempt {
        if attempts >= self.max_attempts {
            return NextAttempt::DeadLetter;
        }
        let delay = self.delay(attempts);
        let extra = delay.mul_f64(jitter.clamp(0.0, 1.0) / 10.0);
        NextAttempt::After(delay + extra)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            max_attempts,
        }
    }

    #[test]
    fn waits_double_from_the_initial_backoff_up_to_the_cap() {
        let waits: Vec<u64> = (1..=11).map(|n| policy(100).delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(policy(100).delay(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn the_last_allowed_attempt_failing_dead_letters_the_delivery() {
        let backoff = policy(3);
        assert_eq!(
            backoff.after_failure(2, 0.0),
            NextAttempt::After(Duration::from_secs(2))
        );
        assert_eq!(backoff.after_failure(3, 0.0), NextAttempt::DeadLetter);
        assert_eq!(policy(1).after_failure(1, 0.5), NextAttempt::DeadLetter);
    }

    #[test]
    fn jitter_adds_at_most_a_tenth_of_the_wait() {
        let backoff = policy(10);
        let NextAttempt::After(most) = backoff.after_failure(4, 0.999_999) else {
            panic!("retried");
        };
        assert!(most >= Duration::from_secs(8) && most < Duration::from_millis(8800));
        assert_eq!(
            backoff.after_failure(4, 7.0),
            NextAttempt::After(Duration::from_millis(8800))
        );
    }
}
