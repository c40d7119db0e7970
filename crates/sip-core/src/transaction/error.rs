//! Errors of the transaction layer: requests a transaction cannot be built from, and TU
//! commands the current state forbids.

use crate::message::{Method, ParseError};

/// Why a transaction could not be created, keyed, or could not act on a TU command.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    /// The request's method does not fit this kind of transaction.
    #[error("wrong method for this transaction: expected {expected}, found {found:?}")]
    WrongMethod {
        /// What this transaction kind accepts.
        expected: &'static str,
        /// The method of the request given.
        found: Method,
    },
    /// A header field the transaction needs (Via, CSeq, Call-ID, From, To) is missing or
    /// malformed.
    #[error("header needed by the transaction is missing or malformed: {0}")]
    MalformedHeader(#[from] ParseError),
    /// The TU passed a response after the final one was sent (RFC 3261 §17.2.1, §17.2.2).
    #[error("a final response was already sent")]
    FinalResponseAlreadySent,
    /// The TU passed a response to a transaction that has terminated.
    #[error("the transaction has terminated")]
    Terminated,
}
