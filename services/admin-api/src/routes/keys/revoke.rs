//! `DELETE /api/keys/{id}`: revokes a key; every replica refuses it within
//! `HERALD_INGEST_KEY_CACHE_TTL_SECS`. Idempotent: revoking a revoked key answers 204 again
//! and records nothing; an unknown id is 404.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::Admin;
use herald_store::AuditEvent;

use crate::extract::IdPath;
use crate::{ApiError, AppState};

/// Revoke an API key (again is harmless).
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys",
    params(("id" = uuid::Uuid, Path, description = "the key's id")),
    security(("staff" = [])),
    responses(
        (status = 204, description = "revoked (now or before)"),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 404, description = "no such thing (`not_found`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Admin(admin): Admin,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    if state.store.revoke_api_key(id, Utc::now()).await? {
        state
            .audit(AuditEvent {
                actor: admin.actor(),
                action: "key.revoke".into(),
                target: Some(format!("key:{id}")),
                source: Some(admin.ip.to_string()),
                details: None,
            })
            .await;
        return Ok(StatusCode::NO_CONTENT);
    }
    match state.store.api_key(id).await? {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::NotFound(format!("no API key with id {id}"))),
    }
}
