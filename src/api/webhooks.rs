//! Webhooks: the durable outbox fed from the event bus, signed delivery with retries and
//! backoff, dead letters, and their API endpoints.

use utoipa_axum::router::OpenApiRouter;

use super::ApiState;

/// This module's routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
}
