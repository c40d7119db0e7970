//! Transfers out of an IVR: the IVR says where, the switchboard's resolver turns it into the
//! call's next route (ringing registered phones, a route group), exactly as if the caller
//! had dialled it.

use std::sync::Arc;

use crate::call::HangupCause;
use crate::call::actor::CallRoute;
use crate::cluster::BoxFuture;
use crate::config::ivr::Variables;

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// A number or extension routed through the dialplan.
    Number {
        /// The number, variables expanded.
        number: String,
        /// The context to route it in; the call's when None.
        context: Option<String>,
    },
    /// A number sent out through a route group.
    RouteGroup {
        /// The route group.
        group: String,
        /// The number, variables expanded.
        number: String,
    },
}

/// A transfer the IVR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Where to.
    pub target: TransferTarget,
    /// The call's variables at that point.
    pub variables: Variables,
}

/// Turns a transfer into the call's route, or says why it cannot be done (unknown or
/// unregistered extension, no usable trunk): the IVR then plays its invalid prompt and
/// returns to the menu.
pub type TransferResolver = Arc<
    dyn Fn(TransferRequest) -> BoxFuture<'static, Result<Box<dyn CallRoute>, HangupCause>>
        + Send
        + Sync,
>;
