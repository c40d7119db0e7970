//! RTP sequence-number and timestamp arithmetic with wraparound, and per-source receive
//! statistics (packets, bytes, loss, interarrival jitter) per RFC 3550 Appendix A.1 and A.8.
//!
//! Pure: no I/O, no clock. Arrival times are given in RTP timestamp units by the caller.

use std::cmp::Ordering;

/// A 16-bit RTP sequence number compared with wraparound (RFC 3550 §5.1).
///
/// `a` is newer than `b` when the forward distance from `b` to `a` is less than half the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// Signed distance from `earlier` to `self` in the wrapping 16-bit space
    /// (`SeqNo(0).distance(SeqNo(65535)) == 1`).
    pub fn distance(self, earlier: SeqNo) -> i16 {
        self.0.wrapping_sub(earlier.0) as i16
    }

    /// Whether `self` comes after `other` in wrapping order.
    pub fn is_newer_than(self, other: SeqNo) -> bool {
        self.distance(other) > 0
    }

    /// The next sequence number (65535 wraps to 0).
    pub fn next(self) -> SeqNo {
        SeqNo(self.0.wrapping_add(1))
    }

    /// Wrapping comparison; not a total order, so this is not `Ord`.
    pub fn wrapping_cmp(self, other: SeqNo) -> Ordering {
        self.distance(other).cmp(&0)
    }
}

/// Signed difference `later - earlier` of two 32-bit RTP timestamps, wrapping
/// (RFC 3550 §5.1: timestamps wrap around modulo 2^32).
pub fn timestamp_delta(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

/// Whether RTP timestamp `a` is after `b` in wrapping order.
pub fn timestamp_is_after(a: u32, b: u32) -> bool {
    timestamp_delta(a, b) > 0
}

// RFC 3550 Appendix A.1: a jump forward larger than this, or backward larger than
// MAX_MISORDER, is treated as a possible source restart.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiveStats::record`] decided about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// In order, a gap forward within `MAX_DROPOUT`, or a late packet within `MAX_MISORDER`.
    Accepted,
    /// A large jump; dropped unless the next packet follows it, which resyncs (source restart).
    Jump,
    /// The packet after a jump followed it: statistics were reset to this sequence.
    Resynced,
}

/// Interval report figures for an RTCP report block (RFC 3550 §6.4.1, A.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalReport {
    /// Fraction of packets lost since the previous report, in units of 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, clamped to the signed 24-bit range.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
}

/// Receive statistics for one RTP source: extended sequence numbers (RFC 3550 A.1), loss
/// (A.3) and interarrival jitter (A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    started: bool,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: Option<u16>,
    packets: u64,
    bytes: u64,
    expected_prior: u64,
    received_prior: u64,
    last_transit: Option<i32>,
    // RFC 3550 A.8: jitter kept scaled by 16 for integer arithmetic.
    jitter_q4: u32,
}

impl ReceiveStats {
    /// Empty statistics; the first recorded packet sets the base sequence number.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record one packet: its sequence number, RTP timestamp, arrival time in the same RTP
    /// clock units, and payload size in bytes.
    pub fn record(
        &mut self,
        seq: u16,
        rtp_timestamp: u32,
        arrival: u32,
        bytes: usize,
    ) -> SeqOutcome {
        if !self.started {
            self.reset_to(seq);
            self.started = true;
            self.count(rtp_timestamp, arrival, bytes);
            return SeqOutcome::Accepted;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        let outcome = if udelta < MAX_DROPOUT {
            // RFC 3550 A.1: in order, with permissible gap; count a wrap of the 16-bit space.
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
            SeqOutcome::Accepted
        } else if udelta <= (SEQ_MOD as u16).wrapping_sub(MAX_MISORDER) {
            // RFC 3550 A.1: very large jump; accept only if the next packet follows it.
            if self.bad_seq == Some(seq) {
                self.reset_to(seq);
                self.count(rtp_timestamp, arrival, bytes);
                return SeqOutcome::Resynced;
            }
            self.bad_seq = Some(seq.wrapping_add(1));
            return SeqOutcome::Jump;
        } else {
            // Duplicate or reordered packet within MAX_MISORDER.
            SeqOutcome::Accepted
        };
        self.count(rtp_timestamp, arrival, bytes);
        outcome
    }

    fn reset_to(&mut self, seq: u16) {
        self.max_seq = seq;
        self.cycles = 0;
        self.base_seq = u32::from(seq);
        self.bad_seq = None;
        self.packets = 0;
        self.bytes = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.last_transit = None;
        self.jitter_q4 = 0;
    }

    fn count(&mut self, rtp_timestamp: u32, arrival: u32, bytes: usize) {
        self.packets += 1;
        self.bytes += bytes as u64;
        // RFC 3550 A.8: J += (|D| - J) / 16 where D is the change in relative transit time.
        let transit = arrival.wrapping_sub(rtp_timestamp) as i32;
        if let Some(last) = self.last_transit {
            let d = transit.wrapping_sub(last).unsigned_abs();
            let j = i64::from(self.jitter_q4);
            let next = j + i64::from(d) - ((j + 8) >> 4);
            self.jitter_q4 = u32::try_from(next.max(0)).unwrap_or(u32::MAX);
        }
        self.last_transit = Some(transit);
    }

    /// Packets received (including duplicates, as RFC 3550 A.3 counts them).
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Payload bytes received.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Extended highest sequence number: cycles in the high bits, `max_seq` in the low 16.
    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected since the first one (RFC 3550 A.3).
    pub fn expected(&self) -> u64 {
        if !self.started {
            return 0;
        }
        (u64::from(self.extended_highest_seq()) + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// Cumulative packets lost: expected minus received; negative with duplicates.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.packets as i64
    }

    /// Interarrival jitter in RTP timestamp units (RFC 3550 A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter_q4 >> 4
    }

    /// Figures for a report block, and start a new interval for `fraction_lost` (RFC 3550 A.3).
    pub fn take_interval(&mut self) -> IntervalReport {
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.packets.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.packets;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            u8::try_from(((lost_interval as u64) << 8) / expected_interval).unwrap_or(u8::MAX)
        };
        // RFC 3550 §6.4.1: cumulative lost is a signed 24-bit field.
        let cumulative_lost = self.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32;
        IntervalReport {
            fraction_lost,
            cumulative_lost,
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequence_65535_is_followed_by_0() {
        assert_eq!(SeqNo(65535).next(), SeqNo(0));
        assert!(SeqNo(0).is_newer_than(SeqNo(65535)));
        assert_eq!(SeqNo(0).distance(SeqNo(65535)), 1);
        assert_eq!(SeqNo(65535).distance(SeqNo(0)), -1);
        assert_eq!(SeqNo(5).wrapping_cmp(SeqNo(65530)), Ordering::Greater);
        assert_eq!(SeqNo(7).wrapping_cmp(SeqNo(7)), Ordering::Equal);
    }

    #[test]
    fn timestamp_delta_wraps_at_u32() {
        assert_eq!(timestamp_delta(80, u32::MAX - 79), 160);
        assert_eq!(timestamp_delta(u32::MAX - 79, 80), -160);
        assert!(timestamp_is_after(10, u32::MAX));
        assert!(!timestamp_is_after(u32::MAX, 10));
    }

    #[test]
    fn extended_sequence_counts_a_wrap() {
        let mut s = ReceiveStats::new();
        for (i, seq) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            assert_eq!(
                s.record(seq, i as u32 * 160, i as u32 * 160, 160),
                SeqOutcome::Accepted
            );
        }
        assert_eq!(s.extended_highest_seq(), 65536 + 1);
        assert_eq!(s.expected(), 4);
        assert_eq!(s.lost(), 0);
        assert_eq!(s.packets(), 4);
        assert_eq!(s.bytes(), 640);
    }

    #[test]
    fn loss_and_fraction_lost_follow_gaps() {
        let mut s = ReceiveStats::new();
        // 10 expected (100..=109), 3 missing.
        for seq in [100u16, 101, 103, 104, 106, 107, 109] {
            s.record(seq, 0, 0, 0);
        }
        assert_eq!(s.expected(), 10);
        assert_eq!(s.lost(), 3);
        let r = s.take_interval();
        assert_eq!(r.cumulative_lost, 3);
        assert_eq!(r.fraction_lost, (3 * 256 / 10) as u8);
        assert_eq!(r.extended_highest_seq, 109);
        // Next interval without loss reports zero fraction, same cumulative.
        s.record(110, 0, 0, 0);
        let r = s.take_interval();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.cumulative_lost, 3);
    }

    #[test]
    fn large_jump_resyncs_only_when_the_next_packet_follows() {
        let mut s = ReceiveStats::new();
        s.record(10, 0, 0, 1);
        assert_eq!(s.record(20_000, 0, 0, 1), SeqOutcome::Jump);
        assert_eq!(s.packets(), 1);
        assert_eq!(s.record(20_001, 0, 0, 1), SeqOutcome::Resynced);
        assert_eq!(s.packets(), 1);
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn late_packet_within_misorder_is_counted_without_moving_max() {
        let mut s = ReceiveStats::new();
        s.record(50, 0, 0, 0);
        s.record(52, 0, 0, 0);
        assert_eq!(s.record(51, 0, 0, 0), SeqOutcome::Accepted);
        assert_eq!(s.extended_highest_seq(), 52);
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn jitter_matches_rfc3550_a8_on_a_known_sequence() {
        let mut s = ReceiveStats::new();
        // 20 ms packets at 8 kHz (160 units); transit 1000, 1080, 1000, 1000 gives |D| 80, 80, 0.
        let arrivals = [1000u32, 1240, 1320, 1480];
        for (i, a) in arrivals.into_iter().enumerate() {
            s.record(i as u16, i as u32 * 160, a, 160);
        }
        // RFC 3550 A.8 integer form, j scaled by 16.
        let mut j: i64 = 0;
        for d in [80i64, 80, 0] {
            j += d - ((j + 8) >> 4);
        }
        assert_eq!(s.jitter(), (j >> 4) as u32);
        assert_eq!(s.jitter(), 9);
    }

    #[test]
    fn jitter_is_zero_for_perfectly_paced_packets_across_timestamp_wrap() {
        let mut s = ReceiveStats::new();
        let base = u32::MAX - 320;
        for i in 0..10u32 {
            s.record(
                i as u16,
                base.wrapping_add(i * 160),
                5u32.wrapping_add(i * 160),
                160,
            );
        }
        assert_eq!(s.jitter(), 0);
    }

    proptest! {
        #[test]
        fn loss_equals_dropped_packets_from_any_start(
            start: u16,
            kept in proptest::collection::vec(any::<bool>(), 1..2000),
        ) {
            let mut s = ReceiveStats::new();
            let mut received = 0u64;
            let mut last_kept = 0usize;
            for (i, keep) in kept.iter().enumerate() {
                // The first packet is always delivered so the base is `start`.
                if *keep || i == 0 {
                    let seq = start.wrapping_add(i as u16);
                    prop_assert_eq!(s.record(seq, i as u32 * 160, i as u32 * 160, 1), SeqOutcome::Accepted);
                    received += 1;
                    last_kept = i;
                }
            }
            prop_assert_eq!(s.packets(), received);
            prop_assert_eq!(s.expected(), last_kept as u64 + 1);
            prop_assert_eq!(s.lost(), (last_kept as u64 + 1 - received) as i64);
            prop_assert_eq!(
                s.extended_highest_seq(),
                u32::from(start) + last_kept as u32
            );
        }

        #[test]
        fn arbitrary_packets_never_panic_the_tracker(
            pkts in proptest::collection::vec((any::<u16>(), any::<u32>(), any::<u32>(), 0usize..2000), 0..300),
        ) {
            let mut s = ReceiveStats::new();
            for (seq, ts, arrival, len) in pkts {
                s.record(seq, ts, arrival, len);
                let _ = s.take_interval();
            }
        }

        #[test]
        fn seq_distance_is_antisymmetric(a: u16, b: u16) {
            prop_assume!(a.wrapping_sub(b) != 0x8000);
            prop_assert_eq!(SeqNo(a).distance(SeqNo(b)), -SeqNo(b).distance(SeqNo(a)));
        }
    }
}
