//! The CSeq header value (RFC 3261 §20.16): sequence number and method.

use std::fmt;

use super::method::Method;
use super::syntax::{is_ws, parse_u32, trim_ws};

/// A CSeq value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number (RFC 3261 §8.1.1.5: less than 2^31 when generated, up to
    /// 2^32-1 accepted).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// A CSeq value.
    pub fn new(seq: u32, method: Method) -> CSeq {
        CSeq { seq, method }
    }

    /// Parses `1*DIGIT LWS Method`; leading zeros are allowed (RFC 4475 §3.1.1.1).
    pub fn parse(s: &str) -> Option<CSeq> {
        let s = trim_ws(s);
        let split = s.bytes().position(is_ws)?;
        let seq = parse_u32(&s[..split])?;
        let method = trim_ws(&s[split..]);
        let method = Method::standard(method.as_bytes()).or_else(|| Method::parse(method))?;
        Some(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn leading_zeros_and_extra_whitespace_are_accepted() {
        assert_eq!(
            CSeq::parse("0009   INVITE"),
            Some(CSeq::new(9, Method::Invite))
        );
    }

    #[test]
    fn overlarge_sequence_numbers_are_rejected() {
        assert_eq!(CSeq::parse("36893488147419103232 REGISTER"), None);
        assert_eq!(CSeq::parse("4294967295 REGISTER").unwrap().seq, u32::MAX);
        assert_eq!(CSeq::parse("12"), None);
    }
}
