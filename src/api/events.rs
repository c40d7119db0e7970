//! `GET /api/v1/events`: the live event WebSocket (filter by type, resume by sequence number,
//! slow subscribers cut off with a close reason).

use utoipa_axum::router::OpenApiRouter;

use super::ApiState;

/// This module's routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
}
