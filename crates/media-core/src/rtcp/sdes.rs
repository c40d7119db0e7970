//! RTCP source description packets (RFC 3550 §6.5): chunk and item views, CNAME writer.

use super::{PT_SDES, RtcpError, SDES_CNAME, be32, room, write_header};

/// One SDES chunk: a source and its items (RFC 3550 §6.5), validated at parse time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// Items as (type, value) pairs.
    pub fn items(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let mut rest = self.items;
        std::iter::from_fn(move || {
            let (&kind, after) = rest.split_first()?;
            let (&len, after) = after.split_first()?;
            let len = usize::from(len);
            if kind == 0 || after.len() < len {
                return None;
            }
            let (value, after) = after.split_at(len);
            rest = after;
            Some((kind, value))
        })
    }

    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|(kind, _)| *kind == SDES_CNAME)
            .map(|(_, v)| v)
    }
}

/// A source description packet (RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, RtcpError> {
        let sdes = Self { count, body };
        let mut chunks = 0;
        for chunk in sdes.chunks_checked() {
            chunk?;
            chunks += 1;
        }
        if chunks != count {
            return Err(RtcpError::CountMismatch {
                packet_type: PT_SDES,
                count,
            });
        }
        Ok(sdes)
    }

    fn chunks_checked(&self) -> impl Iterator<Item = Result<SdesChunk<'a>, RtcpError>> + 'a {
        let mut rest = self.body;
        let mut left = self.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            if rest.len() < 4 {
                rest = &[];
                return Some(Err(RtcpError::BadSdes));
            }
            let ssrc = be32(rest, 0);
            // RFC 3550 §6.5: items end with a null octet; the chunk is padded to 32 bits.
            let mut at = 4;
            loop {
                match rest.get(at) {
                    None => {
                        rest = &[];
                        return Some(Err(RtcpError::BadSdes));
                    }
                    Some(0) => break,
                    Some(_) => {
                        let Some(&len) = rest.get(at + 1) else {
                            rest = &[];
                            return Some(Err(RtcpError::BadSdes));
                        };
                        at += 2 + usize::from(len);
                    }
                }
            }
            let items = &rest[4..at];
            let end = (at + 1).next_multiple_of(4);
            if end > rest.len() {
                rest = &[];
                return Some(Err(RtcpError::BadSdes));
            }
            rest = &rest[end..];
            Some(Ok(SdesChunk { ssrc, items }))
        })
    }

    /// The chunks, one per source.
    pub fn chunks(&self) -> impl Iterator<Item = SdesChunk<'a>> + 'a {
        self.chunks_checked().map_while(Result::ok)
    }
}

/// Write an SDES packet with one chunk carrying a CNAME (RFC 3550 §6.5.1).
pub fn write_sdes_cname(ssrc: u32, cname: &[u8], out: &mut [u8]) -> Result<usize, RtcpError> {
    if cname.len() > 255 {
        return Err(RtcpError::TextTooLong(cname.len()));
    }
    // Header, SSRC, item type and length, text, then at least one null octet to a word boundary.
    let len = (4 + 4 + 2 + cname.len() + 1).next_multiple_of(4);
    room(out, len)?;
    write_header(out, 1, PT_SDES, len);
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8] = SDES_CNAME;
    out[9] = cname.len() as u8;
    out[10..10 + cname.len()].copy_from_slice(cname);
    out[10 + cname.len()..len].fill(0);
    Ok(len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use crate::rtcp::*;

    #[test]
    fn unterminated_sdes_chunk_is_rejected() {
        // One chunk, CNAME item of length 4 filling the word, no null terminator.
        let bytes = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 2, b'a', b'b'];
        assert_eq!(CompoundPacket::validate(&bytes), Err(RtcpError::BadSdes));
    }
}
