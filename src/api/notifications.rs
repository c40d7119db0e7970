//! `/api/v1/notifications`.

use utoipa_axum::router::OpenApiRouter;

use super::ApiState;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
}
