//! Nonce-count replay protection (RFC 2617 §3.2.2: the server remembers the highest `nc` seen
//! per nonce and refuses a count that does not grow), in bounded memory.
//!
//! Per node: in a cluster each node keeps its own tracker, so a request replayed to a
//! *different* node within the nonce lifetime passes that node's tracker. A shared store
//! can give cluster-wide protection by keeping the same rule (atomic "set if greater" on
//! `nonce -> highest nc`, expiring with the nonce); this type is the single-node form.

use std::collections::{BTreeSet, HashMap};

use super::nonce::{self, NONCE_LEN};

/// The tracker's verdict on one `(nonce, nc)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCountCheck {
    /// `nc` is higher than any seen with this nonce; it is now the highest.
    Accepted,
    /// `nc` was already used (or is 0): a replay. Refuse the request.
    Replayed,
    /// The tracker cannot vouch for this nonce: it is not in our nonce format, it has expired,
    /// or its history was evicted under memory pressure. Challenge again with `stale=true`.
    Untracked,
}

/// Highest nonce count per nonce, for nonces issued by [`super::NonceIssuer`].
///
/// Memory is bounded by `capacity` entries (about 100 bytes each). Entries leave when their
/// nonce expires; when full, the entry of the oldest nonce is evicted and every nonce issued
/// at or before it becomes [`NonceCountCheck::Untracked`], so eviction never lets a replay
/// through. Size `capacity` above the number of nonces authenticated within one lifetime.
#[derive(Debug)]
pub struct NonceCountTracker {
    capacity: usize,
    lifetime_secs: u64,
    /// Highest nonce count seen, per decoded nonce.
    entries: HashMap<[u8; NONCE_LEN], u32>,
    /// Entries ordered by issue time, oldest first.
    by_age: BTreeSet<(u64, [u8; NONCE_LEN])>,
    /// Nonces issued at or before this instant have no history any more.
    forgotten_up_to: Option<u64>,
    evicted_live: u64,
}

impl NonceCountTracker {
    /// A tracker holding at most `capacity` nonces (at least 1) whose nonces live
    /// `lifetime_secs` (the issuer's lifetime).
    pub fn new(capacity: usize, lifetime_secs: u64) -> Self {
        NonceCountTracker {
            capacity: capacity.max(1),
            lifetime_secs,
            entries: HashMap::new(),
            by_age: BTreeSet::new(),
            forgotten_up_to: None,
            evicted_live: 0,
        }
    }

    /// Records `nc` for `nonce` if it is higher than any seen. Call only after the nonce was
    /// verified valid and the response checked, so unauthenticated traffic cannot fill the
    /// table, and after transaction matching, so a retransmission (same `nc`) is not taken
    /// for a replay.
    pub fn check(&mut self, nonce: &str, nc: u32, now_unix_secs: u64) -> NonceCountCheck {
        self.expire(now_unix_secs);
        let Some(raw) = nonce::decode(nonce) else {
            return NonceCountCheck::Untracked;
        };
        let issued_at = nonce::timestamp(&raw);
        if self.is_expired(issued_at, now_unix_secs) {
            return NonceCountCheck::Untracked;
        }
        if let Some(highest) = self.entries.get_mut(&raw) {
            if nc > *highest {
                *highest = nc;
                return NonceCountCheck::Accepted;
            }
            return NonceCountCheck::Replayed;
        }
        if self.forgotten_up_to.is_some_and(|t| issued_at <= t) {
            return NonceCountCheck::Untracked;
        }
        // RFC 2617 §3.2.2: the first request with a nonce carries nc=00000001.
        if nc == 0 {
            return NonceCountCheck::Replayed;
        }
        while self.entries.len() >= self.capacity {
            let Some(oldest) = self.by_age.pop_first() else {
                break;
            };
            self.forget(oldest);
            self.evicted_live += 1;
        }
        self.entries.insert(raw, nc);
        self.by_age.insert((issued_at, raw));
        NonceCountCheck::Accepted
    }

    /// Nonces currently tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no nonce is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many unexpired nonces were evicted because the tracker was full (a metric: non-zero
    /// means `capacity` is too small and clients are being re-challenged).
    pub fn evicted_live(&self) -> u64 {
        self.evicted_live
    }

    fn is_expired(&self, issued_at: u64, now_unix_secs: u64) -> bool {
        now_unix_secs.saturating_sub(issued_at) > self.lifetime_secs
    }

    fn expire(&mut self, now_unix_secs: u64) {
        while let Some(&(issued_at, raw)) = self.by_age.first() {
            if !self.is_expired(issued_at, now_unix_secs) {
                break;
            }
            self.by_age.pop_first();
            self.forget((issued_at, raw));
        }
    }

    fn forget(&mut self, (issued_at, raw): (u64, [u8; NONCE_LEN])) {
        self.entries.remove(&raw);
        self.forgotten_up_to = Some(self.forgotten_up_to.map_or(issued_at, |t| t.max(issued_at)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::super::NonceIssuer;
    use super::*;

    const T0: u64 = 1_800_000_000;
    const LIFETIME: u64 = 300;

    fn issuer() -> NonceIssuer {
        NonceIssuer::new(b"a cluster key, 16+ bytes", "example.com", LIFETIME).unwrap()
    }

    #[test]
    fn growing_nonce_counts_are_accepted_and_a_repeated_one_is_replay() {
        let n = issuer().issue(T0, 1);
        let mut t = NonceCountTracker::new(10, LIFETIME);
        assert_eq!(t.check(&n, 1, T0), NonceCountCheck::Accepted);
        assert_eq!(t.check(&n, 2, T0 + 1), NonceCountCheck::Accepted);
        assert_eq!(t.check(&n, 2, T0 + 2), NonceCountCheck::Replayed);
        assert_eq!(t.check(&n, 1, T0 + 2), NonceCountCheck::Replayed);
        assert_eq!(t.check(&n, 5, T0 + 3), NonceCountCheck::Accepted);
        assert_eq!(t.check(&n, 4, T0 + 3), NonceCountCheck::Replayed);
    }

    #[test]
    fn nonce_count_zero_is_never_accepted() {
        let n = issuer().issue(T0, 1);
        let mut t = NonceCountTracker::new(10, LIFETIME);
        assert_eq!(t.check(&n, 0, T0), NonceCountCheck::Replayed);
        assert!(t.is_empty());
    }

    #[test]
    fn same_nonce_in_upper_case_hex_shares_the_history() {
        let n = issuer().issue(T0, 1);
        let mut t = NonceCountTracker::new(10, LIFETIME);
        assert_eq!(t.check(&n, 1, T0), NonceCountCheck::Accepted);
        assert_eq!(
            t.check(&n.to_ascii_uppercase(), 1, T0),
            NonceCountCheck::Replayed
        );
    }

    #[test]
    fn expired_nonces_leave_the_table_and_are_untracked() {
        let n = issuer().issue(T0, 1);
        let mut t = NonceCountTracker::new(10, LIFETIME);
        assert_eq!(t.check(&n, 1, T0), NonceCountCheck::Accepted);
        let later = issuer().issue(T0 + LIFETIME + 1, 2);
        assert_eq!(
            t.check(&later, 1, T0 + LIFETIME + 1),
            NonceCountCheck::Accepted
        );
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.check(&n, 2, T0 + LIFETIME + 1),
            NonceCountCheck::Untracked
        );
        assert_eq!(t.evicted_live(), 0);
    }

    #[test]
    fn full_tracker_evicts_the_oldest_and_never_accepts_its_replay() {
        let mut t = NonceCountTracker::new(2, LIFETIME);
        let a = issuer().issue(T0, 1);
        let b = issuer().issue(T0 + 1, 2);
        let c = issuer().issue(T0 + 2, 3);
        assert_eq!(t.check(&a, 1, T0 + 2), NonceCountCheck::Accepted);
        assert_eq!(t.check(&b, 1, T0 + 2), NonceCountCheck::Accepted);
        assert_eq!(t.check(&c, 1, T0 + 2), NonceCountCheck::Accepted);
        assert_eq!(t.len(), 2);
        assert_eq!(t.evicted_live(), 1);
        // a's history is gone: its replay is not accepted, the client is re-challenged.
        assert_eq!(t.check(&a, 1, T0 + 3), NonceCountCheck::Untracked);
        // An unseen nonce issued before the evicted one is untracked as well.
        let older = issuer().issue(T0 - 1, 4);
        assert_eq!(t.check(&older, 1, T0 + 3), NonceCountCheck::Untracked);
        // Survivors keep their history.
        assert_eq!(t.check(&b, 1, T0 + 3), NonceCountCheck::Replayed);
        assert_eq!(t.check(&c, 2, T0 + 3), NonceCountCheck::Accepted);
    }

    #[test]
    fn capacity_zero_still_tracks_one_nonce() {
        let mut t = NonceCountTracker::new(0, LIFETIME);
        let n = issuer().issue(T0, 1);
        assert_eq!(t.check(&n, 1, T0), NonceCountCheck::Accepted);
        assert_eq!(t.check(&n, 1, T0), NonceCountCheck::Replayed);
    }

    #[test]
    fn foreign_nonce_format_is_untracked() {
        let mut t = NonceCountTracker::new(10, LIFETIME);
        assert_eq!(
            t.check("dcd98b7102dd2f0e8b11d0f600bfb0c093", 1, T0),
            NonceCountCheck::Untracked
        );
    }
}
