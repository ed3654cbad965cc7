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
