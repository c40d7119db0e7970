//! RFC 3261 §25 character classes and small scanners shared by the message parsers.
//!
//! Pure byte/str helpers: no allocation unless a caller asks for an owned result.

/// RFC 3261 §25.1 `token` characters, one flag per byte value.
pub(crate) const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    table
};

/// RFC 3261 §25.1 `token` character.
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

/// True when `s` is a non-empty RFC 3261 `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// RFC 3261 §25.1 whitespace inside a header value (folding already replaced by SP).
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first `needle` in `hay`, eight bytes at a time: header lines are scanned
/// for their LF and values for separators, so this is the parser's innermost loop.
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = LOW.wrapping_mul(u64::from(needle));
    let (chunks, tail) = hay.as_chunks::<8>();
    for (i, chunk) in chunks.iter().enumerate() {
        let x = u64::from_le_bytes(*chunk) ^ pattern;
        // A zero byte of `x` is a match; the lowest flagged byte is always a true match.
        let found = x.wrapping_sub(LOW) & !x & HIGH;
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|&b| b == needle)
        .map(|p| chunks.len() * 8 + p)
}

/// Splits `s` around the first `sep` (an ASCII byte, so both halves stay valid UTF-8).
pub(crate) fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = find_byte(s.as_bytes(), sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Trims SP/HT on both ends.
pub(crate) fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !is_ws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// Trims SP/HT at the start.
pub(crate) fn trim_ws_start(s: &str) -> &str {
    let start = s.bytes().position(|c| !is_ws(c)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// Trims SP/HT on both ends of a byte slice.
pub(crate) fn trim_ws_bytes(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Returns the length of the quoted string starting at `s[0] == '"'`, including both quotes,
/// or `None` when it is not terminated. RFC 3261 §25.1 `quoted-pair` escapes are honoured.
pub(crate) fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and `quoted-pair` escapes of a complete quoted string.
pub(crate) fn unquote(s: &str) -> String {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if find_byte(inner.as_bytes(), b'\\').is_none() {
        return inner.to_owned();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes `s` as an RFC 3261 `quoted-string`, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a header value at top-level occurrences of `sep`, i.e. outside quoted strings and
/// outside `<...>`. RFC 3261 §7.3.1: several values of a comma-list header may share a line.
/// Returns `None` when a quoted string or angle bracket is left open.
pub(crate) fn split_top_level(s: &str, sep: u8) -> Option<Vec<&str>> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut in_angle = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += quoted_len(&bytes[i..])?;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b if b == sep && !in_angle => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_angle {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// Finds the first top-level `;` (outside quotes and angle brackets).
pub(crate) fn find_top_level(s: &str, target: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut in_angle = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += quoted_len(&bytes[i..]).unwrap_or(bytes.len() - i);
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b if b == target && !in_angle => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3261 §25.1 `escaped`: decodes `%HH` sequences. A `%` not followed by two hex digits
/// is kept as is (RFC 4475 §3.1.1.5: `%` is only an escape where `escaped` is allowed).
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// True when every `%` in `s` starts a valid `%HH` escape.
pub(crate) fn escapes_well_formed(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(mut i) = find_byte(b, b'%') else {
        return true;
    };
    while i < b.len() {
        if b[i] == b'%' {
            match (
                b.get(i + 1).copied().and_then(hex_value),
                b.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(_), Some(_)) => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// Parses an unsigned decimal of at most `u32` range; leading zeros are allowed (RFC 4475
/// §3.1.1.1). Returns `None` on empty input, a non-digit, or overflow.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        v = v.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(v)
}

/// ASCII case-insensitive equality of two byte strings.
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn split_top_level_ignores_commas_in_quotes_and_brackets() {
        let parts = split_top_level(r#""a,b" <sip:x@y;p=1,2>, <sip:z>"#, b',').unwrap();
        assert_eq!(parts.len(), 2);
    }

    #[test]
    fn unescape_keeps_percent_without_hex() {
        assert_eq!(unescape("%Z%45"), b"%ZE".to_vec());
        assert_eq!(unescape("a%00b"), b"a\0b".to_vec());
    }

    #[test]
    fn find_byte_finds_the_first_match_in_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[at] = b'\n';
                if at + 3 < len {
                    hay[at + 3] = b'\n';
                }
                assert_eq!(find_byte(&hay, b'\n'), Some(at), "len {len} at {at}");
            }
            assert_eq!(find_byte(&vec![0x8a; len], b'\n'), None);
        }
        assert_eq!(find_byte(b"\x01\x00\n", b'\x00'), Some(1));
    }

    #[test]
    fn parse_u32_accepts_leading_zeros_and_rejects_overflow() {
        assert_eq!(parse_u32("0068"), Some(68));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32(""), None);
    }

    #[test]
    fn escapes_well_formed_rejects_truncated_escape() {
        assert!(escapes_well_formed("a%41"));
        assert!(!escapes_well_formed("a%4"));
        assert!(!escapes_well_formed("%zz"));
    }
}
