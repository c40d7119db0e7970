//! `GET /metrics`: the Prometheus exposition of [`crate::telemetry::metrics`], without a
//! token; and the middleware that counts every API request by its route template.
//!
//! Gauges of state other parts already keep (calls in progress, registrations, event
//! subscribers) are read from [`ApiState`] on each scrape rather than counted as it changes.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiState;
use crate::cluster::{BindingFilter, UnixMillis};
use crate::telemetry::metrics::{CALL_DIRECTIONS, Format, metrics};

/// The longest a scrape waits for the location store's binding count; past it the
/// registrations gauge keeps its last value.
const STORE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /metrics` (outside `/api/v1`, without a token).
pub fn routes() -> axum::Router<ApiState> {
    // The registry (and the process start time it records) exists from the API's start.
    let _ = metrics();
    axum::Router::new().route("/metrics", get(scrape))
}

/// The exposition: OpenMetrics when the `Accept` header asks for it (Prometheus does), the
/// Prometheus text format 0.0.4 otherwise.
async fn scrape(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    refresh(&state).await;
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    (
        [(CONTENT_TYPE, format.content_type())],
        metrics().encode(format),
    )
        .into_response()
}

/// Sets the scrape-time gauges from the state they describe.
async fn refresh(state: &ApiState) {
    let m = metrics();
    let calls = state.calls.list();
    for direction in CALL_DIRECTIONS {
        let n = calls
            .iter()
            .filter(|c| c.direction.as_str() == direction)
            .count();
        m.set_calls_active(direction, n);
    }
    m.set_event_subscribers(state.events.subscribers());
    let filter = BindingFilter::default();
    let listed = tokio::time::timeout(
        STORE_READ_TIMEOUT,
        state.locations.list(&filter, UnixMillis::now()),
    )
    .await;
    match listed {
        Ok(Ok(bindings)) => m.set_registrations(bindings.len()),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count registrations"),
        Err(_) => tracing::warn!("metrics: counting registrations timed out"),
    }
}

/// Middleware counting each API request by matched route template (`unmatched` when no
/// route matched), method and response status.
pub async fn track_requests(
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics().api_request(route, method.as_str(), response.status().as_u16());
    response
}
