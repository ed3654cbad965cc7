//! `DELETE /api/destinations/{id}`: removes a destination; nothing more is sent there and
//! what was queued for it is skipped. Its deliveries stay on record. An unknown id, or one
//! removed already, is 404. Audited as `destination.remove`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::Admin;
use herald_store::AuditEvent;

use crate::extract::IdPath;
use crate::{ApiError, AppState};

/// Remove a destination: nothing more is sent there, and what was waiting for it is skipped.
#[utoipa::path(delete, path = "/api/destinations/{id}", tag = "destinations",
    params(("id" = uuid::Uuid, Path, description = "the destination's id")),
    security(("staff" = [])),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 404, description = "no such destination, or removed already (`not_found`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Admin(admin): Admin,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let Some(destination) = state.store.destination(id).await? else {
        return Err(ApiError::NotFound(format!("no destination with id {id}")));
    };
    if !state.store.remove_destination(id, Utc::now()).await? {
        return Err(ApiError::NotFound(format!(
            "destination {id} ({:?}) was removed already",
            destination.name
        )));
    }
    state
        .audit(AuditEvent {
            actor: admin.actor(),
            action: "destination.remove".into(),
            target: Some(format!("destination:{id}")),
            source: Some(admin.ip.to_string()),
            details: Some(serde_json::json!({
                "name": destination.name,
                "chat_id": destination.chat_id,
                "thread_id": destination.thread_id,
            })),
        })
        .await;
    Ok(StatusCode::NO_CONTENT)
}
