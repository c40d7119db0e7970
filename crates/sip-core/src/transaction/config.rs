//! Timer configuration for transactions: T1, T2, T4 and the durations derived from them.

use std::time::Duration;

/// Floor for retransmit intervals, so a zero T1 or T2 cannot make a timer re-arm at the
/// instant it fired and spin.
const MIN_RETRANSMIT_INTERVAL: Duration = Duration::from_millis(1);

/// RFC 3261 §17.1.1.1 / Table 4 base timer values.
///
/// Every other timer (A–M) is derived from these. Defaults are the RFC's recommended values.
/// The config layer should refuse T1 = 0 and T2 < T1; retransmit intervals are floored at
/// 1 ms regardless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate; first retransmit interval (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64*T1: Timers B, F, H, J (RFC 3261 Table 4) and L, M (RFC 6026).
    pub fn transaction_timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer D: "at least 32 seconds" over unreliable transport, zero over reliable
    /// (RFC 3261 §17.1.1.2). Never shorter than the server's 64*T1 retransmission window.
    pub(crate) fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Duration::from_secs(32).max(self.transaction_timeout())
        }
    }

    /// Timers I and K: T4 over unreliable transport, zero over reliable (RFC 3261 Table 4).
    pub(crate) fn wait_for_stragglers(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: 64*T1 over unreliable transport, zero over reliable (RFC 3261 Table 4).
    pub(crate) fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.transaction_timeout()
        }
    }

    /// Next retransmit interval after `current`, doubled and capped at T2
    /// (RFC 3261 §17.1.2.2 Timer E, §17.2.1 Timer G).
    pub(crate) fn backoff_capped(&self, current: Duration) -> Duration {
        current
            .saturating_mul(2)
            .min(self.t2)
            .max(MIN_RETRANSMIT_INTERVAL)
    }

    /// First retransmit interval: T1 (Timers A, E, G).
    pub(crate) fn first_retransmit(&self) -> Duration {
        self.t1.max(MIN_RETRANSMIT_INTERVAL)
    }

    /// Retransmit interval of a non-INVITE request in Proceeding: T2 (RFC 3261 §17.1.2.2).
    pub(crate) fn proceeding_retransmit(&self) -> Duration {
        self.t2.max(MIN_RETRANSMIT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_rfc_values() {
        let c = TimerConfig::default();
        assert_eq!(c.t1, Duration::from_millis(500));
        assert_eq!(c.t2, Duration::from_secs(4));
        assert_eq!(c.t4, Duration::from_secs(5));
        assert_eq!(c.transaction_timeout(), Duration::from_secs(32));
    }

    #[test]
    fn timer_d_covers_a_long_t1_and_is_zero_when_reliable() {
        let c = TimerConfig {
            t1: Duration::from_secs(1),
            ..TimerConfig::default()
        };
        assert_eq!(c.timer_d(false), Duration::from_secs(64));
        assert_eq!(
            TimerConfig::default().timer_d(false),
            Duration::from_secs(32)
        );
        assert_eq!(c.timer_d(true), Duration::ZERO);
    }

    #[test]
    fn zero_t1_and_t2_still_leave_a_nonzero_retransmit_interval() {
        let c = TimerConfig {
            t1: Duration::ZERO,
            t2: Duration::ZERO,
            t4: Duration::ZERO,
        };
        assert_eq!(c.first_retransmit(), Duration::from_millis(1));
        assert_eq!(c.backoff_capped(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(c.proceeding_retransmit(), Duration::from_millis(1));
    }

    #[test]
    fn backoff_doubles_until_t2() {
        let c = TimerConfig::default();
        assert_eq!(
            c.backoff_capped(Duration::from_millis(500)),
            Duration::from_secs(1)
        );
        assert_eq!(
            c.backoff_capped(Duration::from_secs(2)),
            Duration::from_secs(4)
        );
        assert_eq!(
            c.backoff_capped(Duration::from_secs(4)),
            Duration::from_secs(4)
        );
    }
}
