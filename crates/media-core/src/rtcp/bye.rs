//! RTCP goodbye packets (RFC 3550 §6.6): view and writer.

use super::{PT_BYE, RtcpError, at_most_31, be32, room, write_header};

/// A goodbye packet (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    pub(super) sources: &'a [u8],
    pub(super) reason: Option<&'a [u8]>,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.sources.chunks_exact(4).map(|c| be32(c, 0))
    }

    /// The reason for leaving, if given.
    pub fn reason(&self) -> Option<&'a [u8]> {
        self.reason
    }
}

/// Write a BYE for `sources` with an optional reason (RFC 3550 §6.6).
pub fn write_bye(
    sources: &[u32],
    reason: Option<&[u8]>,
    out: &mut [u8],
) -> Result<usize, RtcpError> {
    at_most_31(sources.len())?;
    let reason_len = match reason {
        Some(r) if r.len() > 255 => return Err(RtcpError::TextTooLong(r.len())),
        Some(r) => (1 + r.len()).next_multiple_of(4),
        None => 0,
    };
    let len = 4 + 4 * sources.len() + reason_len;
    room(out, len)?;
    write_header(out, sources.len(), PT_BYE, len);
    for (i, s) in sources.iter().enumerate() {
        out[4 + 4 * i..8 + 4 * i].copy_from_slice(&s.to_be_bytes());
    }
    if let Some(r) = reason {
        let at = 4 + 4 * sources.len();
        out[at] = r.len() as u8;
        out[at + 1..at + 1 + r.len()].copy_from_slice(r);
        out[at + 1 + r.len()..len].fill(0);
    }
    Ok(len)
}
