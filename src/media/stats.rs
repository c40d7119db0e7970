//! Per-side relay statistics: the public snapshot, the relay task's local counters and the
//! atomics that publish them to the session handle.

/// Snapshot of one side's media counters. "In" is what that side's phone sent us, "out" what
/// we sent to it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegStats {
    /// RTP packets accepted from this side's phone.
    pub packets_in: u64,
    /// Bytes (UDP payload) of the RTP packets accepted from this side.
    pub bytes_in: u64,
    /// RTP packets sent to this side's phone.
    pub packets_out: u64,
    /// Bytes (UDP payload) of the RTP packets sent to this side.
    pub bytes_out: u64,
    /// Cumulative RTP packets lost from this side (RFC 3550 A.3; negative with duplicates).
    pub packets_lost: i64,
    /// Interarrival jitter of this side's G.711 stream in milliseconds (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// RTCP packets accepted from this side.
    pub rtcp_in: u64,
    /// Datagrams dropped on this side's ports: foreign source, unknown remote, not RTP/RTCP.
    pub rejected: u64,
}

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use media_core::seq::ReceiveStats;

// G.711 (RFC 3551 §4.5.14, payload types 0 and 8) runs an 8000 Hz RTP clock.
const G711_CLOCK_HZ: u32 = 8000;

/// Whether jitter can be computed for `payload_type`: its RTP clock rate is known.
fn clock_known(payload_type: u8) -> bool {
    matches!(payload_type, 0 | 8)
}

/// One side's counters, kept by the relay task and published after each wakeup.
#[derive(Debug, Default)]
pub(super) struct LegCounters {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub rtcp_in: u64,
    pub rejected: u64,
    quality: StreamQuality,
}

impl LegCounters {
    /// An RTP packet accepted from this side's phone; `arrival_us` counts from the session start.
    pub fn rtp_in(&mut self, packet: &[u8], arrival_us: u64) {
        self.packets_in += 1;
        self.bytes_in += packet.len() as u64;
        self.quality.record(packet, arrival_us);
    }
}

/// Loss over every RTP packet of the current source, jitter over its G.711 packets.
///
/// RFC 4733 events share the audio stream's SSRC and sequence space, so loss must count them,
/// but their timestamps mark the event start and would corrupt the jitter figure.
#[derive(Debug, Default)]
struct StreamQuality {
    ssrc: Option<u32>,
    loss: ReceiveStats,
    jitter: ReceiveStats,
    // Loss of sources seen before the current one (SSRC changes on re-INVITE, music on hold).
    lost_before: i64,
}

impl StreamQuality {
    fn record(&mut self, packet: &[u8], arrival_us: u64) {
        let Some(header) = packet.get(..12) else {
            return;
        };
        let payload_type = header[1] & 0x7F;
        let seq = u16::from_be_bytes([header[2], header[3]]);
        let timestamp = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let ssrc = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if self.ssrc != Some(ssrc) {
            if self.ssrc.is_some() {
                self.lost_before += self.loss.lost();
            }
            self.ssrc = Some(ssrc);
            self.loss = ReceiveStats::new();
            self.jitter = ReceiveStats::new();
        }
        // RTP units wrap at 2^32 (RFC 3550 §5.1), so the truncation is intended.
        let arrival = (arrival_us * u64::from(G711_CLOCK_HZ) / 1_000_000) as u32;
        self.loss.record(seq, timestamp, timestamp, packet.len());
        if clock_known(payload_type) {
            self.jitter.record(seq, timestamp, arrival, packet.len());
        }
    }

    fn lost(&self) -> i64 {
        self.lost_before + self.loss.lost()
    }

    fn jitter_units(&self) -> u32 {
        self.jitter.jitter()
    }
}

/// One side's counters as the session handle reads them.
#[derive(Debug, Default)]
pub(super) struct SharedLegStats {
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    packets_lost: AtomicI64,
    jitter_units: AtomicU32,
    rtcp_in: AtomicU64,
    rejected: AtomicU64,
}

impl SharedLegStats {
    /// Publish the relay task's counters; only the relay task writes.
    pub fn publish(&self, c: &LegCounters) {
        self.packets_in.store(c.packets_in, Ordering::Relaxed);
        self.bytes_in.store(c.bytes_in, Ordering::Relaxed);
        self.packets_out.store(c.packets_out, Ordering::Relaxed);
        self.bytes_out.store(c.bytes_out, Ordering::Relaxed);
        self.packets_lost.store(c.quality.lost(), Ordering::Relaxed);
        self.jitter_units
            .store(c.quality.jitter_units(), Ordering::Relaxed);
        self.rtcp_in.store(c.rtcp_in, Ordering::Relaxed);
        self.rejected.store(c.rejected, Ordering::Relaxed);
    }

    /// A snapshot.
    pub fn snapshot(&self) -> LegStats {
        LegStats {
            packets_in: self.packets_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            packets_out: self.packets_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            packets_lost: self.packets_lost.load(Ordering::Relaxed),
            jitter_ms: f64::from(self.jitter_units.load(Ordering::Relaxed)) * 1000.0
                / f64::from(G711_CLOCK_HZ),
            rtcp_in: self.rtcp_in.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use media_core::rtp::RtpBuilder;

    fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
        RtpBuilder::new(pt, seq, ts, ssrc)
            .to_vec(&[0; 160])
            .unwrap()
    }

    #[test]
    fn a_skipped_sequence_number_counts_as_lost() {
        let mut c = LegCounters::default();
        for (i, seq) in [1u16, 2, 4, 5].into_iter().enumerate() {
            c.rtp_in(&packet(0, seq, u32::from(seq) * 160, 7), i as u64 * 20_000);
        }
        let shared = SharedLegStats::default();
        shared.publish(&c);
        let s = shared.snapshot();
        assert_eq!((s.packets_in, s.packets_lost), (4, 1));
        assert_eq!(s.bytes_in, 4 * 172);
    }

    #[test]
    fn evenly_paced_g711_has_no_jitter_and_late_packets_add_some() {
        let mut c = LegCounters::default();
        for seq in 0..50u16 {
            c.rtp_in(
                &packet(8, seq, u32::from(seq) * 160, 7),
                u64::from(seq) * 20_000,
            );
        }
        assert_eq!(c.quality.jitter_units(), 0);
        // 10 ms late: D = 80 units, J = 80/16 = 5 units = 0.625 ms.
        c.rtp_in(&packet(8, 50, 50 * 160, 7), 50 * 20_000 + 10_000);
        let shared = SharedLegStats::default();
        shared.publish(&c);
        assert!((shared.snapshot().jitter_ms - 0.625).abs() < 0.2);
    }

    #[test]
    fn telephone_events_count_for_loss_but_not_jitter() {
        let mut c = LegCounters::default();
        c.rtp_in(&packet(0, 1, 160, 7), 0);
        // RFC 4733 event packets keep the event's start timestamp.
        for seq in 2..6u16 {
            c.rtp_in(&packet(101, seq, 320, 7), u64::from(seq) * 20_000);
        }
        c.rtp_in(&packet(0, 6, 6 * 160, 7), 6 * 20_000);
        assert_eq!(c.quality.lost(), 0);
        assert_eq!(c.packets_in, 6);
    }

    #[test]
    fn a_new_ssrc_keeps_the_loss_of_the_previous_source() {
        let mut c = LegCounters::default();
        c.rtp_in(&packet(0, 1, 0, 7), 0);
        c.rtp_in(&packet(0, 3, 320, 7), 40_000);
        c.rtp_in(&packet(0, 9000, 0, 8), 60_000);
        c.rtp_in(&packet(0, 9002, 320, 8), 100_000);
        assert_eq!(c.quality.lost(), 2);
    }
}
