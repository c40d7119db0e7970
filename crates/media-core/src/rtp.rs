//! RTP packets (RFC 3550 §5.1, §5.3.1): a zero-copy parsed view, an owned builder, in-place
//! header rewriting for relays, and RTP/RTCP demultiplexing on a shared port (RFC 5761 §4).
//!
//! Pure: no I/O, no clock, no allocation when parsing or rewriting.

use thiserror::Error;

/// Fixed RTP header length in bytes (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;

/// Why bytes are not a valid RTP packet, or a packet does not fit its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RtpError {
    /// Fewer bytes than the part of the header being read.
    #[error("RTP packet truncated: need {needed} bytes, have {len}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// The padding bit is set but the padding count is zero.
    #[error("RTP padding count is zero")]
    ZeroPadding,
    /// The padding count is larger than what follows the header.
    #[error("RTP padding count {padding} exceeds the {available} bytes after the header")]
    PaddingTooLong {
        /// Padding count from the last octet.
        padding: u8,
        /// Bytes after the header (payload plus padding).
        available: usize,
    },
    /// More than 15 CSRCs given to the builder.
    #[error("{0} CSRCs given, at most 15 fit")]
    TooManyCsrcs(usize),
    /// Extension data given to the builder is not a whole number of 32-bit words or too long.
    #[error("RTP header extension of {0} bytes is not a multiple of 4 below 262144")]
    BadExtensionLength(usize),
    /// The output buffer is too small for the packet.
    #[error("output buffer of {len} bytes is too small for {needed}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        len: usize,
    },
}

/// What a datagram on a port shared by RTP and RTCP is (RFC 5761 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// An RTP packet.
    Rtp,
    /// An RTCP packet (second octet 192..=223, i.e. RTP PT 64..=95 with the marker bit).
    Rtcp,
    /// Not version 2 or too short: neither (STUN, DTLS or junk).
    Other,
}

/// Classify a datagram received on a muxed RTP/RTCP port (RFC 5761 §4).
pub fn classify(buf: &[u8]) -> PacketKind {
    if buf.len() < 4 || buf[0] >> 6 != 2 {
        return PacketKind::Other;
    }
    // RFC 5761 §4: RTCP packet types 192..=223 appear as payload types 64..=95 when the marker
    // bit is masked off; RTP payload types must avoid that range.
    match buf[1] & 0x7F {
        64..=95 => PacketKind::Rtcp,
        _ => PacketKind::Rtp,
    }
}

/// RTP header extension (RFC 3550 §5.3.1): profile-defined 16 bits and the data words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The 16-bit profile-specific identifier (e.g. 0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// Extension data, a whole number of 32-bit words, without the 4-byte extension header.
    pub data: &'a [u8],
}

/// A validated, borrowed view of an RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
    extension: Option<(u16, usize, usize)>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn need(buf: &[u8], needed: usize) -> Result<(), RtpError> {
    if buf.len() < needed {
        Err(RtpError::Truncated {
            needed,
            len: buf.len(),
        })
    } else {
        Ok(())
    }
}

impl<'a> RtpPacket<'a> {
    /// Parse and validate an RTP packet (RFC 3550 §5.1).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        need(buf, RTP_HEADER_LEN)?;
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let csrc_count = usize::from(buf[0] & 0x0F);
        let mut header_len = RTP_HEADER_LEN + 4 * csrc_count;
        need(buf, header_len)?;
        let mut extension = None;
        if buf[0] & 0x10 != 0 {
            // RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words.
            need(buf, header_len + 4)?;
            let profile = be16(buf, header_len);
            let words = usize::from(be16(buf, header_len + 2));
            let start = header_len + 4;
            let end = start + 4 * words;
            need(buf, end)?;
            extension = Some((profile, start, end));
            header_len = end;
        }
        let mut payload_end = buf.len();
        if buf[0] & 0x20 != 0 {
            // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
            let padding = buf[buf.len() - 1];
            let available = buf.len() - header_len;
            if padding == 0 {
                return Err(RtpError::ZeroPadding);
            }
            if usize::from(padding) > available {
                return Err(RtpError::PaddingTooLong { padding, available });
            }
            payload_end -= usize::from(padding);
        }
        Ok(Self {
            buf,
            header_len,
            payload_end,
            extension,
        })
    }

    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// Whether the padding bit is set.
    pub fn has_padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// Number of padding octets stripped from the end (0 without padding).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }

    /// The marker bit.
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7F
    }

    /// The 16-bit sequence number.
    pub fn sequence(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// The 32-bit RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The synchronization source.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// Number of contributing sources (CC field).
    pub fn csrc_count(&self) -> usize {
        usize::from(self.buf[0] & 0x0F)
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let buf = self.buf;
        (0..self.csrc_count()).map(move |i| be32(buf, RTP_HEADER_LEN + 4 * i))
    }

    /// The header extension, when the X bit is set.
    pub fn extension(&self) -> Option<RtpExtension<'a>> {
        self.extension.map(|(profile, start, end)| RtpExtension {
            profile,
            data: &self.buf[start..end],
        })
    }

    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, with padding removed.
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }
}

/// In-place rewriting of the fixed RTP header fields of a packet about to be relayed.
///
/// Only the fixed 12-byte header is touched, so CSRCs, extension, payload and padding stay valid.
#[derive(Debug)]
pub struct RtpHeaderMut<'a> {
    buf: &'a mut [u8],
}

impl<'a> RtpHeaderMut<'a> {
    /// Wrap a buffer holding at least a fixed RTP version-2 header.
    pub fn new(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        need(buf, RTP_HEADER_LEN)?;
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        Ok(Self { buf })
    }

    /// Replace the SSRC.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    }

    /// Replace the sequence number.
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }

    /// Replace the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }

    /// Replace the payload type (low 7 bits used), keeping the marker bit.
    pub fn set_payload_type(&mut self, pt: u8) {
        self.buf[1] = (self.buf[1] & 0x80) | (pt & 0x7F);
    }

    /// Set or clear the marker bit.
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7F) | if marker { 0x80 } else { 0 };
    }
}

/// Builder for an RTP packet; [`RtpBuilder::write_to`] serializes without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtpBuilder {
    payload_type: u8,
    marker: bool,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    extension: Option<(u16, Vec<u8>)>,
    padding: u8,
}

impl RtpBuilder {
    /// A header with the given payload type, sequence, timestamp and SSRC.
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32) -> Self {
        Self {
            payload_type: payload_type & 0x7F,
            sequence,
            timestamp,
            ssrc,
            ..Self::default()
        }
    }

    /// Set the marker bit.
    pub fn marker(mut self, marker: bool) -> Self {
        self.marker = marker;
        self
    }

    /// Set the contributing sources (at most 15).
    pub fn csrcs(mut self, csrcs: &[u32]) -> Self {
        self.csrcs = csrcs.to_vec();
        self
    }

    /// Add a header extension; `data` must be a whole number of 32-bit words.
    pub fn extension(mut self, profile: u16, data: &[u8]) -> Self {
        self.extension = Some((profile, data.to_vec()));
        self
    }

    /// Append `padding` octets (0 for none); the last one carries the count (RFC 3550 §5.1).
    pub fn padding(mut self, padding: u8) -> Self {
        self.padding = padding;
        self
    }

    fn check(&self) -> Result<(), RtpError> {
        if self.csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs(self.csrcs.len()));
        }
        if let Some((_, data)) = &self.extension
            && (data.len() % 4 != 0 || data.len() / 4 > usize::from(u16::MAX))
        {
            return Err(RtpError::BadExtensionLength(data.len()));
        }
        Ok(())
    }

    /// Total packet length with a payload of `payload_len` bytes.
    pub fn packet_len(&self, payload_len: usize) -> usize {
        RTP_HEADER_LEN
            + 4 * self.csrcs.len()
            + self.extension.as_ref().map_or(0, |(_, d)| 4 + d.len())
            + payload_len
            + usize::from(self.padding)
    }

    /// Serialize header, `payload` and padding into `out`; returns the bytes written.
    pub fn write_to(&self, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
        self.check()?;
        let len = self.packet_len(payload.len());
        if out.len() < len {
            return Err(RtpError::BufferTooSmall {
                needed: len,
                len: out.len(),
            });
        }
        let mut b0 = 0x80 | self.csrcs.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out[0] = b0;
        out[1] = self.payload_type | if self.marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = RTP_HEADER_LEN;
        for csrc in &self.csrcs {
            out[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
            at += 4;
        }
        if let Some((profile, data)) = &self.extension {
            out[at..at + 2].copy_from_slice(&profile.to_be_bytes());
            out[at + 2..at + 4].copy_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            at += 4;
            out[at..at + data.len()].copy_from_slice(data);
            at += data.len();
        }
        out[at..at + payload.len()].copy_from_slice(payload);
        at += payload.len();
        if self.padding > 0 {
            let pad = usize::from(self.padding);
            out[at..at + pad].fill(0);
            out[at + pad - 1] = self.padding;
            at += pad;
        }
        Ok(at)
    }

    /// Serialize into a new `Vec`.
    pub fn to_vec(&self, payload: &[u8]) -> Result<Vec<u8>, RtpError> {
        let mut out = vec![0; self.packet_len(payload.len())];
        let n = self.write_to(payload, &mut out)?;
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SIMPLE: [u8; 16] = [
        0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x01, 0x40, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4,
    ];

    #[test]
    fn simple_pcmu_packet_parses_its_fixed_header() {
        let p = RtpPacket::parse(&SIMPLE).unwrap();
        assert_eq!(p.payload_type(), 0);
        assert!(!p.marker());
        assert_eq!(p.sequence(), 0x1234);
        assert_eq!(p.timestamp(), 320);
        assert_eq!(p.ssrc(), 0xDEAD_BEEF);
        assert_eq!(p.csrcs().count(), 0);
        assert_eq!(p.extension(), None);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn csrc_extension_and_padding_combine() {
        let bytes = [
            0xB2, 0xE0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1, // V=2 P X CC=2, M, PT=96
            0, 0, 0, 0xA, 0, 0, 0, 0xB, // CSRCs
            0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0, // extension: 1 word
            9, 8, 7, // payload
            0, 0, 3, // padding of 3
        ];
        let p = RtpPacket::parse(&bytes).unwrap();
        assert!(p.marker());
        assert_eq!(p.payload_type(), 96);
        assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![0xA, 0xB]);
        let ext = p.extension().unwrap();
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data, &[0x10, 0xFF, 0, 0]);
        assert_eq!(p.payload(), &[9, 8, 7]);
        assert_eq!(p.padding_len(), 3);
        assert_eq!(p.header_len(), 28);
    }

    #[test]
    fn malformed_packets_are_rejected_with_their_reason() {
        assert!(matches!(
            RtpPacket::parse(&SIMPLE[..11]),
            Err(RtpError::Truncated { needed: 12, .. })
        ));
        let mut v1 = SIMPLE;
        v1[0] = 0x40;
        assert_eq!(RtpPacket::parse(&v1), Err(RtpError::BadVersion(1)));
        let mut cc = SIMPLE;
        cc[0] = 0x82; // two CSRCs but only 4 bytes follow
        assert!(matches!(
            RtpPacket::parse(&cc),
            Err(RtpError::Truncated { needed: 20, .. })
        ));
        let mut ext = SIMPLE;
        ext[0] = 0x90;
        ext[12..16].copy_from_slice(&[0xBE, 0xDE, 0, 2]);
        assert!(matches!(
            RtpPacket::parse(&ext),
            Err(RtpError::Truncated { needed: 24, .. })
        ));
        let mut pad0 = SIMPLE;
        pad0[0] = 0xA0;
        pad0[15] = 0;
        assert_eq!(RtpPacket::parse(&pad0), Err(RtpError::ZeroPadding));
        let mut padlong = SIMPLE;
        padlong[0] = 0xA0;
        padlong[15] = 5;
        assert_eq!(
            RtpPacket::parse(&padlong),
            Err(RtpError::PaddingTooLong {
                padding: 5,
                available: 4
            })
        );
    }

    #[test]
    fn padding_may_consume_the_whole_payload() {
        let mut p = SIMPLE;
        p[0] = 0xA0;
        p[15] = 4;
        assert_eq!(RtpPacket::parse(&p).unwrap().payload(), &[] as &[u8]);
    }

    #[test]
    fn muxed_port_tells_rtcp_from_rtp_by_payload_type_range() {
        assert_eq!(classify(&SIMPLE), PacketKind::Rtp);
        assert_eq!(classify(&[0x80, 200, 0, 6]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x81, 201, 0, 1]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 0xE0, 0, 1]), PacketKind::Rtp); // M + PT 96
        assert_eq!(classify(&[0x80, 223, 0, 1]), PacketKind::Rtcp);
        assert_eq!(classify(&[0x80, 224, 0, 1]), PacketKind::Rtp);
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketKind::Other); // STUN
        assert_eq!(classify(&[0x80]), PacketKind::Other);
    }

    #[test]
    fn relay_rewrites_header_fields_in_place() {
        let mut buf = SIMPLE;
        buf[1] = 0x80; // marker, PT 0
        let mut h = RtpHeaderMut::new(&mut buf).unwrap();
        h.set_ssrc(7);
        h.set_sequence(65535);
        h.set_timestamp(u32::MAX);
        h.set_payload_type(8);
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(
            (p.ssrc(), p.sequence(), p.timestamp()),
            (7, 65535, u32::MAX)
        );
        assert_eq!(p.payload_type(), 8);
        assert!(p.marker());
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        let mut h = RtpHeaderMut::new(&mut buf).unwrap();
        h.set_marker(false);
        assert!(!RtpPacket::parse(&buf).unwrap().marker());
        assert!(RtpHeaderMut::new(&mut [0x80; 4]).is_err());
    }

    #[test]
    fn builder_rejects_what_cannot_be_encoded() {
        let b = RtpBuilder::new(0, 0, 0, 0).csrcs(&[0; 16]);
        assert_eq!(b.to_vec(&[]), Err(RtpError::TooManyCsrcs(16)));
        let b = RtpBuilder::new(0, 0, 0, 0).extension(1, &[0; 3]);
        assert_eq!(b.to_vec(&[]), Err(RtpError::BadExtensionLength(3)));
        let b = RtpBuilder::new(0, 0, 0, 0);
        assert!(matches!(
            b.write_to(&[1; 10], &mut [0; 12]),
            Err(RtpError::BufferTooSmall {
                needed: 22,
                len: 12
            })
        ));
    }

    #[test]
    fn builder_output_matches_hand_built_bytes() {
        let v = RtpBuilder::new(0, 0x1234, 320, 0xDEAD_BEEF)
            .to_vec(&[1, 2, 3, 4])
            .unwrap();
        assert_eq!(v, SIMPLE);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                let _ = (p.payload(), p.extension(), p.csrcs().count(), p.padding_len());
            }
            let _ = classify(&bytes);
        }

        #[test]
        fn build_then_parse_round_trips(
            pt in 0u8..128, marker: bool, seq: u16, ts: u32, ssrc: u32,
            csrcs in proptest::collection::vec(any::<u32>(), 0..16),
            ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..5))),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            padding: u8,
        ) {
            let mut b = RtpBuilder::new(pt, seq, ts, ssrc).marker(marker).csrcs(&csrcs).padding(padding);
            let ext = ext.map(|(profile, words)| {
                let data: Vec<u8> = words.iter().flat_map(|w| [*w, 0, 1, 2]).collect();
                (profile, data)
            });
            if let Some((profile, data)) = &ext {
                b = b.extension(*profile, data);
            }
            let bytes = b.to_vec(&payload).unwrap();
            let p = RtpPacket::parse(&bytes).unwrap();
            prop_assert_eq!(p.payload_type(), pt);
            prop_assert_eq!(p.marker(), marker);
            prop_assert_eq!(p.sequence(), seq);
            prop_assert_eq!(p.timestamp(), ts);
            prop_assert_eq!(p.ssrc(), ssrc);
            prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
            prop_assert_eq!(p.extension().map(|e| (e.profile, e.data.to_vec())), ext);
            prop_assert_eq!(p.payload(), &payload[..]);
            prop_assert_eq!(p.padding_len(), usize::from(padding));
        }
    }
}
