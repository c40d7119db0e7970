//! SDP (RFC 8866, formerly RFC 4566) parse and serialize, edits for the media relay, and
//! RFC 3264 offer/answer helpers.
//!
//! Pure: no I/O, no clock. `SessionDescription::parse` accepts CRLF or bare LF;
//! `serialize` writes CRLF in canonical order, and `parse(serialize(x)) == x`.

mod answer;
mod edit;
mod error;
mod model;
mod parse;
mod serialize;

#[cfg(test)]
mod tests;

pub use answer::{AnswerError, AnswerOptions, Codec, CodecOrder, answer_direction, build_answer};
pub use error::SdpError;
pub use model::{
    AddrType, Attribute, Bandwidth, Connection, Direction, MediaDescription, Origin, Rtcp, RtpMap,
    SessionDescription, Timing, static_rtpmap,
};
pub use parse::{parse_rtcp, parse_rtpmap};
