//! Per-trunk limits: concurrent calls (an RAII [`CallSlot`] per call) and new calls per
//! second (a GCRA limiter fed with `now`).
//!
//! Pure: no I/O, no clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Active calls of one trunk, inbound and outbound. Shared by every [`CallSlot`] taken from
/// it, and kept across reloads so calls in progress still count.
#[derive(Debug, Default)]
pub struct CallCounter {
    active: AtomicU32,
}

impl CallCounter {
    /// A counter with no active call.
    pub fn new() -> Arc<CallCounter> {
        Arc::new(CallCounter::default())
    }

    /// Calls holding a slot now.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Acquire)
    }

    /// Takes a slot unless `max` calls are active (None: no limit).
    pub fn try_acquire(self: &Arc<Self>, max: Option<u32>) -> Option<CallSlot> {
        let limit = max.unwrap_or(u32::MAX);
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        Some(CallSlot {
            counter: Arc::clone(self),
        })
    }
}

/// One call's place in its trunk's concurrent-call limit; dropping it frees the place.
#[derive(Debug)]
pub struct CallSlot {
    counter: Arc<CallCounter>,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        self.counter.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// At most `rate` new calls per second with bursts of up to `rate` (generic cell rate
/// algorithm: each call moves a theoretical arrival time one emission interval on; a call
/// is refused while that time is more than one second minus an interval ahead of `now`).
#[derive(Debug)]
pub struct CpsLimiter {
    interval: Duration,
    tolerance: Duration,
    tat: Mutex<Option<Instant>>,
}

impl CpsLimiter {
    /// A limiter for `rate` (>= 1) calls per second.
    pub fn new(rate: u32) -> CpsLimiter {
        let interval = Duration::from_secs(1) / rate.max(1);
        CpsLimiter {
            interval,
            tolerance: Duration::from_secs(1).saturating_sub(interval),
            tat: Mutex::new(None),
        }
    }

    /// Counts one new call at `now` and returns true, or returns false (nothing counted)
    /// when the rate is exceeded.
    pub fn try_take(&self, now: Instant) -> bool {
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let current = tat.map_or(now, |t| t.max(now));
        if current.saturating_duration_since(now) > self.tolerance {
            return false;
        }
        *tat = Some(current + self.interval);
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn slot_is_refused_at_the_limit_and_released_on_drop() {
        let counter = CallCounter::new();
        let a = counter.try_acquire(Some(2)).unwrap();
        let b = counter.try_acquire(Some(2)).unwrap();
        assert!(counter.try_acquire(Some(2)).is_none());
        assert_eq!(counter.active(), 2);
        drop(a);
        assert_eq!(counter.active(), 1);
        let _c = counter.try_acquire(Some(2)).unwrap();
        drop(b);
        assert_eq!(counter.active(), 1);
    }

    #[test]
    fn unlimited_counter_still_counts() {
        let counter = CallCounter::new();
        let slots: Vec<_> = (0..100)
            .map(|_| counter.try_acquire(None).unwrap())
            .collect();
        assert_eq!(counter.active(), 100);
        drop(slots);
        assert_eq!(counter.active(), 0);
    }

    #[test]
    fn cps_limit_allows_a_burst_of_rate_then_one_per_interval() {
        let t0 = Instant::now();
        let limiter = CpsLimiter::new(2);
        assert!(limiter.try_take(t0));
        assert!(limiter.try_take(t0));
        assert!(!limiter.try_take(t0));
        assert!(!limiter.try_take(t0 + Duration::from_millis(499)));
        assert!(limiter.try_take(t0 + Duration::from_millis(500)));
        assert!(!limiter.try_take(t0 + Duration::from_millis(500)));
        assert!(limiter.try_take(t0 + Duration::from_secs(5)));
        assert!(limiter.try_take(t0 + Duration::from_secs(5)));
        assert!(!limiter.try_take(t0 + Duration::from_secs(5)));
    }

    #[test]
    fn cps_limit_of_one_spaces_calls_a_second_apart() {
        let t0 = Instant::now();
        let limiter = CpsLimiter::new(1);
        assert!(limiter.try_take(t0));
        assert!(!limiter.try_take(t0 + Duration::from_millis(999)));
        assert!(limiter.try_take(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn over_one_second_at_most_rate_plus_burst_calls_pass() {
        let t0 = Instant::now();
        let limiter = CpsLimiter::new(10);
        let passed = (0..1000)
            .filter(|i| limiter.try_take(t0 + Duration::from_millis(*i)))
            .count();
        // A burst of 10 at once, then one per 100 ms.
        assert_eq!(passed, 19);
    }
}
