//! `GET /api/users/{id}`: a user with their preferences, subscription, deliveries by status
//! and last delivery.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald_auth::Staff;

use crate::extract::IdPath;
use crate::views::UserDetailView;
use crate::{ApiError, AppState};

/// One user with their preferences, subscription, deliveries by status and last delivery.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users",
    params(("id" = uuid::Uuid, Path, description = "the user's id")),
    security(("staff" = [])),
    responses(
        (status = 200, description = "the user", body = UserDetailView),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 404, description = "no such thing (`not_found`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn show(
    State(state): State<AppState>,
    _staff: Staff,
    IdPath(id): IdPath,
) -> Result<Json<UserDetailView>, ApiError> {
    let detail = state
        .store
        .user_detail(id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user with id {id}")))?;
    Ok(Json(detail.into()))
}
