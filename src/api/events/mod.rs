//! `GET /api/v1/events`: the live event WebSocket. Everything that can be refused is checked
//! before the upgrade (token, role, query: JSON errors like every other endpoint); then
//! [`session`] streams the hello frame, a gap notice when the resume point has left the replay
//! window, the kept backlog, and live events. The protocol is documented in
//! `docs/api/events.md`.

mod session;
#[cfg(test)]
mod tests;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Caller, authenticate};
use super::error::{ApiError, ErrorBody};
use super::json::query_of;
use crate::config::api::Role;
use crate::telemetry::events::EventFilter;

use session::Limits;

/// Largest message a client may send (it has nothing to say but pongs and close frames).
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

/// The query of `GET /api/v1/events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated event types (`call.answered,call.hungup`) or families (`call.*`,
    /// `registration.*`, `trunk.*`); every type when absent.
    pub types: Option<String>,
    /// Resume after this sequence number: the events after it still in the replay window are
    /// sent first.
    pub since: Option<u64>,
    /// The API token, for clients that cannot set the `Authorization` header (browsers).
    pub access_token: Option<String>,
}

/// This module's routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// The live event stream (WebSocket). Frames, resume and slow-consumer policy:
/// `docs/api/events.md`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket event stream: a \
            `stream.hello` text frame, a `stream.gap` frame when `since` is older than the \
            replay window, then one JSON text frame per event"),
        (status = 400, description = "`invalid_query`: an unknown parameter, an unknown event \
            type or a bad `since`", body = ErrorBody),
        (status = 401, description = "No valid token (`Authorization: Bearer` or \
            `access_token`)", body = ErrorBody),
        (status = 426, description = "`upgrade_required`: not a WebSocket upgrade request",
            body = ErrorBody),
    ))]
async fn events(
    State(state): State<ApiState>,
    headers: HeaderMap,
    uri: Uri,
    caller: Result<Caller, ApiError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let caller = caller_of(&state, &headers, &uri, caller)?;
    caller.require(Role::Readonly)?;
    let query: EventsQuery = query_of(&uri)?;
    // The document says int64 (OpenAPI has no unsigned type): hold the server to it.
    if query.since.is_some_and(|since| since > i64::MAX as u64) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("since must be between 0 and {}", i64::MAX),
        ));
    }
    let filter = filter_of(query.types.as_deref())?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            format!(
                "/api/v1/events is a WebSocket: send a WebSocket upgrade request ({})",
                rejection.body_text()
            ),
        )
    })?;
    // Subscribed before the upgrade: nothing published while it completes is missed.
    let subscription = state.events.subscribe(query.since);
    let limits = Limits::for_buffer(state.events.settings().subscriber_buffer);
    let shutdown = state.shutdown.clone();
    let since = query.since;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| async move {
            tracing::debug!(caller = %caller.name, ?since, "event subscriber connected");
            let end = session::run(socket, subscription, filter, limits, shutdown).await;
            tracing::debug!(caller = %caller.name, ?end, "event subscriber gone");
        })
        .into_response())
}

/// The client: by its `Authorization` header when it sends one, else by `access_token`.
fn caller_of(
    state: &ApiState,
    headers: &HeaderMap,
    uri: &Uri,
    from_header: Result<Caller, ApiError>,
) -> Result<Caller, ApiError> {
    if headers.contains_key(AUTHORIZATION) {
        return from_header;
    }
    // Read leniently here: a malformed query is reported (400) after the token check.
    let token = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .ok()
        .and_then(|Query(pairs)| {
            pairs
                .into_iter()
                .find(|(name, _)| name == "access_token")
                .map(|(_, value)| value)
        })
        .ok_or_else(|| {
            ApiError::unauthorized("missing Authorization: Bearer token (or access_token)")
        })?;
    let token = authenticate(&state.config.tokens, token.trim())
        .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
    Ok(Caller {
        name: token.name.clone(),
        role: token.role,
    })
}

/// The filter of the `types` parameter; 400 `invalid_query` naming a bad entry.
fn filter_of(types: Option<&str>) -> Result<EventFilter, ApiError> {
    match types {
        None => Ok(EventFilter::all()),
        Some(list) => EventFilter::parse_list(list)
            .map_err(|error| ApiError::invalid_query(format!("types: {error}"))),
    }
}
