//! Cuts a byte stream (TCP, TLS) into SIP messages by Content-Length (RFC 3261 §18.3) and
//! skips CRLF keep-alives between messages (RFC 5626 §3.5.1).

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

use super::header_name::HeaderName;
use super::syntax::trim_ws_bytes;
use super::typed_headers::parse_content_length;

/// Why a stream cannot be framed; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FramingError {
    /// The header section or the whole message exceeds the configured maximum.
    #[error("message larger than {limit} octets")]
    MessageTooLarge {
        /// The limit in octets.
        limit: usize,
    },
    /// A stream message has no Content-Length (RFC 3261 §18.3 requires it on streams).
    #[error("missing Content-Length on a stream")]
    MissingContentLength,
    /// Content-Length is not a single non-negative number.
    #[error("invalid Content-Length")]
    InvalidContentLength,
}

/// Accumulates stream bytes and yields complete messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    max_message_size: usize,
    keepalives: usize,
}

impl StreamFramer {
    /// A framer refusing messages larger than `max_message_size` octets.
    pub fn new(max_message_size: usize) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::new(),
            max_message_size,
            keepalives: 0,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many `CRLFCRLF` keep-alive pings were skipped since the last call; each deserves a
    /// `CRLF` pong (RFC 5626 §4.4.1).
    pub fn take_keepalive_pings(&mut self) -> usize {
        std::mem::take(&mut self.keepalives)
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, FramingError> {
        self.skip_keepalives();
        if self.buf.is_empty() {
            return Ok(None);
        }
        let Some(header_end) = find_header_end(&self.buf) else {
            if self.buf.len() > self.max_message_size {
                return Err(FramingError::MessageTooLarge {
                    limit: self.max_message_size,
                });
            }
            return Ok(None);
        };
        let length = content_length(&self.buf[..header_end])?;
        let total = header_end
            .checked_add(length)
            .filter(|t| *t <= self.max_message_size)
            .ok_or(FramingError::MessageTooLarge {
                limit: self.max_message_size,
            })?;
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(self.buf.split_to(total).freeze()))
    }

    fn skip_keepalives(&mut self) {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                self.keepalives += 1;
            } else if self.buf.starts_with(b"\r\n") && self.buf.len() >= 3 && self.buf[2] != b'\r' {
                self.buf.advance(2);
            } else if self.buf.starts_with(b"\n") {
                self.buf.advance(1);
            } else {
                return;
            }
        }
    }
}

/// Index just past the empty line ending the header section.
fn find_header_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf[i..].iter().position(|&b| b == b'\n') {
        let lf = i + off;
        match buf.get(lf + 1) {
            Some(b'\n') => return Some(lf + 2),
            Some(b'\r') if buf.get(lf + 2) == Some(&b'\n') => return Some(lf + 3),
            _ => i = lf + 1,
        }
    }
    None
}

/// Finds the single Content-Length (long or compact form) in a header section.
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue;
        }
        let name = trim_ws_bytes(&line[..colon]);
        if HeaderName::known(name) != Some(HeaderName::ContentLength) {
            continue;
        }
        let raw = line[colon + 1..]
            .strip_suffix(b"\r")
            .unwrap_or(&line[colon + 1..]);
        let value =
            parse_content_length(trim_ws_bytes(raw)).ok_or(FramingError::InvalidContentLength)?;
        if found.is_some() {
            return Err(FramingError::InvalidContentLength);
        }
        found = Some(value);
    }
    found.ok_or(FramingError::MissingContentLength)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 4\r\n\r\nbody";

    #[test]
    fn framer_yields_messages_split_across_pushes() {
        let mut f = StreamFramer::new(1000);
        f.push(&MSG[..10]);
        assert_eq!(f.next_message().unwrap(), None);
        f.push(&MSG[10..]);
        f.push(MSG);
        assert_eq!(f.next_message().unwrap().unwrap(), Bytes::from_static(MSG));
        assert_eq!(f.next_message().unwrap().unwrap(), Bytes::from_static(MSG));
        assert_eq!(f.next_message().unwrap(), None);
    }

    #[test]
    fn keepalives_between_messages_are_skipped_and_counted() {
        let mut f = StreamFramer::new(1000);
        f.push(b"\r\n\r\n");
        f.push(MSG);
        f.push(b"\r\n");
        assert_eq!(f.next_message().unwrap().unwrap(), Bytes::from_static(MSG));
        assert_eq!(f.take_keepalive_pings(), 1);
        assert_eq!(f.next_message().unwrap(), None);
    }

    #[test]
    fn oversized_messages_are_refused() {
        let mut f = StreamFramer::new(20);
        f.push(MSG);
        assert_eq!(
            f.next_message(),
            Err(FramingError::MessageTooLarge { limit: 20 })
        );
        let mut g = StreamFramer::new(16);
        g.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x");
        assert_eq!(
            g.next_message(),
            Err(FramingError::MessageTooLarge { limit: 16 })
        );
    }

    #[test]
    fn stream_messages_need_one_content_length() {
        let mut f = StreamFramer::new(1000);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n");
        assert_eq!(f.next_message(), Err(FramingError::MissingContentLength));
        let mut g = StreamFramer::new(1000);
        g.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab");
        assert_eq!(g.next_message(), Err(FramingError::InvalidContentLength));
    }
}
