//! SIP dialogs (RFC 3261 §12): UAC and UAS, early and confirmed.
//!
//! Pure: no I/O, no clock, no randomness. Tags, branches and sent-by come from the caller.
//! Matching an incoming message to a dialog is the caller's lookup by [`DialogId`]; a request
//! with a To tag and no matching dialog gets 481 from the caller (RFC 3261 §12.2.2).

mod error;
mod id;
mod in_dialog_request;
mod route_set;
mod state;

pub use error::DialogError;
pub use id::{DialogId, SipCallId, Tag};
pub use route_set::RouteSet;
pub use state::{Dialog, DialogState};

#[cfg(test)]
mod tests;
