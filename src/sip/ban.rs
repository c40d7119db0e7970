//! Temporary bans after repeated authentication failures, per source address and per user
//! name, in bounded memory. Pure bookkeeping: the caller passes `now` and decides what to answer.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When failures turn into a ban.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Failures within `window` that trigger a ban; 0 disables banning.
    pub max_failures: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// How long a ban lasts; zero disables banning.
    pub ban: Duration,
}

impl BanPolicy {
    /// Whether this policy ever bans.
    pub fn is_enabled(&self) -> bool {
        self.max_failures > 0 && !self.ban.is_zero()
    }
}

/// Bans that one failure started (each is logged once, by the caller).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewBans {
    /// The source address is now banned.
    pub source: bool,
    /// The user name is now banned.
    pub user: bool,
}

/// Entries each tracker keeps at most, unless configured otherwise.
pub const DEFAULT_BAN_CAPACITY: usize = 65_536;

/// Failure counters and active bans for sources and user names.
///
/// Every user name is tracked, known to the profile or not, so a ban never reveals whether an
/// account exists. IPv6 sources are grouped by /64, the block one subscriber usually holds.
#[derive(Debug)]
pub struct BanList {
    policy: BanPolicy,
    sources: Mutex<Tracker<IpAddr>>,
    users: Mutex<Tracker<String>>,
}

impl BanList {
    /// A ban list with `capacity` entries at most per tracker.
    pub fn new(policy: BanPolicy, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            policy,
            sources: Mutex::new(Tracker::new(capacity)),
            users: Mutex::new(Tracker::new(capacity)),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> BanPolicy {
        self.policy
    }

    /// Whether requests from `source` are refused at `now`.
    pub fn is_source_banned(&self, source: IpAddr, now: Instant) -> bool {
        self.policy.is_enabled() && lock(&self.sources).is_banned(&source_key(source), now)
    }

    /// Whether requests for `user` are refused at `now`.
    pub fn is_user_banned(&self, user: &str, now: Instant) -> bool {
        self.policy.is_enabled() && lock(&self.users).is_banned_str(user, now)
    }

    /// Counts one failed authentication from `source` for `user` at `now`; returns the bans it
    /// started.
    pub fn record_failure(&self, source: IpAddr, user: Option<&str>, now: Instant) -> NewBans {
        if !self.policy.is_enabled() {
            return NewBans::default();
        }
        let source = lock(&self.sources).record(source_key(source), &self.policy, now);
        let user =
            user.is_some_and(|user| lock(&self.users).record(user.to_owned(), &self.policy, now));
        NewBans { source, user }
    }

    /// Entries held (sources, users); for metrics and the memory-bound tests.
    pub fn len(&self) -> (usize, usize) {
        (
            lock(&self.sources).entries.len(),
            lock(&self.users).entries.len(),
        )
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The trackers hold plain counters; a panic elsewhere cannot leave them inconsistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// IPv4 addresses as they are; IPv4-mapped IPv6 as IPv4; other IPv6 reduced to their /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[derive(Debug)]
struct Entry {
    failures: VecDeque<Instant>,
    banned_until: Option<Instant>,
    last_seen: Instant,
}

impl Entry {
    fn is_banned(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|until| now < until)
    }

    /// Nothing left worth keeping: no ban and no failure inside the window.
    fn is_idle(&self, policy: &BanPolicy, now: Instant) -> bool {
        !self.is_banned(now)
            && self
                .failures
                .back()
                .is_none_or(|last| now.saturating_duration_since(*last) >= policy.window)
    }
}

#[derive(Debug)]
struct Tracker<K> {
    entries: HashMap<K, Entry>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone> Tracker<K> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    fn is_banned(&self, key: &K, now: Instant) -> bool {
        self.entries.get(key).is_some_and(|e| e.is_banned(now))
    }

    /// Adds a failure; returns true when it starts a ban.
    fn record(&mut self, key: K, policy: &BanPolicy, now: Instant) -> bool {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.evict(policy, now);
        }
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            banned_until: None,
            last_seen: now,
        });
        entry.last_seen = now;
        if entry.is_banned(now) {
            return false;
        }
        entry.banned_until = None;
        while entry
            .failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= policy.window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        let limit = usize::try_from(policy.max_failures).unwrap_or(usize::MAX);
        if entry.failures.len() >= limit {
            entry.failures.clear();
            entry.banned_until = Some(now + policy.ban);
            return true;
        }
        false
    }

    /// Frees room: first every idle entry, then, if that freed less than an eighth of the
    /// capacity, the least recently seen entries that are not banned, then banned ones. The
    /// batch keeps eviction amortised O(1) per insert under a flood of new keys.
    fn evict(&mut self, policy: &BanPolicy, now: Instant) {
        self.entries.retain(|_, e| !e.is_idle(policy, now));
        let target = self.capacity - self.capacity / 8;
        if self.entries.len() < target.max(1) {
            return;
        }
        let mut order: Vec<(bool, Instant, K)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.is_banned(now), e.last_seen, k.clone()))
            .collect();
        order.sort_by_key(|(banned, seen, _)| (*banned, *seen));
        let excess = self.entries.len() + 1 - target.max(1);
        for (_, _, key) in order.into_iter().take(excess) {
            self.entries.remove(&key);
        }
    }
}

impl Tracker<String> {
    fn is_banned_str(&self, key: &str, now: Instant) -> bool {
        self.entries.get(key).is_some_and(|e| e.is_banned(now))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn policy() -> BanPolicy {
        BanPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(300),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn third_failure_within_window_bans_source_and_user_once() {
        let bans = BanList::new(policy(), 16);
        let t0 = Instant::now();
        let src = ip("192.0.2.1");
        assert_eq!(
            bans.record_failure(src, Some("1000"), t0),
            NewBans::default()
        );
        assert_eq!(
            bans.record_failure(src, Some("1000"), t0 + Duration::from_secs(1)),
            NewBans::default()
        );
        let third = bans.record_failure(src, Some("1000"), t0 + Duration::from_secs(2));
        assert_eq!(
            third,
            NewBans {
                source: true,
                user: true
            }
        );
        assert!(bans.is_source_banned(src, t0 + Duration::from_secs(3)));
        assert!(bans.is_user_banned("1000", t0 + Duration::from_secs(3)));
        assert!(!bans.is_user_banned("1001", t0 + Duration::from_secs(3)));
        assert!(!bans.is_source_banned(ip("192.0.2.2"), t0 + Duration::from_secs(3)));
    }

    #[test]
    fn failures_spread_wider_than_window_do_not_ban() {
        let bans = BanList::new(policy(), 16);
        let t0 = Instant::now();
        let src = ip("192.0.2.1");
        for i in 0..10u64 {
            let new = bans.record_failure(src, None, t0 + Duration::from_secs(i * 31));
            assert!(!new.source, "failure {i} must not ban");
        }
    }

    #[test]
    fn ban_lapses_after_its_duration_and_counting_restarts() {
        let bans = BanList::new(policy(), 16);
        let t0 = Instant::now();
        let src = ip("192.0.2.1");
        for _ in 0..3 {
            bans.record_failure(src, None, t0);
        }
        assert!(bans.is_source_banned(src, t0 + Duration::from_secs(299)));
        let after = t0 + Duration::from_secs(300);
        assert!(!bans.is_source_banned(src, after));
        assert!(!bans.record_failure(src, None, after).source);
        assert!(!bans.is_source_banned(src, after));
    }

    #[test]
    fn many_sources_cannot_spread_one_user_guessing_past_the_user_ban() {
        let bans = BanList::new(policy(), 16);
        let t0 = Instant::now();
        bans.record_failure(ip("192.0.2.1"), Some("1000"), t0);
        bans.record_failure(ip("192.0.2.2"), Some("1000"), t0);
        let new = bans.record_failure(ip("192.0.2.3"), Some("1000"), t0);
        assert_eq!(
            new,
            NewBans {
                source: false,
                user: true
            }
        );
    }

    #[test]
    fn ipv6_sources_in_one_slash_64_share_a_counter() {
        let bans = BanList::new(policy(), 16);
        let t0 = Instant::now();
        bans.record_failure(ip("2001:db8::1"), None, t0);
        bans.record_failure(ip("2001:db8::2"), None, t0);
        bans.record_failure(ip("2001:db8::ffff:3"), None, t0);
        assert!(bans.is_source_banned(ip("2001:db8::9"), t0));
        assert!(!bans.is_source_banned(ip("2001:db8:0:1::1"), t0));
    }

    #[test]
    fn zero_ban_duration_disables_banning() {
        let bans = BanList::new(
            BanPolicy {
                ban: Duration::ZERO,
                ..policy()
            },
            16,
        );
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                bans.record_failure(ip("192.0.2.1"), Some("u"), t0),
                NewBans::default()
            );
        }
        assert!(!bans.is_source_banned(ip("192.0.2.1"), t0));
        assert!(bans.is_empty());
    }

    #[test]
    fn memory_stays_bounded_and_active_bans_survive_a_flood() {
        let bans = BanList::new(policy(), 64);
        let t0 = Instant::now();
        let attacker = ip("198.51.100.7");
        for _ in 0..3 {
            bans.record_failure(attacker, None, t0);
        }
        for i in 0..10_000u32 {
            let src = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            bans.record_failure(
                src,
                Some(&format!("guess{i}")),
                t0 + Duration::from_millis(1),
            );
            let (sources, users) = bans.len();
            assert!(sources <= 64 && users <= 64);
        }
        assert!(bans.is_source_banned(attacker, t0 + Duration::from_secs(1)));
    }
}
