//! `GET /api/v1/records`: finished calls' detail records from the store, filtered by start
//! time, number and hangup cause, newest first, paged by an opaque keyset cursor.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::{ApiQuery, decode_time_cursor, encode_cursor, page_limit};
use crate::call::{CallRecord, HangupCause};
use crate::config::api::Role;
use crate::store::{RecordKey, RecordQuery};

/// Every cause code a record can carry (the one cause table, `call::cause`).
const CAUSES: [HangupCause; 16] = [
    HangupCause::NormalClearing,
    HangupCause::OriginatorCancel,
    HangupCause::UserBusy,
    HangupCause::NoAnswer,
    HangupCause::NoUserResponse,
    HangupCause::CallRejected,
    HangupCause::UnallocatedNumber,
    HangupCause::UserNotRegistered,
    HangupCause::IncompatibleDestination,
    HangupCause::MediaTimeout,
    HangupCause::SessionTimeout,
    HangupCause::MaxDuration,
    HangupCause::SystemShutdown,
    HangupCause::ManagerRequest,
    HangupCause::TemporaryFailure,
    HangupCause::SipFailure(500),
];

/// Query of `GET /api/v1/records`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordParams {
    /// Calls that started at or after this time: RFC 3339 (`2026-11-23T18:00:00Z`) or Unix
    /// milliseconds.
    pub from: Option<String>,
    /// Calls that started before this time: RFC 3339 or Unix milliseconds.
    pub to: Option<String>,
    /// Calls where this is the authenticated caller or the user part of the From or To URI
    /// (exact match).
    pub number: Option<String>,
    /// Calls with this hangup cause code (`normal_clearing`, `user_busy`, `manager_request`, …).
    pub cause: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of call records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordList {
    /// Newest first (by start time).
    pub items: Vec<CallRecord>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `value` of parameter `name` as Unix milliseconds.
fn instant(name: &str, value: &str) -> Result<i64, ApiError> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse()
            .map_err(|_| ApiError::invalid_query(format!("{name}: {value:?} is out of range")));
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|at| at.timestamp_millis())
        .map_err(|_| {
            ApiError::invalid_query(format!(
                "{name}: {value:?} is neither an RFC 3339 time nor Unix milliseconds"
            ))
        })
}

/// The store query of `params`.
pub(super) fn record_query(params: &RecordParams) -> Result<RecordQuery, ApiError> {
    let limit = page_limit(params.limit)?;
    let from_ms = params
        .from
        .as_deref()
        .map(|v| instant("from", v))
        .transpose()?;
    let to_ms = params.to.as_deref().map(|v| instant("to", v)).transpose()?;
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && from > to
    {
        return Err(ApiError::invalid_query("from is later than to"));
    }
    if let Some(cause) = &params.cause
        && !CAUSES.iter().any(|c| c.code() == cause)
    {
        let known: Vec<&str> = CAUSES.iter().map(|c| c.code()).collect();
        return Err(ApiError::invalid_query(format!(
            "cause: unknown hangup cause {cause:?}; known: {}",
            known.join(", ")
        )));
    }
    if params.number.as_deref() == Some("") {
        return Err(ApiError::invalid_query("number: must not be empty"));
    }
    let after = match params.cursor.as_deref() {
        Some(cursor) => {
            let (started_at_ms, call_id) = decode_time_cursor(cursor)?;
            let started_at_ms = i64::try_from(started_at_ms)
                .map_err(|_| ApiError::invalid_query("cursor is not a cursor this API gave out"))?;
            Some(RecordKey {
                started_at_ms,
                call_id,
            })
        }
        None => None,
    };
    Ok(RecordQuery {
        from_ms,
        to_ms,
        number: params.number.clone(),
        cause: params.cause.clone(),
        recorded: false,
        after,
        // One more than asked: whether it comes back says if there is a next page.
        limit: u32::try_from(limit + 1).unwrap_or(u32::MAX),
    })
}

/// Call detail records, newest first.
#[utoipa::path(get, path = "/api/v1/records", tag = "records", operation_id = "list_records",
    params(RecordParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of call records", body = RecordList),
        (status = 400, description = "`invalid_query`: an unknown parameter, a bad time, an \
            unknown cause, a bad limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<RecordParams>, ApiError>,
) -> Result<Json<RecordList>, ApiError> {
    caller.require(Role::Readonly)?;
    let ApiQuery(params) = params?;
    let query = record_query(&params)?;
    let limit = page_limit(params.limit)?;
    let mut items = state
        .store
        .query_calls(&query)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| encode_cursor(&[&last.started_at.0.to_string(), &last.call_id.to_string()]))
    } else {
        None
    };
    Ok(Json(RecordList { items, next_cursor }))
}

/// The records route.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> RecordParams {
        let mut p = RecordParams::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "from" => p.from = v,
                "to" => p.to = v,
                "number" => p.number = v,
                "cause" => p.cause = v,
                "cursor" => p.cursor = v,
                _ => panic!("{k}"),
            }
        }
        p
    }

    #[test]
    fn times_are_rfc_3339_or_unix_milliseconds() {
        let q = record_query(&params(&[
            ("from", "2026-11-23T18:00:00Z"),
            ("to", "1795460400000"),
        ]))
        .unwrap();
        assert_eq!(q.from_ms, Some(1_795_456_800_000));
        assert_eq!(q.to_ms, Some(1_795_460_400_000));
        let offset = record_query(&params(&[("from", "2026-11-23T19:00:00+01:00")])).unwrap();
        assert_eq!(offset.from_ms, Some(1_795_456_800_000));
        for bad in ["yesterday", "2026-11-23", "-5", ""] {
            let error = record_query(&params(&[("from", bad)])).unwrap_err();
            assert!(
                error.message.starts_with("from"),
                "{bad:?}: {}",
                error.message
            );
        }
        assert!(record_query(&params(&[("from", "2000"), ("to", "1000")])).is_err());
    }

    #[test]
    fn only_known_cause_codes_are_accepted() {
        assert!(record_query(&params(&[("cause", "manager_request")])).is_ok());
        assert!(record_query(&params(&[("cause", "sip_failure")])).is_ok());
        let error = record_query(&params(&[("cause", "hung_up")])).unwrap_err();
        assert_eq!(error.code, "invalid_query");
        assert!(error.message.contains("user_busy"), "{}", error.message);
    }

    #[test]
    fn a_cursor_carries_the_keyset_position_and_a_forged_one_is_refused() {
        let cursor = encode_cursor(&["1700", "abc"]);
        let q = record_query(&params(&[("cursor", &cursor)])).unwrap();
        assert_eq!(
            q.after,
            Some(RecordKey {
                started_at_ms: 1700,
                call_id: "abc".into()
            })
        );
        assert_eq!(
            q.limit, 101,
            "one more than the page, to see if another follows"
        );
        let forged = encode_cursor(&["soon", "abc"]);
        assert!(record_query(&params(&[("cursor", &forged)])).is_err());
    }
}
