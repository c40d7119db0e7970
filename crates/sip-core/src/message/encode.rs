//! Canonical serialization shared by requests and responses.

use bytes::{BufMut, Bytes, BytesMut};

use super::header_name::HeaderName;
use super::headers::Headers;

/// Writes `start CRLF`, every header as `Name: value CRLF` (full names), one Content-Length
/// matching `body` (at the first Content-Length's position, or last), an empty line and the
/// body. RFC 3261 §7.3.1, §20.14.
pub(crate) fn encode_message(start: &str, headers: &Headers, body: &[u8]) -> Bytes {
    let estimate = start.len()
        + headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.as_bytes().len() + 4)
            .sum::<usize>()
        + 32
        + body.len();
    let mut out = BytesMut::with_capacity(estimate);
    out.put_slice(start.as_bytes());
    out.put_slice(b"\r\n");
    let mut wrote_length = false;
    for (name, value) in headers.iter() {
        if *name == HeaderName::ContentLength {
            if !wrote_length {
                put_content_length(&mut out, body.len());
                wrote_length = true;
            }
            continue;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    if !wrote_length {
        put_content_length(&mut out, body.len());
    }
    out.put_slice(b"\r\n");
    out.put_slice(body);
    out.freeze()
}

fn put_content_length(out: &mut BytesMut, len: usize) {
    out.put_slice(b"Content-Length: ");
    out.put_slice(len.to_string().as_bytes());
    out.put_slice(b"\r\n");
}
