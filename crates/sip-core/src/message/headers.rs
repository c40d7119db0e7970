//! The ordered header list of a message and raw header values (zero-copy `Bytes` slices).
//!
//! Typed accessors live in `typed_headers.rs`; this file only stores and edits raw entries.

use std::borrow::Borrow;
use std::fmt;

use bytes::Bytes;

use super::header_name::HeaderName;
use super::syntax::trim_ws_bytes;

/// A raw header value: unfolded (RFC 3261 §7.3.1), trimmed, usually a slice of the received
/// datagram. One header line holds one `HeaderValue`, even for comma-separated lists.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(Bytes);

impl HeaderValue {
    /// Wraps bytes from the wire; the caller guarantees no CR/LF.
    pub(crate) fn from_wire(b: Bytes) -> HeaderValue {
        HeaderValue(b)
    }

    /// A value from arbitrary text. CR and LF are replaced by SP so a value can never inject
    /// a header line; surrounding whitespace is trimmed.
    pub fn from_text(text: &str) -> HeaderValue {
        let b = text.as_bytes();
        if b.iter().any(|c| *c == b'\r' || *c == b'\n') {
            let cleaned: Vec<u8> = b
                .iter()
                .map(|c| if *c == b'\r' || *c == b'\n' { b' ' } else { *c })
                .collect();
            HeaderValue(Bytes::copy_from_slice(trim_ws_bytes(&cleaned)))
        } else {
            HeaderValue(Bytes::copy_from_slice(trim_ws_bytes(b)))
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The raw bytes as a shared `Bytes`.
    pub fn as_shared(&self) -> &Bytes {
        &self.0
    }

    /// The value as UTF-8 text, when it is.
    pub fn to_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.0)
    }

    /// The value as text with invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// True for an empty value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl From<&str> for HeaderValue {
    fn from(s: &str) -> HeaderValue {
        HeaderValue::from_text(s)
    }
}

impl From<String> for HeaderValue {
    fn from(s: String) -> HeaderValue {
        HeaderValue::from_text(&s)
    }
}

impl From<&String> for HeaderValue {
    fn from(s: &String) -> HeaderValue {
        HeaderValue::from_text(s)
    }
}

impl From<u32> for HeaderValue {
    fn from(n: u32) -> HeaderValue {
        HeaderValue(Bytes::from(n.to_string()))
    }
}

/// The header section: an ordered list of (name, value) entries, one per header line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(HeaderName, HeaderValue)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// An empty list with room for `n` entries.
    pub fn with_capacity(n: usize) -> Headers {
        Headers {
            entries: Vec::with_capacity(n),
        }
    }

    /// The first value of `name`.
    pub fn get<N: Borrow<HeaderName>>(&self, name: N) -> Option<&HeaderValue> {
        let name = name.borrow();
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every value of `name`, in order.
    pub fn get_all<N: Borrow<HeaderName>>(&self, name: N) -> impl Iterator<Item = &HeaderValue> {
        let name = name.borrow().clone();
        self.entries
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Number of header lines named `name`.
    pub fn count<N: Borrow<HeaderName>>(&self, name: N) -> usize {
        let name = name.borrow();
        self.entries.iter().filter(|(n, _)| n == name).count()
    }

    /// True when at least one `name` header is present.
    pub fn contains<N: Borrow<HeaderName>>(&self, name: N) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header line.
    pub fn push(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        self.entries.push((name, value.into()));
    }

    /// Inserts a header line before all others (e.g. a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        self.entries.insert(0, (name, value.into()));
    }

    /// Replaces every `name` header with one line holding `value`, at the position of the
    /// first one (or at the end when there was none).
    pub fn set(&mut self, name: HeaderName, value: impl Into<HeaderValue>) {
        let value = value.into();
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(pos) => {
                self.entries[pos].1 = value;
                let mut i = 0;
                self.entries.retain(|(n, _)| {
                    let keep = i <= pos || *n != name;
                    i += 1;
                    keep
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Removes every `name` header; true when one was removed.
    pub fn remove<N: Borrow<HeaderName>>(&mut self, name: N) -> bool {
        let name = name.borrow();
        let before = self.entries.len();
        self.entries.retain(|(n, _)| n != name);
        before != self.entries.len()
    }

    /// Removes and returns the first `name` header line.
    pub fn remove_first<N: Borrow<HeaderName>>(&mut self, name: N) -> Option<HeaderValue> {
        let name = name.borrow();
        let pos = self.entries.iter().position(|(n, _)| n == name)?;
        Some(self.entries.remove(pos).1)
    }

    /// All entries in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.entries.iter().map(|(n, v)| (n, v))
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Mutable access to the first value of `name`.
    pub fn get_mut<N: Borrow<HeaderName>>(&mut self, name: N) -> Option<&mut HeaderValue> {
        let name = name.borrow();
        self.entries
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(n, v)| (n, v))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn set_replaces_all_values_in_place() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::To, "t");
        h.push(HeaderName::Via, "b");
        h.set(HeaderName::Via, "c");
        let names: Vec<_> = h
            .iter()
            .map(|(n, v)| (n.clone(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            names,
            vec![(HeaderName::Via, "c".into()), (HeaderName::To, "t".into())]
        );
    }

    #[test]
    fn values_cannot_inject_header_lines() {
        let v = HeaderValue::from("x\r\nVia: evil");
        assert_eq!(v.as_bytes(), b"x  Via: evil");
    }

    #[test]
    fn get_all_keeps_order_and_get_returns_first() {
        let mut h = Headers::new();
        h.push(HeaderName::Route, "<sip:a>");
        h.push(HeaderName::Route, "<sip:b>");
        assert_eq!(h.get(HeaderName::Route).unwrap().as_bytes(), b"<sip:a>");
        assert_eq!(h.get_all(&HeaderName::Route).count(), 2);
        assert!(h.remove(HeaderName::Route));
        assert!(h.is_empty());
    }
}
