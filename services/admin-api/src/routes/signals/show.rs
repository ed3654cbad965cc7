//! `GET /api/signals/{id}`: one signal with its deliveries counted by status.

use axum::Json;
use axum::extract::State;
use herald_auth::Staff;
use herald_domain::SignalId;

use crate::extract::IdPath;
use crate::views::{SignalDetailView, counts};
use crate::{ApiError, AppState};

/// One signal with its deliveries counted by status.
#[utoipa::path(get, path = "/api/signals/{id}", tag = "signals",
    params(("id" = uuid::Uuid, Path, description = "the signal's id")),
    security(("staff" = [])),
    responses(
        (status = 200, description = "the signal", body = SignalDetailView),
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
) -> Result<Json<SignalDetailView>, ApiError> {
    let signal = state
        .store
        .stored_signal(SignalId(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no signal with id {id}")))?;
    let deliveries = state.store.signal_delivery_counts(SignalId(id)).await?;
    Ok(Json(SignalDetailView {
        signal: signal.into(),
        deliveries: counts(&deliveries),
    }))
}
