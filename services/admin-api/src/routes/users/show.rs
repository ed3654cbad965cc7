//! `GET /api/users/{id}`: a user with their preferences, subscription, deliveries by status
//! and last delivery.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald_auth::Staff;

use crate::extract::IdPath;
use crate::views::UserDetailView;
use crate::{ApiError, AppState};

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
