//! `GET /api/v1/webhooks/deliveries` (the outbox: pending, delivered and dead-lettered rows)
//! and `POST /api/v1/webhooks/deliveries/{id}/retry` (a dead row back to pending).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::ApiState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::json::{ApiQuery, decode_cursor, encode_cursor, page_limit};
use crate::cluster::UnixMillis;
use crate::config::api::Role;
use crate::store::{Delivery, DeliveryFilter, DeliveryState, RetryOutcome};

/// Query of `GET /api/v1/webhooks/deliveries`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state: `pending`, `delivered` or `dead`.
    #[param(value_type = Option<DeliveryStateName>)]
    pub state: Option<String>,
    /// Only deliveries to this target (its configured name).
    pub target: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateName {
    /// Waiting for its (next) attempt.
    Pending,
    /// The target answered 2xx.
    Delivered,
    /// Every attempt failed; retry it with `POST .../{id}/retry`.
    Dead,
}

impl From<DeliveryState> for DeliveryStateName {
    fn from(state: DeliveryState) -> Self {
        match state {
            DeliveryState::Pending => DeliveryStateName::Pending,
            DeliveryState::Delivered => DeliveryStateName::Delivered,
            DeliveryState::Dead => DeliveryStateName::Dead,
        }
    }
}

/// One event on its way to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryItem {
    /// The delivery's id: the `X-Switchyard-Delivery` header of every attempt.
    pub id: i64,
    /// The target's configured name.
    pub target: String,
    /// The event's type (`call.hungup`, …).
    pub event_type: String,
    /// The event's sequence number (numbers restart with the switch).
    pub event_seq: u64,
    /// The call the event is about, for call events.
    pub call_id: Option<String>,
    /// Deliveries with the same key and target go out in order: the call id,
    /// `registration:<aor>` or the trunk name.
    pub ordering_key: String,
    /// Where it stands.
    pub state: DeliveryStateName,
    /// Attempts made.
    pub attempts: u32,
    /// HTTP status of the last attempt, when the target answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the event was put in the outbox (RFC 3339 UTC).
    pub created_at: String,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<String>,
    /// When the target accepted it.
    pub delivered_at: Option<String>,
}

/// A page of deliveries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryItem>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn rfc3339(time: UnixMillis) -> String {
    let ms = i64::try_from(time.0).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<Delivery> for DeliveryItem {
    fn from(row: Delivery) -> Self {
        let call_id = row
            .event_type
            .starts_with("call.")
            .then(|| row.ordering_key.clone());
        DeliveryItem {
            id: row.id,
            target: row.target,
            event_type: row.event_type,
            event_seq: row.event_seq,
            call_id,
            ordering_key: row.ordering_key,
            state: row.state.into(),
            attempts: row.attempts,
            last_status: row.last_status,
            last_error: row.last_error,
            created_at: rfc3339(row.created_at),
            next_attempt_at: (row.state == DeliveryState::Pending)
                .then(|| rfc3339(row.next_attempt_at)),
            delivered_at: row.delivered_at.map(rfc3339),
        }
    }
}

/// The webhook outbox: deliveries pending, delivered and dead-lettered, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "webhooks",
    params(DeliveryParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        (status = 400, description = "`invalid_query`: an unknown parameter, or a bad state, \
            limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ))]
pub(super) async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<DeliveryParams>, ApiError>,
) -> Result<Json<DeliveryList>, ApiError> {
    caller.require(Role::Readonly)?;
    let ApiQuery(params) = params?;
    let limit = page_limit(params.limit)?;
    let delivery_state = match params.state.as_deref() {
        None => None,
        Some(name) => Some(DeliveryState::parse(name).ok_or_else(|| {
            ApiError::invalid_query(format!(
                "state {name:?} is not one of pending, delivered, dead"
            ))
        })?),
    };
    let before = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => {
            let parts = decode_cursor(cursor, 1)?;
            let id = parts.first().and_then(|id| id.parse::<i64>().ok());
            Some(id.ok_or_else(|| {
                ApiError::invalid_query("cursor is not a cursor this API gave out")
            })?)
        }
    };
    let filter = DeliveryFilter {
        state: delivery_state,
        target: params.target,
        before,
        // One more than the page tells whether there is a next one.
        limit: u32::try_from(limit + 1).unwrap_or(u32::MAX),
    };
    let rows = state
        .store
        .outbox()
        .list(&filter)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut items: Vec<DeliveryItem> = rows.into_iter().map(DeliveryItem::from).collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| encode_cursor(&[&last.id.to_string()]))
    } else {
        None
    };
    Ok(Json(DeliveryList { items, next_cursor }))
}

/// Puts a dead-lettered delivery back in the outbox: pending, attempts reset, due now.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{id}/retry", tag = "webhooks",
    params(("id" = i64, Path, description = "The delivery's id")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The delivery is pending again", body = DeliveryItem),
        (status = 400, description = "`invalid_path`: the id is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below admin", body = ErrorBody),
        (status = 404, description = "No delivery has this id", body = ErrorBody),
        (status = 409, description = "`not_dead`: the delivery is pending or delivered",
            body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    ))]
pub(super) async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryItem>), ApiError> {
    caller.require(Role::Admin)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid_path(format!("delivery id {id:?} is not a number")))?;
    let outcome = state
        .store
        .outbox()
        .retry(id, UnixMillis::now())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    match outcome {
        RetryOutcome::Requeued(row) => {
            tracing::info!(
                delivery = id,
                target = row.target,
                by = caller.name,
                "dead webhook delivery requeued"
            );
            Ok((StatusCode::ACCEPTED, Json(row.into())))
        }
        RetryOutcome::NotDead(current) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_dead",
            format!(
                "delivery {id} is {}, not dead: only dead deliveries are retried",
                current.as_str()
            ),
        )),
        RetryOutcome::Unknown => Err(ApiError::not_found(format!("no delivery {id}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn row(event_type: &str, state: DeliveryState) -> Delivery {
        Delivery {
            id: 3,
            target: "crm".into(),
            event_seq: 9,
            event_type: event_type.into(),
            ordering_key: "c-1".into(),
            payload: "{}".into(),
            state,
            attempts: 2,
            next_attempt_at: UnixMillis(1_700_000_000_500),
            last_status: Some(500),
            last_error: Some("HTTP 500".into()),
            created_at: UnixMillis(1_700_000_000_000),
            delivered_at: None,
        }
    }

    #[test]
    fn an_item_names_the_call_of_call_events_and_times_in_rfc_3339() {
        let item = DeliveryItem::from(row("call.hungup", DeliveryState::Pending));
        assert_eq!(item.call_id.as_deref(), Some("c-1"));
        assert_eq!(item.created_at, "2023-11-14T22:13:20.000Z");
        assert_eq!(
            item.next_attempt_at.as_deref(),
            Some("2023-11-14T22:13:20.500Z")
        );
        let json = serde_json::to_value(&item).unwrap();
        assert_eq!(json["state"], "pending");
    }

    #[test]
    fn a_dead_registration_delivery_has_no_call_and_no_next_attempt() {
        let item = DeliveryItem::from(row("registration.added", DeliveryState::Dead));
        assert_eq!(item.call_id, None);
        assert_eq!(item.next_attempt_at, None);
        assert_eq!(item.state, DeliveryStateName::Dead);
    }
}
