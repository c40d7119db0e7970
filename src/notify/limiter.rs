//! The per-caller-ID call rate: a token bucket per caller ID (`per_minute` tokens, refilled
//! evenly over the minute). A limited attempt waits for its token; it is never dropped.
//! Pure: time comes in as an argument. Owned by the scheduler task alone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Buckets idle this long are full again and forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(120);

/// Caller IDs remembered before idle ones are swept.
const SWEEP_AT: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by caller ID.
#[derive(Debug)]
pub struct CallerRate {
    per_minute: u32,
    buckets: HashMap<String, Bucket>,
}

impl CallerRate {
    /// At most `per_minute` attempts a minute per caller ID (bursts up to `per_minute`).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: HashMap::new(),
        }
    }

    fn refill_per_sec(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// Takes a token of `caller_id` at `now`; Err(wait) when none is left: the next one comes
    /// after `wait`.
    pub fn try_take(&mut self, caller_id: &str, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= SWEEP_AT {
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.updated) < FORGET_AFTER);
        }
        let capacity = f64::from(self.per_minute);
        let rate = self.refill_per_sec();
        let bucket = self.buckets.entry(caller_id.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_id_gets_its_burst_then_waits_for_the_refill() {
        let mut rate = CallerRate::new(2);
        let t0 = Instant::now();
        assert!(rate.try_take("100", t0).is_ok());
        assert!(rate.try_take("100", t0).is_ok());
        let wait = rate.try_take("100", t0).unwrap_err();
        assert_eq!(wait.as_secs(), 30);
        assert!(rate.try_take("100", t0 + Duration::from_secs(29)).is_err());
        assert!(rate.try_take("100", t0 + Duration::from_secs(31)).is_ok());
    }

    #[test]
    fn caller_ids_have_separate_buckets() {
        let mut rate = CallerRate::new(1);
        let t0 = Instant::now();
        assert!(rate.try_take("100", t0).is_ok());
        assert!(rate.try_take("100", t0).is_err());
        assert!(rate.try_take("200", t0).is_ok());
    }

    #[test]
    fn an_idle_bucket_refills_no_higher_than_its_capacity() {
        let mut rate = CallerRate::new(3);
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(3600);
        assert!(rate.try_take("100", t0).is_ok());
        for _ in 0..3 {
            assert!(rate.try_take("100", later).is_ok());
        }
        assert!(rate.try_take("100", later).is_err());
    }
}
