//! `GET /api/signals/{id}`: one signal with its deliveries counted by status.

use axum::Json;
use axum::extract::State;
use herald_auth::Staff;
use herald_domain::SignalId;

use crate::extract::IdPath;
use crate::views::{SignalDetailView, counts};
use crate::{ApiError, AppState};

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
