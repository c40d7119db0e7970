//! RFC 4475 and RFC 5118 torture messages, checked against the verdicts in
//! tests/data/rfc4475/index.tsv, tests/data/rfc5118/README.md and the per-file choices in
//! tests/data/rfc4475/VERDICTS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod rfc4475;
mod rfc5118;

use std::path::PathBuf;

use bytes::Bytes;
use sip_core::message::{Message, ParseReaction};

pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

pub(crate) fn load(set: &str, file: &str) -> Bytes {
    let path = data_dir().join(set).join(file);
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

pub(crate) fn rfc4475(file: &str) -> Bytes {
    load("rfc4475", file)
}

pub(crate) fn rfc5118(file: &str) -> Bytes {
    load("rfc5118", file)
}

/// What a server does with a datagram: process it, answer with a status, or drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accept,
    Respond(u16),
    Drop,
}

use Outcome::{Accept, Drop, Respond};

pub(crate) fn reaction(r: ParseReaction) -> Outcome {
    match r {
        ParseReaction::Respond(s) => Respond(s.as_u16()),
        ParseReaction::Drop => Drop,
    }
}

/// Parse as a UDP server does, then validate what a server checks before processing.
pub(crate) fn server_outcome(bytes: Bytes) -> Outcome {
    match Message::parse(bytes) {
        Ok(Message::Request(r)) => match r.validate() {
            Ok(()) => Accept,
            Err(e) => reaction(e.reaction()),
        },
        Ok(Message::Response(r)) => match r.validate() {
            Ok(()) => Accept,
            Err(e) => {
                assert_eq!(
                    e.reaction(),
                    ParseReaction::Drop,
                    "responses are never answered"
                );
                Drop
            }
        },
        Err(e) => reaction(e.reaction()),
    }
}

#[test]
fn verdicts_document_lists_every_file() {
    let doc = String::from_utf8(rfc4475("VERDICTS.md").to_vec()).unwrap();
    for (file, _) in rfc4475::RFC4475_VERDICTS {
        assert!(
            doc.contains(&format!("`{file}`")),
            "VERDICTS.md lacks {file}"
        );
    }
    for (file, _) in rfc5118::RFC5118_VERDICTS {
        assert!(
            doc.contains(&format!("`{file}`")),
            "VERDICTS.md lacks {file}"
        );
    }
}
