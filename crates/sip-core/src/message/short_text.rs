//! Short owned text kept inline: parameter values and URI users are mostly a few bytes
//! (`tag`, `branch`, `1001`), and allocating each costs more than parsing it.
//!
//! Internal storage only; accessors hand out `&str`, so callers never see this type.

use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest text kept inline (a generous RFC 3261 §8.1.1.7 branch fits).
const INLINE: usize = 38;

/// Owned text, inline up to [`INLINE`] bytes, on the heap beyond.
#[derive(Clone)]
pub(crate) enum ShortText {
    /// `len` bytes of UTF-8 at the start of `bytes`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Longer text.
    Heap(String),
}

impl ShortText {
    /// Copies `s`, inline when it fits.
    pub(crate) fn new(s: &str) -> ShortText {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                ShortText::Inline { len, bytes }
            }
            _ => ShortText::Heap(s.to_owned()),
        }
    }

    /// Takes `s`, moving it inline when it fits.
    pub(crate) fn from_string(s: String) -> ShortText {
        if s.len() <= INLINE {
            ShortText::new(&s)
        } else {
            ShortText::Heap(s)
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from a `&str`, so this always succeeds.
            ShortText::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            ShortText::Heap(s) => s,
        }
    }
}

impl PartialEq for ShortText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ShortText {}

impl Hash for ShortText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn short_and_long_text_read_back_the_same() {
        let long = "z9hG4bK".repeat(10);
        for s in ["", "1001", "a84b4c76e66710", "é✓", long.as_str()] {
            let t = ShortText::new(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(ShortText::from_string(s.to_owned()), t);
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
        }
        assert!(matches!(ShortText::new("tag"), ShortText::Inline { .. }));
        assert!(matches!(ShortText::new(&long), ShortText::Heap(_)));
    }
}
