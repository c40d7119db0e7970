//! The control API: axum REST under `/api/v1`, the live event WebSocket, webhook delivery,
//! `/metrics`, and the OpenAPI document generated from the handlers.
//!
//! Every route module returns a `utoipa_axum` router, so a handler's OpenAPI description
//! travels with it and the document at `/api/v1/openapi.json` lists exactly what is served.

pub mod auth;
pub mod calls;
pub mod control;
pub mod error;
pub mod events;
pub mod json;
pub mod metrics;
pub mod notifications;
pub mod recordings;
pub mod records;
pub mod registrations;
pub mod system;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::call::registry::ActiveCalls;
use crate::cluster::LocationStore;
use crate::config::api::ApiConfig;
use crate::store::SqlStore;
use crate::telemetry::events::EventBus;

pub use control::{Control, OriginateError, OriginateRequest, ReloadSummary};
pub use recordings::RecordingDirs;
pub use registrations::ProfileDomains;

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
    /// Each profile's SIP domain (registrations are kept per domain).
    pub profiles: Arc<ProfileDomains>,
    /// Call records and the webhook outbox.
    pub store: SqlStore,
    /// Live events.
    pub events: EventBus,
    /// When the switch started (health: uptime).
    pub started: Instant,
    /// Cancelled when the switch begins to shut down (readiness goes false).
    pub shutdown: CancellationToken,
    /// Each profile's recordings directory (recordings are served from these only).
    pub recordings: Arc<RecordingDirs>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

/// The OpenAPI document's fixed parts; paths and schemas come from the route modules.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchyard control API",
        description = "Calls, registrations, call records, config reload, live events and \
            webhooks. Authenticate with `Authorization: Bearer <token>`; roles: admin > \
            supervisor > agent > readonly."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Adds the `bearer` security scheme the operations name in their `security`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the API, with the OpenAPI document at `/api/v1/openapi.json`.
pub fn router(state: ApiState) -> axum::Router {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::routes())
        .merge(registrations::routes())
        .merge(calls::routes())
        .merge(records::routes())
        .merge(recordings::routes())
        .merge(notifications::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
        .split_for_parts();
    let doc = Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .merge(metrics::routes())
        .fallback(json::no_route)
        .method_not_allowed_fallback(json::wrong_method)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn(metrics::track_requests))
        .with_state(state)
}

/// Serves the API on `listener` until `state.shutdown` is cancelled.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
