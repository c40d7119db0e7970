//! The routing decision: a request (dialled number, caller, headers, time) and the dialplan's
//! contexts of ordered rules give a [`Route`]. Pure: execution lives in the switchboard.
//!
//! [`decide`] is the static engine over [`DialplanConfig`](crate::config::dialplan::DialplanConfig)
//! with the time passed in. [`Router`] adds the webhook option: a context with a webhook asks
//! an HTTP service first and falls back to the static engine.

mod decide;
mod matching;
mod number;
mod route;
mod webhook;

#[cfg(test)]
mod tests;

pub use decide::{MAX_GOTO_DEPTH, decide};
pub use number::{normalize, region_of};
pub use route::{CallerChange, RingStep, Route, RouteError, RouteRequest};
pub use webhook::{Router, WebhookError};
