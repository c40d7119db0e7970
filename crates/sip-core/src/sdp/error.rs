//! Errors of the SDP module: malformed descriptions and invalid edits.

use thiserror::Error;

/// Why a session description could not be parsed or edited.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("SDP is not valid UTF-8")]
    NotUtf8,
    /// The description has no lines.
    #[error("SDP is empty")]
    Empty,
    /// A line is not `<type>=<value>` with a single lowercase letter type.
    #[error("line {line}: not a <type>=<value> line")]
    InvalidLine {
        /// 1-based line number.
        line: usize,
    },
    /// RFC 8866 §5: a type letter we do not understand; the whole description is rejected.
    #[error("line {line}: unknown line type '{kind}'")]
    UnknownLineType {
        /// 1-based line number.
        line: usize,
        /// The type letter.
        kind: char,
    },
    /// The first line is not `v=`.
    #[error("SDP does not start with v=")]
    MissingVersion,
    /// `v=` is not 0.
    #[error("unsupported SDP version {0:?}")]
    UnsupportedVersion(String),
    /// No `o=` line right after `v=`.
    #[error("missing o= line")]
    MissingOrigin,
    /// No `s=` line after `o=`.
    #[error("missing s= line")]
    MissingSessionName,
    /// No `t=` line at session level.
    #[error("missing t= line")]
    MissingTiming,
    /// A session-level-only line (`o=`, `s=`, `t=`…) appeared out of place or twice.
    #[error("line {line}: '{kind}=' is not allowed here")]
    MisplacedLine {
        /// 1-based line number.
        line: usize,
        /// The type letter.
        kind: char,
    },
    /// An active stream has no `c=` at media or session level (RFC 8866 §5.7).
    #[error("media {index} has no connection address")]
    MissingConnection {
        /// 0-based media index.
        index: usize,
    },
    /// A mandatory line or a typed attribute has the wrong shape.
    #[error("line {line}: malformed {what}")]
    Malformed {
        /// 1-based line number (0 when parsing a lone attribute value).
        line: usize,
        /// Which field: `o=`, `c=`, `m=`, `rtpmap`…
        what: &'static str,
    },
    /// An edit named a media index that does not exist.
    #[error("no media description at index {0}")]
    NoSuchMedia(usize),
}
