//! Shared live state behind traits (`LocationStore`, …) with the in-memory backend.
//!
//! DESIGN.md decision 3: every piece of live state that several nodes must agree on sits behind
//! an async, object-safe trait. The memory backend is the embedded default; a Redis backend will
//! implement the same traits and run the same contract suite (`contract.rs`).
//!
//! This module is used from above (`sip`, `app`) and never imports them.

mod binding_set;
mod contact_uri;
#[cfg(test)]
pub(crate) mod contract;
mod location;
mod memory;

use std::future::Future;
use std::pin::Pin;

pub use contact_uri::{ContactUri, ContactUriError};
pub use location::{
    Aor, Binding, BindingFilter, ContactChanges, ContactUpdate, Flow, FlowTransport, LocationStore,
    QValue, RegisterChange, UnixMillis,
};
pub use memory::MemoryLocationStore;

/// The future every cluster trait method returns: boxed so the traits stay dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a shared-state operation failed; each variant says what the caller should answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// RFC 3261 §10.3 steps 6-7: a binding created with the request's Call-ID already holds a
    /// CSeq equal to or higher than the request's; the whole update was aborted.
    #[error("out-of-order REGISTER: stored CSeq {stored}, received {received}")]
    OutOfOrder {
        /// CSeq stored with the binding.
        stored: u32,
        /// CSeq of the rejected request.
        received: u32,
    },
    /// The update would leave more bindings on the AOR than the profile allows; nothing changed.
    #[error("too many registered contacts (limit {max})")]
    TooManyContacts {
        /// The configured limit.
        max: usize,
    },
}
