//! Named transaction timers (RFC 3261 Table 4, RFC 6026) and the set of armed deadlines.
//!
//! Pure bookkeeping: the owner decides what a timer means when it fires.

use std::time::{Duration, Instant};

/// A transaction timer, named as in RFC 3261 Table 4 and RFC 6026 §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmit interval (client, unreliable transport only).
    A,
    /// INVITE transaction timeout (client).
    B,
    /// Wait time for response retransmissions after a non-2xx final (client INVITE).
    D,
    /// Non-INVITE request retransmit interval (client, unreliable transport only).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// INVITE final-response retransmit interval (server, unreliable transport only).
    G,
    /// Wait time for ACK receipt (server INVITE).
    H,
    /// Wait time for ACK retransmissions (server INVITE).
    I,
    /// Wait time for non-INVITE request retransmissions (server).
    J,
    /// Wait time for response retransmissions (client non-INVITE).
    K,
    /// Wait time in Accepted for INVITE and ACK retransmissions (server, RFC 6026).
    L,
    /// Wait time in Accepted for 2xx retransmissions (client, RFC 6026).
    M,
    /// 200 ms deadline for the TU's first provisional response (server INVITE, RFC 3261 §17.2.1).
    Trying,
}

impl Timer {
    const ALL: [Timer; 13] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
        Timer::Trying,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Armed deadlines, at most one per [`Timer`].
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerSet {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerSet {
    /// Arms (or re-arms) `timer` to fire `after` from `now`. A deadline past the end of
    /// `Instant`'s range is treated as never.
    pub(crate) fn arm(&mut self, timer: Timer, now: Instant, after: Duration) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = now.checked_add(after);
        }
    }

    /// Disarms `timer`; a no-op when it is not armed.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        if let Some(slot) = self.deadlines.get_mut(timer.index()) {
            *slot = None;
        }
    }

    /// Disarms every timer.
    pub(crate) fn clear(&mut self) {
        self.deadlines = Default::default();
    }

    /// The deadline of `timer`, when armed.
    #[cfg(test)]
    pub(crate) fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines.get(timer.index()).copied().flatten()
    }

    /// The earliest armed deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the timer with the earliest deadline at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (timer, _) = Timer::ALL
            .iter()
            .filter_map(|t| {
                self.deadlines
                    .get(t.index())
                    .copied()
                    .flatten()
                    .map(|d| (*t, d))
            })
            .filter(|(_, d)| *d <= now)
            .min_by_key(|(_, d)| *d)?;
        self.disarm(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_timers_pop_earliest_first_and_only_once() {
        let t0 = Instant::now();
        let mut set = TimerSet::default();
        set.arm(Timer::B, t0, Duration::from_secs(32));
        set.arm(Timer::A, t0, Duration::from_millis(500));
        assert_eq!(set.next(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(set.pop_expired(t0), None);
        let late = t0 + Duration::from_secs(40);
        assert_eq!(set.pop_expired(late), Some(Timer::A));
        assert_eq!(set.pop_expired(late), Some(Timer::B));
        assert_eq!(set.pop_expired(late), None);
        assert_eq!(set.next(), None);
    }

    #[test]
    fn rearming_replaces_the_deadline() {
        let t0 = Instant::now();
        let mut set = TimerSet::default();
        set.arm(Timer::E, t0, Duration::from_secs(1));
        set.arm(Timer::E, t0, Duration::from_secs(2));
        assert_eq!(set.deadline(Timer::E), Some(t0 + Duration::from_secs(2)));
        set.disarm(Timer::E);
        assert_eq!(set.next(), None);
    }
}
