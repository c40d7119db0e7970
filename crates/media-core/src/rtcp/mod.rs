//! RTCP packets (RFC 3550 §6): iteration over a compound packet with length validation and the
//! packet enum; report, SDES and BYE views and writers live in the submodules.
//!
//! Pure: no I/O, no clock, no allocation when parsing.

mod bye;
mod report;
mod sdes;

pub use bye::{Bye, write_bye};
pub use report::{
    ReceiverReport, ReportBlock, ReportBlocks, SenderInfo, SenderReport, write_receiver_report,
    write_sender_report,
};
pub use sdes::{SdesChunk, SourceDescription, write_sdes_cname};

use thiserror::Error;

/// RTCP packet type: sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// RTCP packet type: receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// RTCP packet type: source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// RTCP packet type: goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

pub(crate) const REPORT_BLOCK_LEN: usize = 24;

/// Why bytes are not a valid RTCP packet, or a packet does not fit its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtcpError {
    /// Fewer bytes than the header or length field requires.
    #[error("RTCP packet truncated: need {needed} bytes, have {len}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// The padding count is zero or larger than the packet body.
    #[error("RTCP padding count {0} is invalid")]
    BadPadding(u8),
    /// The body is too short for the count field (report blocks, chunks or SSRCs).
    #[error("RTCP packet type {packet_type} body too short for count {count}")]
    CountMismatch {
        /// The packet type.
        packet_type: u8,
        /// The 5-bit count field.
        count: u8,
    },
    /// An SDES chunk or item runs past the packet end or is not terminated.
    #[error("malformed SDES chunk")]
    BadSdes,
    /// More than 31 report blocks, sources or chunks given to a writer.
    #[error("{0} items given, at most 31 fit")]
    TooManyItems(usize),
    /// An SDES item or BYE reason longer than 255 bytes given to a writer.
    #[error("text of {0} bytes is longer than 255")]
    TextTooLong(usize),
    /// The output buffer is too small for the packet.
    #[error("output buffer of {len} bytes is too small for {needed}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// One RTCP packet of a compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    /// Sender report.
    SenderReport(SenderReport<'a>),
    /// Receiver report.
    ReceiverReport(ReceiverReport<'a>),
    /// Source description.
    SourceDescription(SourceDescription<'a>),
    /// Goodbye.
    Bye(Bye<'a>),
    /// Any other packet type (APP, feedback, XR), body unparsed.
    Other {
        /// Packet type.
        packet_type: u8,
        /// The 5-bit count / format field.
        count: u8,
        /// Body after the 4-byte header, padding removed.
        body: &'a [u8],
    },
}

fn parse_one(count: u8, packet_type: u8, body: &[u8]) -> Result<RtcpPacket<'_>, RtcpError> {
    let short = RtcpError::CountMismatch { packet_type, count };
    let blocks_len = usize::from(count) * REPORT_BLOCK_LEN;
    Ok(match packet_type {
        PT_SR => {
            // RFC 3550 §6.4.1: SSRC, 20 bytes of sender info, then report blocks.
            if body.len() < 24 + blocks_len {
                return Err(short);
            }
            RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(body, 0),
                info: SenderInfo {
                    ntp_timestamp: u64::from(be32(body, 4)) << 32 | u64::from(be32(body, 8)),
                    rtp_timestamp: be32(body, 12),
                    packet_count: be32(body, 16),
                    octet_count: be32(body, 20),
                },
                blocks: &body[24..24 + blocks_len],
            })
        }
        PT_RR => {
            if body.len() < 4 + blocks_len {
                return Err(short);
            }
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body, 0),
                blocks: &body[4..4 + blocks_len],
            })
        }
        PT_SDES => RtcpPacket::SourceDescription(SourceDescription::parse(count, body)?),
        PT_BYE => {
            let n = 4 * usize::from(count);
            if body.len() < n {
                return Err(short);
            }
            let reason = match body.get(n) {
                Some(&len) if body.len() > n + usize::from(len) => {
                    Some(&body[n + 1..n + 1 + usize::from(len)])
                }
                Some(_) => return Err(short),
                None => None,
            };
            RtcpPacket::Bye(Bye {
                sources: &body[..n],
                reason,
            })
        }
        _ => RtcpPacket::Other {
            packet_type,
            count,
            body,
        },
    })
}

/// Iterator over the packets of a compound RTCP packet (RFC 3550 §6.1).
///
/// Each item is a packet or the error that ended iteration; after an error it yields nothing.
#[derive(Debug, Clone)]
pub struct CompoundPacket<'a> {
    rest: &'a [u8],
}

impl<'a> CompoundPacket<'a> {
    /// Iterate over the packets in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { rest: buf }
    }

    /// Check every packet of `buf`, returning the number of packets when all are valid.
    pub fn validate(buf: &'a [u8]) -> Result<usize, RtcpError> {
        if buf.is_empty() {
            return Err(RtcpError::Truncated { needed: 4, len: 0 });
        }
        Self::new(buf).try_fold(0, |n, p| p.map(|_| n + 1))
    }

    fn next_packet(&mut self) -> Result<RtcpPacket<'a>, RtcpError> {
        let buf = self.rest;
        if buf.len() < 4 {
            return Err(RtcpError::Truncated {
                needed: 4,
                len: buf.len(),
            });
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        // RFC 3550 §6.4.1: length is in 32-bit words minus one, header included.
        let len = (usize::from(be16(buf, 2)) + 1) * 4;
        if buf.len() < len {
            return Err(RtcpError::Truncated {
                needed: len,
                len: buf.len(),
            });
        }
        let mut body = &buf[4..len];
        if buf[0] & 0x20 != 0 {
            let pad = buf[len - 1];
            if pad == 0 || usize::from(pad) > body.len() {
                return Err(RtcpError::BadPadding(pad));
            }
            body = &body[..body.len() - usize::from(pad)];
        }
        self.rest = &buf[len..];
        parse_one(buf[0] & 0x1F, buf[1], body)
    }
}

impl<'a> Iterator for CompoundPacket<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.next_packet();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

fn write_header(out: &mut [u8], count: usize, packet_type: u8, len: usize) {
    out[0] = 0x80 | count as u8;
    out[1] = packet_type;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

fn room(out: &[u8], needed: usize) -> Result<(), RtcpError> {
    if out.len() < needed {
        Err(RtcpError::BufferTooSmall {
            needed,
            len: out.len(),
        })
    } else {
        Ok(())
    }
}

fn at_most_31(n: usize) -> Result<(), RtcpError> {
    if n > 31 {
        Err(RtcpError::TooManyItems(n))
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
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
    fn compound_sr_sdes_bye_round_trips_through_writers() {
        let mut buf = [0u8; 256];
        let info = SenderInfo {
            ntp_timestamp: 0xE000_0000_8000_0000,
            rtp_timestamp: 160,
            packet_count: 10,
            octet_count: 1600,
        };
        let mut n =
            write_sender_report(7, &info, &[block(8, -5), block(9, 0x7F_FFFF)], &mut buf).unwrap();
        n += write_sdes_cname(7, b"switchyard@10.0.0.1", &mut buf[n..]).unwrap();
        n += write_bye(&[7], Some(b"hangup"), &mut buf[n..]).unwrap();
        assert_eq!(n % 4, 0);
        assert_eq!(CompoundPacket::validate(&buf[..n]), Ok(3));
        let packets: Vec<_> = CompoundPacket::new(&buf[..n]).map(Result::unwrap).collect();
        let RtcpPacket::SenderReport(sr) = packets[0] else {
            panic!("SR")
        };
        assert_eq!(sr.ssrc, 7);
        assert_eq!(sr.info, info);
        assert_eq!(
            sr.report_blocks().collect::<Vec<_>>(),
            vec![block(8, -5), block(9, 0x7F_FFFF)]
        );
        let RtcpPacket::SourceDescription(sdes) = packets[1] else {
            panic!("SDES")
        };
        let chunks: Vec<_> = sdes.chunks().collect();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].ssrc, 7);
        assert_eq!(chunks[0].cname(), Some(&b"switchyard@10.0.0.1"[..]));
        let RtcpPacket::Bye(bye) = packets[2] else {
            panic!("BYE")
        };
        assert_eq!(bye.sources().collect::<Vec<_>>(), vec![7]);
        assert_eq!(bye.reason(), Some(&b"hangup"[..]));
    }

    #[test]
    fn length_past_the_buffer_is_rejected() {
        let bytes = [0x80, 201, 0, 2, 0, 0, 0, 1];
        assert_eq!(
            CompoundPacket::validate(&bytes),
            Err(RtcpError::Truncated { needed: 12, len: 8 })
        );
        assert_eq!(
            CompoundPacket::validate(&bytes[..3]),
            Err(RtcpError::Truncated { needed: 4, len: 3 })
        );
        assert_eq!(
            CompoundPacket::validate(&[]),
            Err(RtcpError::Truncated { needed: 4, len: 0 })
        );
    }

    #[test]
    fn report_count_larger_than_body_is_rejected() {
        let bytes = [0x82, 201, 0, 1, 0, 0, 0, 1];
        assert_eq!(
            CompoundPacket::validate(&bytes),
            Err(RtcpError::CountMismatch {
                packet_type: 201,
                count: 2
            })
        );
    }

    #[test]
    fn bad_version_and_padding_are_rejected() {
        assert_eq!(
            CompoundPacket::validate(&[0x40, 201, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::BadVersion(1))
        );
        assert_eq!(
            CompoundPacket::validate(&[0xA0, 201, 0, 1, 0, 0, 0, 0]),
            Err(RtcpError::BadPadding(0))
        );
        assert_eq!(
            CompoundPacket::validate(&[0xA0, 201, 0, 1, 0, 0, 0, 9]),
            Err(RtcpError::BadPadding(9))
        );
    }

    #[test]
    fn padded_rr_strips_padding_before_parsing() {
        let bytes = [0xA0, 201, 0, 2, 0, 0, 0, 5, 0, 0, 0, 4];
        let Some(Ok(RtcpPacket::ReceiverReport(rr))) = CompoundPacket::new(&bytes).next() else {
            panic!("RR");
        };
        assert_eq!(rr.ssrc, 5);
    }

    #[test]
    fn unknown_packet_types_are_passed_through() {
        let bytes = [0x81, 205, 0, 1, 1, 2, 3, 4];
        let p = CompoundPacket::new(&bytes).next().unwrap().unwrap();
        assert_eq!(
            p,
            RtcpPacket::Other {
                packet_type: 205,
                count: 1,
                body: &[1, 2, 3, 4]
            }
        );
    }

    #[test]
    fn writers_report_a_buffer_that_is_too_small() {
        assert_eq!(
            write_receiver_report(1, &[block(2, 0)], &mut [0; 16]),
            Err(RtcpError::BufferTooSmall {
                needed: 32,
                len: 16
            })
        );
        assert_eq!(
            write_bye(&[0; 32], None, &mut [0; 256]),
            Err(RtcpError::TooManyItems(32))
        );
        assert_eq!(
            write_sdes_cname(1, &[b'x'; 256], &mut [0; 512]),
            Err(RtcpError::TextTooLong(256))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_compound_parser(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            for p in CompoundPacket::new(&bytes) {
                match p {
                    Ok(RtcpPacket::SenderReport(sr)) => { let _ = sr.report_blocks().count(); }
                    Ok(RtcpPacket::ReceiverReport(rr)) => { let _ = rr.report_blocks().count(); }
                    Ok(RtcpPacket::SourceDescription(s)) => {
                        for c in s.chunks() { let _ = c.items().count(); }
                    }
                    Ok(RtcpPacket::Bye(b)) => { let _ = (b.sources().count(), b.reason()); }
                    _ => {}
                }
            }
        }
    }
}
