//! RTCP sender and receiver reports (RFC 3550 §6.4): report blocks, views and writers.

use super::{PT_RR, PT_SR, REPORT_BLOCK_LEN, RtcpError, at_most_31, be32, room, write_header};
use crate::seq::IntervalReport;

/// One report block of an SR or RR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in units of 1/256.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost, signed 24-bit (-8388608..=8388607).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (0 if none).
    pub last_sr: u32,
    /// Delay since the last SR, in units of 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// A block for `ssrc` from receive statistics, with the LSR/DLSR fields the caller tracks.
    pub fn from_interval(
        ssrc: u32,
        interval: &IntervalReport,
        last_sr: u32,
        delay_since_last_sr: u32,
    ) -> Self {
        Self {
            ssrc,
            fraction_lost: interval.fraction_lost,
            cumulative_lost: interval.cumulative_lost,
            extended_highest_seq: interval.extended_highest_seq,
            jitter: interval.jitter,
            last_sr,
            delay_since_last_sr,
        }
    }

    fn parse(b: &[u8]) -> Self {
        // RFC 3550 §6.4.1: cumulative lost is a signed 24-bit integer; sign-extend it.
        let raw = i32::from_be_bytes([b[5], b[6], b[7], 0]) >> 8;
        Self {
            ssrc: be32(b, 0),
            fraction_lost: b[4],
            cumulative_lost: raw,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        out[4] = self.fraction_lost;
        let lost = self
            .cumulative_lost
            .clamp(-0x80_0000, 0x7F_FFFF)
            .to_be_bytes();
        out[5..8].copy_from_slice(&lost[1..4]);
        out[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        out[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        out[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        out[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }
}

/// The sender-information part of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp of the report.
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to the NTP timestamp.
    pub rtp_timestamp: u32,
    /// Packets sent since the start of transmission.
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission.
    pub octet_count: u32,
}

/// Report blocks of an SR or RR, decoded on iteration.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;
    fn next(&mut self) -> Option<ReportBlock> {
        if self.rest.len() < REPORT_BLOCK_LEN {
            return None;
        }
        let (block, rest) = self.rest.split_at(REPORT_BLOCK_LEN);
        self.rest = rest;
        Some(ReportBlock::parse(block))
    }
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    /// SSRC of the sender.
    pub ssrc: u32,
    /// Sender information.
    pub info: SenderInfo,
    pub(super) blocks: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    /// SSRC of the report's sender.
    pub ssrc: u32,
    pub(super) blocks: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// The report blocks.
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        ReportBlocks { rest: self.blocks }
    }
}

/// Write a sender report into `out`; returns the bytes written.
pub fn write_sender_report(
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
    out: &mut [u8],
) -> Result<usize, RtcpError> {
    at_most_31(blocks.len())?;
    let len = 28 + REPORT_BLOCK_LEN * blocks.len();
    room(out, len)?;
    write_header(out, blocks.len(), PT_SR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8..16].copy_from_slice(&info.ntp_timestamp.to_be_bytes());
    out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    for (i, b) in blocks.iter().enumerate() {
        b.write(&mut out[28 + i * REPORT_BLOCK_LEN..]);
    }
    Ok(len)
}

/// Write a receiver report into `out`; returns the bytes written.
pub fn write_receiver_report(
    ssrc: u32,
    blocks: &[ReportBlock],
    out: &mut [u8],
) -> Result<usize, RtcpError> {
    at_most_31(blocks.len())?;
    let len = 8 + REPORT_BLOCK_LEN * blocks.len();
    room(out, len)?;
    write_header(out, blocks.len(), PT_RR, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    for (i, b) in blocks.iter().enumerate() {
        b.write(&mut out[8 + i * REPORT_BLOCK_LEN..]);
    }
    Ok(len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use crate::rtcp::*;
    use proptest::prelude::*;

    fn block(ssrc: u32, lost: i32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost: lost,
            extended_highest_seq: 0x0001_0005,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn receiver_report_parses_hand_built_bytes() {
        let bytes = [
            0x81, 201, 0, 7, 0, 0, 0, 1, // RR, 1 block, length 7
            0, 0, 0, 2, 0x40, 0xFF, 0xFF, 0xFE, // ssrc 2, fraction 64, lost -2
            0, 1, 0, 5, 0, 0, 0, 9, // ext seq, jitter
            0, 0, 0, 3, 0, 0, 0, 4, // lsr, dlsr
        ];
        let mut it = CompoundPacket::new(&bytes);
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = it.next() else {
            panic!("expected RR");
        };
        assert!(it.next().is_none());
        assert_eq!(rr.ssrc, 1);
        let b: Vec<_> = rr.report_blocks().collect();
        assert_eq!(
            b,
            vec![ReportBlock {
                ssrc: 2,
                fraction_lost: 64,
                cumulative_lost: -2,
                extended_highest_seq: 65541,
                jitter: 9,
                last_sr: 3,
                delay_since_last_sr: 4,
            }]
        );
    }

    #[test]
    fn cumulative_lost_is_clamped_to_signed_24_bits() {
        let mut buf = [0u8; 32];
        write_receiver_report(1, &[block(2, -10_000_000)], &mut buf).unwrap();
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = CompoundPacket::new(&buf).next() else {
            panic!("RR");
        };
        assert_eq!(
            rr.report_blocks().next().unwrap().cumulative_lost,
            -0x80_0000
        );
    }

    #[test]
    fn report_block_carries_receive_statistics() {
        let mut stats = crate::seq::ReceiveStats::new();
        for seq in [1u16, 2, 4] {
            stats.record(seq, 0, 0, 160);
        }
        let b = ReportBlock::from_interval(9, &stats.take_interval(), 3, 4);
        assert_eq!(
            (b.ssrc, b.cumulative_lost, b.extended_highest_seq),
            (9, 1, 4)
        );
        assert_eq!(b.fraction_lost, 64);
        assert_eq!((b.last_sr, b.delay_since_last_sr), (3, 4));
    }

    proptest! {
        #[test]
        fn receiver_report_build_then_parse_round_trips(
            ssrc: u32,
            raw in proptest::collection::vec(
                (any::<u32>(), any::<u8>(), -0x80_0000i32..=0x7F_FFFF, any::<u32>(), any::<u32>(),
                 any::<u32>(), any::<u32>()), 0..32),
        ) {
            let blocks: Vec<ReportBlock> = raw.iter().map(|&(s, f, l, e, j, lsr, dlsr)| ReportBlock {
                ssrc: s, fraction_lost: f, cumulative_lost: l, extended_highest_seq: e,
                jitter: j, last_sr: lsr, delay_since_last_sr: dlsr,
            }).collect();
            let mut buf = [0u8; 1024];
            let n = write_receiver_report(ssrc, &blocks, &mut buf).unwrap();
            let Some(Ok(RtcpPacket::ReceiverReport(rr))) = CompoundPacket::new(&buf[..n]).next() else {
                panic!("RR");
            };
            prop_assert_eq!(rr.ssrc, ssrc);
            prop_assert_eq!(rr.report_blocks().collect::<Vec<_>>(), blocks);
        }
    }
}
