//! Calls in progress: list (`GET /api/v1/calls`), detail (`GET /api/v1/calls/{id}`), hang up
//! (`POST /api/v1/calls/{id}/hangup`, supervisor) and click-to-call (`POST /api/v1/calls`,
//! agent). Hanging up only posts a message to the call's own task, so the API never waits on
//! call processing.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::control::{OriginateError, OriginateRequest};
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery, decode_time_cursor, encode_cursor, page_limit};
use crate::call::CallId;
use crate::call::registry::{CallSummary, HangUpResult};
use crate::config::api::Role;

/// Query of `GET /api/v1/calls`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallListParams {
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of calls in progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallList {
    /// Oldest first.
    pub items: Vec<CallSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Answer of a hang-up request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HangingUp {
    /// The call.
    pub id: CallId,
    /// Always `hanging_up`: the call has the request; it ends with cause `manager_request`.
    pub status: &'static str,
}

/// Answer of an originate request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Originated {
    /// The new call's id (follow it in `/api/v1/calls/{id}` and the events).
    pub id: CallId,
}

/// The call id in a path; 400 `invalid_path` when it is not a UUID.
pub(super) fn call_id(path: Result<Path<String>, PathRejection>) -> Result<CallId, ApiError> {
    let Path(text) =
        path.map_err(|e| ApiError::invalid_path(format!("bad call id: {}", e.body_text())))?;
    uuid::Uuid::parse_str(&text)
        .map(CallId)
        .map_err(|_| ApiError::invalid_path(format!("call id {text:?} is not a UUID")))
}

/// 404: no call `id` is in progress.
pub(super) fn unknown_call(id: CallId) -> ApiError {
    ApiError::not_found(format!("no call {id} is in progress"))
}

/// 503 `busy`: call `id`'s mailbox is full.
pub(super) fn busy(id: CallId) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("call {id} cannot take the request now; try again"),
    )
}

/// The calls in progress on this node.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", operation_id = "list_calls",
    params(CallListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of calls in progress", body = CallList),
        (status = 400, description = "`invalid_query`: an unknown parameter, a bad limit or \
            cursor", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<CallListParams>, ApiError>,
) -> Result<Json<CallList>, ApiError> {
    caller.require(Role::Readonly)?;
    let ApiQuery(params) = params?;
    let limit = page_limit(params.limit)?;
    let after = match params.cursor.as_deref() {
        Some(cursor) => Some(decode_time_cursor(cursor)?),
        None => None,
    };
    let mut items = state.calls.list();
    if let Some((started, id)) = after {
        items.retain(|c| (c.started_at.0, c.id.to_string()) > (started, id.clone()));
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|c| encode_cursor(&[&c.started_at.0.to_string(), &c.id.to_string()]))
    } else {
        None
    };
    Ok(Json(CallList { items, next_cursor }))
}

/// One call in progress.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", operation_id = "get_call",
    params(("id" = uuid::Uuid, Path, description = "The call's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The call", body = CallSummary),
        (status = 400, description = "`invalid_path`: the id is not a UUID", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "`not_found`: no call with this id is in progress",
            body = ErrorBody),
    ))]
async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<CallSummary>, ApiError> {
    caller.require(Role::Readonly)?;
    let id = call_id(path)?;
    state
        .calls
        .get(id)
        .map(Json)
        .ok_or_else(|| unknown_call(id))
}

/// Hangs a call up (both sides get a BYE or CANCEL; the record's cause is `manager_request`).
#[utoipa::path(post, path = "/api/v1/calls/{id}/hangup", tag = "calls",
    operation_id = "hang_up_call",
    params(("id" = uuid::Uuid, Path, description = "The call's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The call is hanging up", body = HangingUp),
        (status = 400, description = "`invalid_path`: the id is not a UUID", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
        (status = 404, description = "`not_found`: no call with this id is in progress",
            body = ErrorBody),
        (status = 503, description = "`busy`: the call cannot take the request now; try again",
            body = ErrorBody),
    ))]
async fn hang_up(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<HangingUp>), ApiError> {
    caller.require(Role::Supervisor)?;
    let id = call_id(path)?;
    match state.calls.hang_up(id) {
        HangUpResult::Requested => {
            tracing::info!(call_id = %id, token = %caller.name, "hang-up requested through the API");
            Ok((
                StatusCode::ACCEPTED,
                Json(HangingUp {
                    id,
                    status: "hanging_up",
                }),
            ))
        }
        HangUpResult::NotFound => Err(unknown_call(id)),
        HangUpResult::Busy => Err(busy(id)),
    }
}

/// Click-to-call: rings extension `from`; once it answers, connects it to `to`.
#[utoipa::path(post, path = "/api/v1/calls", tag = "calls", operation_id = "originate_call",
    request_body = OriginateRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "`from` is being rung", body = Originated),
        (status = 400, description = "`invalid_body`: malformed JSON, a wrong type or an \
            unknown field (named)", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below agent", body = ErrorBody),
        (status = 404, description = "`unknown_extension`: no phones profile has `from`",
            body = ErrorBody),
        (status = 409, description = "`not_registered`: `from` has no registered phone",
            body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON",
            body = ErrorBody),
        (status = 422, description = "`unknown_profile` or `unknown_context`", body = ErrorBody),
        (status = 503, description = "`unavailable`: the switch cannot start a call now",
            body = ErrorBody),
    ))]
async fn originate(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<ApiJson<OriginateRequest>, ApiError>,
) -> Result<(StatusCode, Json<Originated>), ApiError> {
    caller.require(Role::Agent)?;
    let ApiJson(request) = body?;
    match state.control.originate(request).await {
        Ok(id) => {
            tracing::info!(call_id = %id, token = %caller.name, "originate through the API");
            Ok((StatusCode::ACCEPTED, Json(Originated { id })))
        }
        Err(error) => Err(originate_error(error)),
    }
}

fn originate_error(error: OriginateError) -> ApiError {
    let message = error.to_string();
    match error {
        OriginateError::UnknownExtension(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_extension", message)
        }
        OriginateError::NotRegistered(_) => {
            ApiError::new(StatusCode::CONFLICT, "not_registered", message)
        }
        OriginateError::UnknownProfile(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_profile", message)
        }
        OriginateError::UnknownContext(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_context", message)
        }
        OriginateError::Unavailable(_) => ApiError::unavailable(message),
    }
}

/// The calls routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, originate))
        .routes(routes!(detail))
        .routes(routes!(hang_up))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn each_originate_refusal_has_its_status_and_code() {
        let cases = [
            (
                OriginateError::UnknownExtension("9".into()),
                404,
                "unknown_extension",
            ),
            (
                OriginateError::NotRegistered("9".into()),
                409,
                "not_registered",
            ),
            (
                OriginateError::UnknownProfile("p".into()),
                422,
                "unknown_profile",
            ),
            (
                OriginateError::UnknownContext("c".into()),
                422,
                "unknown_context",
            ),
            (OriginateError::Unavailable("x".into()), 503, "unavailable"),
        ];
        for (error, status, code) in cases {
            let api = originate_error(error);
            assert_eq!((api.status.as_u16(), api.code), (status, code));
        }
    }
}
