//! Voice notifications: agentless outbound calls that play prompts, optionally collect a
//! confirmation digit, retry per policy inside a calling window, and report the outcome.
//! `POST /api/v1/notifications` (supervisor) accepts one, `GET` reads one or a page of them
//! (readonly) from the store, `DELETE /api/v1/notifications/{id}` (supervisor) cancels one
//! that is still waiting. Accepting and cancelling go through [`super::Control`] (the
//! notification service); reading is straight from the store.

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
use super::error::{ApiError, ErrorBody};
use super::json::{ApiJson, ApiQuery, decode_time_cursor, encode_cursor, page_limit};
use crate::cluster::UnixMillis;
use crate::config::api::Role;
use crate::store::notifications::{AttemptRow, NotificationKey, NotificationRow};

/// A voice notification to place.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    /// The number called: an optional `+` and 1 to 31 digits, routed by the dialplan context
    /// (extensions ring their phones, a route group goes out through its trunks).
    #[schema(example = "15551234567")]
    pub number: String,
    /// The caller number shown (same form as `number`).
    #[schema(example = "15550001111")]
    pub caller_id: String,
    /// The caller name shown (at most 64 characters).
    #[serde(default)]
    pub caller_id_name: Option<String>,
    /// 1 to 10 prompt files under the config directory's `sounds/` (WAV: PCM 8/16 kHz mono
    /// or G.711), played in order once the call is answered.
    #[schema(example = json!(["notify/reminder.wav"]))]
    pub prompts: Vec<String>,
    /// Ask for a confirmation digit after the prompts.
    #[serde(default)]
    pub confirm: Option<ConfirmRequest>,
    /// Try again when an attempt ends so; default: one attempt.
    #[serde(default)]
    pub retry: Option<RetryRequest>,
    /// Only call inside this window; default: any time.
    #[serde(default)]
    pub window: Option<WindowRequest>,
    /// Dialplan context the number is routed in; default: the first phones profile's.
    #[serde(default)]
    pub context: Option<String>,
    /// How long an attempt rings (1 to 300 s); default: `[notifications]
    /// default_ring_timeout_secs` of api.toml.
    #[serde(default)]
    pub ring_timeout_secs: Option<u32>,
}

/// The confirmation step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// Prompt file asking for the digit.
    #[schema(example = "notify/press1.wav")]
    pub prompt: String,
    /// The digit that confirms: one of `0`-`9`, `*`, `#`.
    #[schema(example = "1")]
    pub digit: String,
    /// Seconds to wait for the digit after the prompt (1 to 60; default 5).
    #[serde(default)]
    pub timeout_secs: Option<u32>,
    /// Repeats of the prompt after a timeout or a wrong digit (0 to 5; default 2).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Prompt file played after the right digit.
    #[serde(default)]
    pub thanks: Option<String>,
}

/// The retry policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// Attempts in all (1 to 10; default 3).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Seconds from an attempt's end to the next (1 to 86400; default 60).
    #[serde(default)]
    pub interval_secs: Option<u32>,
    /// Attempt results tried again: `no_answer`, `busy`, `failed`, `answered` (answered
    /// without confirming); default `["no_answer", "busy", "failed"]`.
    #[serde(default)]
    pub on: Option<Vec<String>>,
}

/// The calling window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRequest {
    /// Opening time, `HH:MM` local time.
    #[schema(example = "09:00")]
    pub start: String,
    /// Closing time, `HH:MM` local time; earlier than `start`: the window crosses midnight.
    #[schema(example = "20:00")]
    pub end: String,
    /// IANA time zone of the times.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// Weekdays the window opens on (`mon` … `sun`); default: every day.
    #[serde(default)]
    pub days: Option<Vec<String>>,
}

/// Why a notification request or cancel was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// A field is not acceptable (named).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field (`prompts[0]`, `window.timezone`).
        field: String,
        /// Why.
        reason: String,
    },
    /// No notification has this id.
    #[error("no notification {0}")]
    NotFound(String),
    /// It is no longer waiting (calling, completed or cancelled).
    #[error("notification {id} is {status}: only pending or scheduled ones can be cancelled")]
    NotWaiting {
        /// The notification.
        id: String,
        /// Its status.
        status: String,
    },
    /// The switch cannot take notifications now (shutting down, no service).
    #[error("cannot accept notifications now: {0}")]
    Unavailable(String),
    /// The store failed.
    #[error("the notification store failed: {0}")]
    Store(String),
}

fn notification_error(error: NotificationError) -> ApiError {
    let message = error.to_string();
    match error {
        NotificationError::Invalid { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        }
        NotificationError::NotFound(_) => ApiError::not_found(message),
        NotificationError::NotWaiting { .. } => {
            ApiError::new(StatusCode::CONFLICT, "not_waiting", message)
        }
        NotificationError::Unavailable(_) => ApiError::unavailable(message),
        NotificationError::Store(error) => ApiError::internal(&error),
    }
}

/// One call attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationAttempt {
    /// 1, 2, … in order.
    pub n: u32,
    /// The attempt's call (its record is in `/api/v1/records`); null when the call could not
    /// be started.
    pub call_id: Option<String>,
    /// When it started (RFC 3339 UTC).
    pub started_at: String,
    /// When it ended; null while under way.
    pub ended_at: Option<String>,
    /// `confirmed`, `answered`, `no_answer`, `busy`, `failed` or `interrupted` (the switch
    /// stopped; not counted); null while under way.
    pub result: Option<String>,
    /// The digit pressed at the confirmation step.
    pub digit: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
}

/// A voice notification and its attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    /// Its id.
    pub id: String,
    /// The number called.
    pub number: String,
    /// The caller number shown.
    pub caller_id: String,
    /// `pending` (due), `scheduled` (waits for `next_attempt_at`), `calling`, `completed` or
    /// `cancelled`.
    pub status: String,
    /// Once completed: `confirmed`, `answered`, `no_answer`, `busy`, `failed`; `cancelled`
    /// once cancelled; else null.
    pub outcome: Option<String>,
    /// Its attempts, in order.
    pub attempts: Vec<NotificationAttempt>,
    /// When the next attempt is due (pending and scheduled notifications).
    pub next_attempt_at: Option<String>,
    /// When it was accepted.
    pub created_at: String,
    /// When it completed or was cancelled.
    pub completed_at: Option<String>,
}

/// A page of notifications.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub items: Vec<Notification>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/v1/notifications`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn rfc3339(time: UnixMillis) -> String {
    let ms = i64::try_from(time.0).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<AttemptRow> for NotificationAttempt {
    fn from(row: AttemptRow) -> Self {
        Self {
            n: row.n,
            call_id: row.call_id,
            started_at: rfc3339(row.started_at),
            ended_at: row.ended_at.map(rfc3339),
            result: row.result,
            digit: row.digit,
            reason: row.reason,
        }
    }
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            number: row.number,
            caller_id: row.caller_id,
            status: row.status.as_str().to_owned(),
            outcome: row.outcome,
            attempts: row.attempts.into_iter().map(Into::into).collect(),
            next_attempt_at: row
                .next_attempt_at
                .filter(|_| row.status.is_waiting())
                .map(rfc3339),
            created_at: rfc3339(row.created_at),
            completed_at: row.completed_at.map(rfc3339),
        }
    }
}

/// The notification id in a path (any text; unknown ids are 404).
fn notification_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path
        .map_err(|e| ApiError::invalid_path(format!("bad notification id: {}", e.body_text())))?;
    Ok(id)
}

async fn read(state: &ApiState, id: &str) -> Result<Notification, ApiError> {
    state
        .store
        .notifications()
        .get(id)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map(Notification::from)
        .ok_or_else(|| ApiError::not_found(format!("no notification {id}")))
}

/// Accepts a voice notification. Validation names the field that is wrong; prompt files
/// must exist under `sounds/` and decode.
#[utoipa::path(post, path = "/api/v1/notifications", tag = "notifications",
    operation_id = "create_notification",
    request_body = NotificationRequest,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted: `pending` (due now) or `scheduled` (for the \
            calling window's next opening)", body = Notification),
        (status = 400, description = "`invalid_body`: malformed JSON, a wrong type or an \
            unknown field (named)", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not JSON",
            body = ErrorBody),
        (status = 422, description = "`invalid_field`: a field's value is not acceptable \
            (the message names it)", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "`unavailable`: the switch is shutting down",
            body = ErrorBody),
    ))]
async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<ApiJson<NotificationRequest>, ApiError>,
) -> Result<(StatusCode, Json<Notification>), ApiError> {
    caller.require(Role::Supervisor)?;
    let ApiJson(request) = body?;
    let id = state
        .control
        .create_notification(request)
        .await
        .map_err(notification_error)?;
    tracing::info!(notification = %id, token = %caller.name, "notification through the API");
    Ok((StatusCode::ACCEPTED, Json(read(&state, &id).await?)))
}

/// One notification with its attempts.
#[utoipa::path(get, path = "/api/v1/notifications/{id}", tag = "notifications",
    operation_id = "get_notification",
    params(("id" = String, Path, description = "The notification's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The notification", body = Notification),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "`not_found`: no notification has this id",
            body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ))]
async fn detail(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Notification>, ApiError> {
    caller.require(Role::Readonly)?;
    let id = notification_id(path)?;
    Ok(Json(read(&state, &id).await?))
}

/// Notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    operation_id = "list_notifications",
    params(NotificationParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationList),
        (status = 400, description = "`invalid_query`: an unknown parameter, a bad limit or \
            cursor", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<NotificationParams>, ApiError>,
) -> Result<Json<NotificationList>, ApiError> {
    caller.require(Role::Readonly)?;
    let ApiQuery(params) = params?;
    let limit = page_limit(params.limit)?;
    let after = match params.cursor.as_deref() {
        Some(cursor) => {
            let (created, id) = decode_time_cursor(cursor)?;
            Some(NotificationKey {
                created_at: UnixMillis(created),
                id,
            })
        }
        None => None,
    };
    let fetch = u32::try_from(limit + 1).unwrap_or(u32::MAX);
    let mut rows = state
        .store
        .notifications()
        .list(after.as_ref(), fetch)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|r| encode_cursor(&[&r.created_at.0.to_string(), &r.id]))
    } else {
        None
    };
    Ok(Json(NotificationList {
        items: rows.into_iter().map(Notification::from).collect(),
        next_cursor,
    }))
}

/// Cancels a notification that is still waiting (pending or scheduled).
#[utoipa::path(delete, path = "/api/v1/notifications/{id}", tag = "notifications",
    operation_id = "cancel_notification",
    params(("id" = String, Path, description = "The notification's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled (outcome `cancelled`)", body = Notification),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below supervisor", body = ErrorBody),
        (status = 404, description = "`not_found`: no notification has this id",
            body = ErrorBody),
        (status = 409, description = "`not_waiting`: it is calling, completed or cancelled \
            already", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
        (status = 503, description = "`unavailable`: the switch is shutting down",
            body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Notification>, ApiError> {
    caller.require(Role::Supervisor)?;
    let id = notification_id(path)?;
    state
        .control
        .cancel_notification(id.clone())
        .await
        .map_err(notification_error)?;
    tracing::info!(notification = %id, token = %caller.name, "notification cancelled through the API");
    Ok(Json(read(&state, &id).await?))
}

/// The routes of this module.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(detail, cancel))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_and_code() {
        let cases = [
            (
                NotificationError::Invalid {
                    field: "number".into(),
                    reason: "bad".into(),
                },
                422,
                "invalid_field",
            ),
            (NotificationError::NotFound("x".into()), 404, "not_found"),
            (
                NotificationError::NotWaiting {
                    id: "x".into(),
                    status: "calling".into(),
                },
                409,
                "not_waiting",
            ),
            (
                NotificationError::Unavailable("x".into()),
                503,
                "unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let api = notification_error(error);
            assert_eq!((api.status.as_u16(), api.code), (status, code));
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_do_not_parse() {
        let unknown = r#"{"number":"1","caller_id":"2","prompts":["a.wav"],"extra":1}"#;
        assert!(serde_json::from_str::<NotificationRequest>(unknown).is_err());
        let nested = r#"{"number":"1","caller_id":"2","prompts":["a.wav"],
            "confirm":{"prompt":"p.wav","digit":"1","bogus":true}}"#;
        assert!(serde_json::from_str::<NotificationRequest>(nested).is_err());
        let wrong = r#"{"number":1,"caller_id":"2","prompts":["a.wav"]}"#;
        assert!(serde_json::from_str::<NotificationRequest>(wrong).is_err());
        let good = r#"{"number":"1","caller_id":"2","prompts":["a.wav"],
            "window":{"start":"09:00","end":"17:00","timezone":"UTC"}}"#;
        assert!(serde_json::from_str::<NotificationRequest>(good).is_ok());
    }
}
