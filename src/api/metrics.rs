//! `GET /metrics`: the Prometheus text exposition of [`crate::telemetry::metrics`].

use super::ApiState;

/// `GET /metrics` (outside `/api/v1`, without a token).
pub fn routes() -> axum::Router<ApiState> {
    axum::Router::new()
}
