//! Dialog identifiers (RFC 3261 §12): Call-ID plus local and remote tags.

use std::fmt;

use super::error::DialogError;
use crate::message::{Request, Response};

/// The value of a SIP Call-ID header (not the switch's own call identifier).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipCallId(String);

impl SipCallId {
    /// Wraps a Call-ID value.
    pub fn new(value: impl Into<String>) -> SipCallId {
        SipCallId(value.into())
    }

    /// The Call-ID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SipCallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A From or To tag. Empty when the peer sent none (RFC 3261 §12.1.1: RFC 2543 peers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// Wraps a tag value.
    pub fn new(value: impl Into<String>) -> Tag {
        Tag(value.into())
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the peer sent no tag.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one dialog from this side's point of view (RFC 3261 §12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID.
    pub call_id: SipCallId,
    /// This side's tag.
    pub local_tag: Tag,
    /// The peer's tag.
    pub remote_tag: Tag,
}

impl DialogId {
    /// The id of the dialog an incoming request belongs to (RFC 3261 §12.2.2): local tag from
    /// To, remote tag from From.
    ///
    /// Fails with [`DialogError::MissingTag`] when To has no tag: the request is not in-dialog.
    pub fn for_incoming_request(request: &Request) -> Result<DialogId, DialogError> {
        let headers = request.headers();
        let to = headers.to()?;
        let local_tag = to.tag().ok_or(DialogError::MissingTag("To"))?;
        let remote_tag = headers.from()?.tag().unwrap_or_default().to_owned();
        Ok(DialogId {
            call_id: SipCallId::new(headers.call_id()?),
            local_tag: Tag::new(local_tag),
            remote_tag: Tag::new(remote_tag),
        })
    }

    /// The id of the dialog an incoming response belongs to (RFC 3261 §12.1.2): local tag from
    /// From, remote tag from To. Responses to one forked INVITE with different To tags give
    /// distinct ids.
    pub fn for_incoming_response(response: &Response) -> Result<DialogId, DialogError> {
        let headers = response.headers();
        let from = headers.from()?;
        let local_tag = from.tag().ok_or(DialogError::MissingTag("From"))?;
        let to = headers.to()?;
        let remote_tag = to.tag().ok_or(DialogError::MissingTag("To"))?;
        Ok(DialogId {
            call_id: SipCallId::new(headers.call_id()?),
            local_tag: Tag::new(local_tag),
            remote_tag: Tag::new(remote_tag),
        })
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local={};remote={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}
