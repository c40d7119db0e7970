//! Health, readiness and config reload: `GET /api/v1/health` (the process answers),
//! `GET /api/v1/ready` (it takes calls: not shutting down, database reachable), both without
//! a token for load balancers and orchestrators; `POST /api/v1/config/reload` (admin).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::control::ReloadSummary;
use super::error::{ApiError, ErrorBody};
use crate::config::api::Role;

/// How long the database may take to answer the readiness probe's trivial query.
const DATABASE_PROBE: Duration = Duration::from_secs(1);

/// `GET /api/v1/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    /// The switch's version.
    pub version: &'static str,
    /// Seconds since the switch started.
    pub uptime_secs: u64,
}

/// `GET /api/v1/ready`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Readiness {
    /// True when every check passes.
    pub ready: bool,
    /// The individual checks.
    pub checks: ReadinessChecks,
}

/// The checks behind [`Readiness`].
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// `ok`, `timeout` (no answer within 1 s) or `error`.
    pub database: &'static str,
    /// True once the switch has begun to shut down.
    pub shutting_down: bool,
}

/// The process is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "system", operation_id = "health",
    responses((status = 200, description = "The switch is up", body = Health)))]
async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started.elapsed().as_secs(),
    })
}

/// The switch takes calls: its database answers and it is not shutting down.
#[utoipa::path(get, path = "/api/v1/ready", tag = "system", operation_id = "ready",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: the database does not answer or shutdown began",
            body = Readiness),
    ))]
async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Readiness>) {
    let shutting_down = state.shutdown.is_cancelled();
    let database = match tokio::time::timeout(DATABASE_PROBE, state.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the database failed the probe");
            "error"
        }
        Err(_) => "timeout",
    };
    let ready = database == "ok" && !shutting_down;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        checks: ReadinessChecks {
            database,
            shutting_down,
        },
    };
    (status, Json(body))
}

/// Reads the config directory again: dialplans, trunks and route groups are validated, then
/// swapped in whole (calls in progress keep the routing they started with). A bad config is
/// refused with its errors and the running one stays.
#[utoipa::path(post, path = "/api/v1/config/reload", tag = "system",
    operation_id = "reload_config",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new config is in force", body = ReloadSummary),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token's role is below admin", body = ErrorBody),
        (status = 422, description = "`invalid_config`: the config was refused; `errors` lists \
            each problem with its file and key", body = ErrorBody),
        (status = 503, description = "`unavailable`: the switch is shutting down", body = ErrorBody),
    ))]
async fn reload(
    State(state): State<ApiState>,
    caller: Caller,
) -> Result<Json<ReloadSummary>, ApiError> {
    caller.require(Role::Admin)?;
    if state.shutdown.is_cancelled() {
        return Err(ApiError::unavailable("the switch is shutting down"));
    }
    match state.control.reload().await {
        Ok(summary) => {
            tracing::info!(token = %caller.name, "config reloaded through the API");
            Ok(Json(summary))
        }
        Err(errors) => {
            tracing::warn!(token = %caller.name, errors = errors.len(), "config reload refused");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!(
                    "the new config was refused ({} error(s)); the running config stays",
                    errors.len()
                ),
            )
            .with_errors(errors))
        }
    }
}

/// The health, readiness and reload routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(reload))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::api::{Control, OriginateError, OriginateRequest, ProfileDomains};
    use crate::call::CallId;
    use crate::call::registry::ActiveCalls;
    use crate::cluster::{BoxFuture, MemoryLocationStore};
    use crate::config::api::ApiConfig;
    use crate::store::SqlStore;
    use crate::telemetry::events::{BusSettings, EventBus};

    struct NoControl;

    impl Control for NoControl {
        fn reload(&self) -> BoxFuture<'_, Result<ReloadSummary, Vec<String>>> {
            Box::pin(async { Err(vec!["not here".to_owned()]) })
        }

        fn originate(&self, _: OriginateRequest) -> BoxFuture<'_, Result<CallId, OriginateError>> {
            Box::pin(async { Err(OriginateError::Unavailable("not here".into())) })
        }
    }

    async fn state(dir: &tempfile::TempDir) -> ApiState {
        let url = format!("sqlite://{}", dir.path().join("calls.db").display());
        ApiState {
            config: Arc::new(ApiConfig::default()),
            control: Arc::new(NoControl),
            calls: Arc::new(ActiveCalls::new()),
            locations: Arc::new(MemoryLocationStore::new()),
            profiles: Arc::new(ProfileDomains::default()),
            store: SqlStore::connect(&url).await.unwrap(),
            events: EventBus::new(BusSettings {
                replay: 10,
                subscriber_buffer: 10,
            }),
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            recordings: Arc::default(),
        }
    }

    #[tokio::test]
    async fn ready_turns_503_when_shutdown_begins() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let (status, Json(body)) = ready(State(state.clone())).await;
        assert_eq!(
            (status, body.ready, body.checks.database),
            (StatusCode::OK, true, "ok")
        );
        state.shutdown.cancel();
        let (status, Json(body)) = ready(State(state)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.ready && body.checks.shutting_down);
    }

    #[tokio::test]
    async fn ready_turns_503_when_the_database_does_not_answer() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        state.store.close().await;
        let (status, Json(body)) = ready(State(state)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!((body.ready, body.checks.database), (false, "error"));
    }
}
