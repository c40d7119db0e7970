//! The control API: axum REST under `/api/v1`, the live event WebSocket, webhook delivery,
//! `/metrics`, and the OpenAPI document generated from the handlers.
//!
//! Every route module returns a `utoipa_axum` router, so a handler's OpenAPI description
//! travels with it and the document at `/api/v1/openapi.json` lists exactly what is served.

pub mod control;
pub mod events;
pub mod metrics;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::call::registry::ActiveCalls;
use crate::cluster::LocationStore;
use crate::config::api::ApiConfig;
use crate::store::SqlStore;
use crate::telemetry::events::EventBus;

pub use control::{Control, OriginateError, OriginateRequest, ReloadSummary};

/// What every handler may read.
#[derive(Clone)]
pub struct ApiState {
    /// Listener, tokens, limits.
    pub config: Arc<ApiConfig>,
    /// Reload and originate.
    pub control: Arc<dyn Control>,
    /// Calls in progress.
    pub calls: Arc<ActiveCalls>,
    /// Registered phones.
    pub locations: Arc<dyn LocationStore>,
    /// Call records and the webhook outbox.
    pub store: SqlStore,
    /// Live events.
    pub events: EventBus,
    /// When the switch started (health: uptime).
    pub started: Instant,
    /// Cancelled when the switch begins to shut down (readiness goes false).
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}
