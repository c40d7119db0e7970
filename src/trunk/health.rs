//! Health of one gateway: OPTIONS-probe counters (down after N consecutive failures, up
//! after M successes) and a passive circuit breaker (K consecutive silent or 503 failures of
//! calls open it; only a successful probe closes it). Changes of usability are returned as
//! [`HealthChange`] values for the caller to log and count.
//!
//! Pure: no I/O, no clock. Thread-safe: a small mutex, never held across an await.

use std::sync::{Mutex, PoisonError};

/// Consecutive silent or 503 call failures that open a gateway's circuit breaker.
pub const BREAKER_THRESHOLD: u32 = 3;

/// Why a gateway's usability changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthReason {
    /// This many consecutive probes failed.
    ProbesFailed(u32),
    /// This many consecutive probes succeeded.
    ProbesSucceeded(u32),
    /// This many consecutive calls got no answer or 503: the circuit breaker opened.
    BreakerOpened(u32),
    /// A successful probe closed the circuit breaker.
    BreakerClosed,
}

impl HealthReason {
    /// Stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthReason::ProbesFailed(_) => "probes_failed",
            HealthReason::ProbesSucceeded(_) => "probes_succeeded",
            HealthReason::BreakerOpened(_) => "breaker_opened",
            HealthReason::BreakerClosed => "breaker_closed",
        }
    }
}

/// A gateway became usable (`up`) or unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// The gateway's id (`trunk/index`).
    pub gateway: String,
    /// Usable now.
    pub up: bool,
    /// Why.
    pub reason: HealthReason,
}

/// Thresholds of one gateway's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthThresholds {
    /// Consecutive failed probes that mark it down (>= 1).
    pub down_after: u32,
    /// Consecutive successful probes that mark it up (>= 1).
    pub up_after: u32,
    /// Consecutive silent or 503 calls that open the breaker; None: no breaker (a breaker
    /// needs probes to close it).
    pub breaker_after: Option<u32>,
}

#[derive(Debug, Default)]
struct HealthState {
    probe_down: bool,
    probe_failures: u32,
    probe_successes: u32,
    breaker_open: bool,
    call_failures: u32,
}

impl HealthState {
    fn usable(&self) -> bool {
        !self.probe_down && !self.breaker_open
    }
}

/// One gateway's health; starts usable.
#[derive(Debug, Default)]
pub struct GatewayHealth {
    state: Mutex<HealthState>,
}

impl GatewayHealth {
    /// A usable gateway.
    pub fn new() -> GatewayHealth {
        GatewayHealth::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HealthState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }

    /// Whether calls may be sent to the gateway.
    pub fn is_usable(&self) -> bool {
        self.with(|s| s.usable())
    }

    /// Whether the probes say it is down.
    pub fn is_probe_down(&self) -> bool {
        self.with(|s| s.probe_down)
    }

    /// Whether the circuit breaker is open.
    pub fn is_breaker_open(&self) -> bool {
        self.with(|s| s.breaker_open)
    }

    /// Feeds one probe result; a success also closes the breaker.
    pub fn probe_result(
        &self,
        gateway: &str,
        alive: bool,
        limits: HealthThresholds,
    ) -> Option<HealthChange> {
        self.with(|s| {
            let before = s.usable();
            let mut reason;
            if alive {
                s.probe_failures = 0;
                s.probe_successes = s.probe_successes.saturating_add(1);
                reason = HealthReason::ProbesSucceeded(s.probe_successes);
                if s.breaker_open {
                    s.breaker_open = false;
                    s.call_failures = 0;
                    reason = HealthReason::BreakerClosed;
                }
                if s.probe_down && s.probe_successes >= limits.up_after {
                    s.probe_down = false;
                    reason = HealthReason::ProbesSucceeded(s.probe_successes);
                }
            } else {
                s.probe_successes = 0;
                s.probe_failures = s.probe_failures.saturating_add(1);
                reason = HealthReason::ProbesFailed(s.probe_failures);
                if !s.probe_down && s.probe_failures >= limits.down_after {
                    s.probe_down = true;
                }
            }
            change(gateway, before, s.usable(), reason)
        })
    }

    /// A call to the gateway got no answer at all or a 503.
    pub fn call_failed(&self, gateway: &str, limits: HealthThresholds) -> Option<HealthChange> {
        let threshold = limits.breaker_after?;
        self.with(|s| {
            let before = s.usable();
            s.call_failures = s.call_failures.saturating_add(1);
            if !s.breaker_open && s.call_failures >= threshold {
                s.breaker_open = true;
            }
            change(
                gateway,
                before,
                s.usable(),
                HealthReason::BreakerOpened(s.call_failures),
            )
        })
    }

    /// A call to the gateway got an answer that shows it at work: the failure count starts
    /// again (an open breaker stays open until a probe succeeds).
    pub fn call_succeeded(&self) {
        self.with(|s| s.call_failures = 0);
    }
}

fn change(gateway: &str, before: bool, after: bool, reason: HealthReason) -> Option<HealthChange> {
    (before != after).then(|| HealthChange {
        gateway: gateway.to_owned(),
        up: after,
        reason,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const LIMITS: HealthThresholds = HealthThresholds {
        down_after: 3,
        up_after: 2,
        breaker_after: Some(2),
    };

    #[test]
    fn gateway_goes_down_after_n_failed_probes_and_up_after_m_successes() {
        let h = GatewayHealth::new();
        assert!(h.is_usable());
        assert_eq!(h.probe_result("g", false, LIMITS), None);
        assert_eq!(h.probe_result("g", false, LIMITS), None);
        let down = h.probe_result("g", false, LIMITS).unwrap();
        assert!(!down.up);
        assert_eq!(down.reason, HealthReason::ProbesFailed(3));
        assert!(!h.is_usable());
        assert_eq!(h.probe_result("g", false, LIMITS), None);
        assert_eq!(h.probe_result("g", true, LIMITS), None);
        assert!(!h.is_usable());
        let up = h.probe_result("g", true, LIMITS).unwrap();
        assert_eq!(
            up,
            HealthChange {
                gateway: "g".into(),
                up: true,
                reason: HealthReason::ProbesSucceeded(2)
            }
        );
    }

    #[test]
    fn a_success_between_failures_restarts_the_count() {
        let h = GatewayHealth::new();
        h.probe_result("g", false, LIMITS);
        h.probe_result("g", false, LIMITS);
        h.probe_result("g", true, LIMITS);
        h.probe_result("g", false, LIMITS);
        h.probe_result("g", false, LIMITS);
        assert!(h.is_usable());
    }

    #[test]
    fn silent_calls_open_the_breaker_and_only_a_probe_closes_it() {
        let h = GatewayHealth::new();
        assert_eq!(h.call_failed("g", LIMITS), None);
        let open = h.call_failed("g", LIMITS).unwrap();
        assert_eq!(open.reason, HealthReason::BreakerOpened(2));
        assert!(!open.up && !h.is_usable() && h.is_breaker_open());
        h.call_succeeded();
        assert!(!h.is_usable());
        let closed = h.probe_result("g", true, LIMITS).unwrap();
        assert_eq!(closed.reason, HealthReason::BreakerClosed);
        assert!(closed.up && h.is_usable());
    }

    #[test]
    fn a_successful_call_resets_the_breaker_count() {
        let h = GatewayHealth::new();
        h.call_failed("g", LIMITS);
        h.call_succeeded();
        assert_eq!(h.call_failed("g", LIMITS), None);
        assert!(h.is_usable());
    }

    #[test]
    fn without_probing_there_is_no_breaker() {
        let limits = HealthThresholds {
            breaker_after: None,
            ..LIMITS
        };
        let h = GatewayHealth::new();
        for _ in 0..10 {
            assert_eq!(h.call_failed("g", limits), None);
        }
        assert!(h.is_usable());
    }

    #[test]
    fn breaker_opening_on_a_probe_down_gateway_is_no_change() {
        let h = GatewayHealth::new();
        for _ in 0..3 {
            h.probe_result("g", false, LIMITS);
        }
        assert_eq!(h.call_failed("g", LIMITS), None);
        assert_eq!(h.call_failed("g", LIMITS), None);
        assert!(h.is_breaker_open());
        // One success closes the breaker, but the probes still need two.
        assert_eq!(h.probe_result("g", true, LIMITS), None);
        assert!(!h.is_usable());
        assert!(h.probe_result("g", true, LIMITS).unwrap().up);
    }
}
