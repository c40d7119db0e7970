//! Bench-only crate: the same SIP bytes parsed by sip-core and by two peer crates, `rsip` 0.4
//! and `ezk-sip-types` 0.6, each reduced to one [`Summary`] so the bench times equal work and the
//! tests prove every parser read the same thing. See `benches/parse.rs`.
//!
//! What "parse" means for each (the work a registrar or proxy needs before it can act):
//! the whole message is split into start line, headers and body, and the key headers are read
//! as typed values: the top Via (its branch), From and To (their tags), Call-ID and CSeq.

pub mod samples;

use bytes::Bytes;

/// What each parser must extract from a message; compared across parsers in the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The top Via's `branch` parameter.
    pub branch: String,
    /// The From tag.
    pub from_tag: String,
    /// The To tag, empty when absent.
    pub to_tag: String,
    /// The Call-ID.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The body length in bytes.
    pub body_len: usize,
}

/// The numbers a bench iteration returns, so the optimizer cannot drop the parse: lengths and
/// the CSeq number, no allocation.
pub type Touched = (usize, usize, usize, usize, u32, usize);

/// sip-core: `Message::parse` over `Bytes` (zero-copy), then the typed accessors.
pub mod sip_core_peer {
    use super::{Bytes, Touched};
    use sip_core::message::Message;

    /// Parses and reads the key typed headers; `None` when any step fails.
    pub fn parse(bytes: Bytes) -> Option<Touched> {
        let msg = Message::parse(bytes).ok()?;
        let headers = msg.headers();
        let via = headers.top_via().ok()?;
        let from = headers.from().ok()?;
        let to = headers.to().ok()?;
        let call_id = headers.call_id().ok()?;
        let cseq = headers.cseq().ok()?;
        Some((
            via.branch().map_or(0, str::len),
            from.tag().map_or(0, str::len),
            to.tag().map_or(0, str::len),
            call_id.len(),
            cseq.seq,
            msg.body().len(),
        ))
    }

    /// `Message::parse` alone, no typed header: splits the time between the wire parse and
    /// the typed accessors. Not comparable with the peers' figures.
    pub fn parse_untyped(bytes: Bytes) -> Option<(usize, usize)> {
        let msg = Message::parse(bytes).ok()?;
        Some((msg.headers().len(), msg.body().len()))
    }

    /// The same parse, keeping the values for comparison.
    pub fn summary(bytes: Bytes) -> Option<super::Summary> {
        let msg = Message::parse(bytes).ok()?;
        let headers = msg.headers();
        let via = headers.top_via().ok()?;
        let from = headers.from().ok()?;
        let to = headers.to().ok()?;
        Some(super::Summary {
            branch: via.branch().unwrap_or_default().to_owned(),
            from_tag: from.tag().unwrap_or_default().to_owned(),
            to_tag: to.tag().unwrap_or_default().to_owned(),
            call_id: headers.call_id().ok()?.to_owned(),
            cseq: headers.cseq().ok()?.seq,
            body_len: msg.body().len(),
        })
    }
}

/// rsip 0.4: `SipMessage::try_from(Bytes)` tokenizes the whole message into owned `String`
/// headers; each typed header is then parsed on demand with `.typed()` (which clones the
/// header string first). `via_header()` finds the first Via header line.
pub mod rsip_peer {
    use super::{Bytes, Touched};
    use rsip::prelude::*;

    fn typed(bytes: Bytes) -> Option<(rsip::SipMessage, Parts)> {
        let msg = rsip::SipMessage::try_from(bytes).ok()?;
        let via = msg.via_header().ok()?.typed().ok()?;
        let from = msg.from_header().ok()?.typed().ok()?;
        let to = msg.to_header().ok()?.typed().ok()?;
        let call_id = msg.call_id_header().ok()?.value().to_owned();
        let cseq = msg.cseq_header().ok()?.typed().ok()?;
        let parts = Parts {
            branch: via.branch().map(ToString::to_string).unwrap_or_default(),
            from_tag: from.tag().map(ToString::to_string).unwrap_or_default(),
            to_tag: to.tag().map(ToString::to_string).unwrap_or_default(),
            call_id,
            cseq: cseq.seq,
        };
        Some((msg, parts))
    }

    struct Parts {
        branch: String,
        from_tag: String,
        to_tag: String,
        call_id: String,
        cseq: u32,
    }

    /// Parses and reads the key typed headers; `None` when any step fails.
    pub fn parse(bytes: Bytes) -> Option<Touched> {
        let (msg, p) = typed(bytes)?;
        Some((
            p.branch.len(),
            p.from_tag.len(),
            p.to_tag.len(),
            p.call_id.len(),
            p.cseq,
            msg.body().len(),
        ))
    }

    /// The same parse, keeping the values for comparison.
    pub fn summary(bytes: Bytes) -> Option<super::Summary> {
        let (msg, p) = typed(bytes)?;
        Some(super::Summary {
            branch: p.branch,
            from_tag: p.from_tag,
            to_tag: p.to_tag,
            call_id: p.call_id,
            cseq: p.cseq,
            body_len: msg.body().len(),
        })
    }
}

/// ezk-sip-types 0.6 has no one-call message parser (its transport crate drives it), so this
/// does what that driver does: `PullParser` splits the head into lines, `MessageLine` parses the
/// start line, `Line` splits each header into name and value, `Headers::insert` stores it, and
/// the body is the rest of the buffer. Typed headers come from `Headers::get_named` / `get`.
pub mod ezk_peer {
    use super::{Bytes, Touched};
    use ezk_sip_types::header::typed::{CSeq, CallID, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    /// Runs the whole parse and hands the typed values to `read`.
    fn with_parsed<T>(
        bytes: Bytes,
        read: impl FnOnce(&str, &str, &str, &str, u32, &[u8]) -> T,
    ) -> Option<T> {
        let mut parser = PullParser::new(&bytes, 0);
        let first = std::str::from_utf8(parser.next()?.ok()?).ok()?;
        let (_, _start_line) = MessageLine::parse(&bytes)(first).ok()?;
        let mut headers = Headers::with_capacity(16);
        for line in parser.by_ref() {
            let line = std::str::from_utf8(line.ok()?).ok()?;
            let (_, line) = Line::parse(&bytes, line).ok()?;
            headers.insert(line.name, line.value);
        }
        let body = bytes.slice(parser.head_end()..);
        let vias: Vec<Via> = headers.get_named().ok()?;
        let via = vias.first()?;
        let from: FromTo = headers.get(Name::FROM).ok()?;
        let to: FromTo = headers.get(Name::TO).ok()?;
        let call_id: CallID = headers.get_named().ok()?;
        let cseq: CSeq = headers.get_named().ok()?;
        Some(read(
            via.params.get_val("branch").map_or("", |b| b.as_str()),
            from.tag.as_ref().map_or("", |t| t.as_str()),
            to.tag.as_ref().map_or("", |t| t.as_str()),
            call_id.0.as_str(),
            cseq.cseq,
            &body,
        ))
    }

    /// Parses and reads the key typed headers; `None` when any step fails.
    pub fn parse(bytes: Bytes) -> Option<Touched> {
        with_parsed(bytes, |branch, from_tag, to_tag, call_id, cseq, body| {
            (
                branch.len(),
                from_tag.len(),
                to_tag.len(),
                call_id.len(),
                cseq,
                body.len(),
            )
        })
    }

    /// The same parse, keeping the values for comparison.
    pub fn summary(bytes: Bytes) -> Option<super::Summary> {
        with_parsed(bytes, |branch, from_tag, to_tag, call_id, cseq, body| {
            super::Summary {
                branch: branch.to_owned(),
                from_tag: from_tag.to_owned(),
                to_tag: to_tag.to_owned(),
                call_id: call_id.to_owned(),
                cseq,
                body_len: body.len(),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_parser_reads_the_same_values_from_every_sample() {
        for (name, sample) in samples::ALL {
            let bytes = Bytes::from_static(sample);
            let ours =
                sip_core_peer::summary(bytes.clone()).unwrap_or_else(|| panic!("sip-core: {name}"));
            let rsip = rsip_peer::summary(bytes.clone()).unwrap_or_else(|| panic!("rsip: {name}"));
            let ezk = ezk_peer::summary(bytes).unwrap_or_else(|| panic!("ezk: {name}"));
            assert_eq!(ours, rsip, "{name}: sip-core vs rsip");
            assert_eq!(ours, ezk, "{name}: sip-core vs ezk");
            assert!(
                !ours.branch.is_empty() && !ours.from_tag.is_empty() && !ours.call_id.is_empty()
            );
        }
    }

    #[test]
    fn samples_declare_their_true_body_length() {
        for (name, sample) in samples::ALL {
            let text = std::str::from_utf8(sample).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let declared: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert_eq!(declared, body.len(), "{name}");
        }
    }
}
