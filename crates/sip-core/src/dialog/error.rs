//! Errors raised while creating or driving a dialog, with the response each one calls for.

use crate::message::{Method, ParseError, StatusCode};

/// Why a dialog could not be created, updated or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// A header the dialog needs (From, To, Call-ID, CSeq, Contact, Record-Route) is malformed.
    #[error("malformed header in dialog message: {0}")]
    Header(#[from] ParseError),
    /// The message has no Contact URI although RFC 3261 §12.1 requires one.
    #[error("dialog-creating message has no Contact")]
    MissingContact,
    /// The message lacks the tag that identifies this side of the dialog.
    #[error("message has no {0} tag")]
    MissingTag(&'static str),
    /// The response cannot create a dialog (RFC 3261 §12.1: only 101-199 with a To tag and 2xx).
    #[error("response {0} does not create a dialog")]
    NotDialogCreating(u16),
    /// RFC 3261 §12.2.2: the request's CSeq is lower than the remote sequence number.
    #[error("remote CSeq {received} is lower than {expected}")]
    OutOfOrderCSeq {
        /// CSeq number of the rejected request.
        received: u32,
        /// Highest remote CSeq number seen so far.
        expected: u32,
    },
    /// The message's Call-ID and tags identify another dialog.
    #[error("message does not belong to this dialog")]
    WrongDialog,
    /// The dialog is terminated and cannot carry new requests.
    #[error("dialog is terminated")]
    Terminated,
    /// ACK and CANCEL are not built with `create_request` (RFC 3261 §12.2.1.1, §9.1).
    #[error("{0} is not created as a new in-dialog request")]
    NotANewRequest(Method),
    /// The local CSeq number would pass 2^31 - 1 (RFC 3261 §8.1.1.5).
    #[error("local CSeq space exhausted")]
    CSeqExhausted,
}

impl DialogError {
    /// The status code to answer an incoming request that raised this error, when one is due.
    ///
    /// `None` means the error comes from local misuse (or from a response) and nothing is sent.
    pub fn response_status(&self) -> Option<StatusCode> {
        match self {
            // RFC 3261 §12.2.2: out-of-order requests get 500.
            DialogError::OutOfOrderCSeq { .. } => Some(StatusCode::SERVER_INTERNAL_ERROR),
            DialogError::Header(_) | DialogError::MissingContact => Some(StatusCode::BAD_REQUEST),
            // RFC 3261 §12.2.2: a request that matches no dialog gets 481.
            DialogError::WrongDialog | DialogError::Terminated => {
                Some(StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST)
            }
            // A request without a To tag is outside any dialog: the caller routes it as new.
            DialogError::MissingTag(_)
            | DialogError::NotDialogCreating(_)
            | DialogError::NotANewRequest(_)
            | DialogError::CSeqExhausted => None,
        }
    }
}
