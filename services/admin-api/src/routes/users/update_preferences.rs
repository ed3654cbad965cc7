//! `PUT /api/users/{id}/preferences`: replaces a trader's preferences, checked field by field
//! with the same rules as the bot's `/settings` ([`PreferencesDoc::into_preferences`]), and
//! audited with before and after. Idempotent: the same body again changes nothing and records
//! nothing.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald_auth::Admin;
use herald_domain::PreferencesDoc;
use herald_store::AuditEvent;

use crate::extract::{Body, IdPath};
use crate::{ApiError, AppState};

/// Versioned writes lost to a concurrent change (the trader pressing a button meanwhile)
/// before giving up.
const TRIES: usize = 5;

/// Replace a user's preferences: every field must be present; each is checked with the
/// bot's own rules and every problem is named in `details`. The same body again changes
/// nothing. Audited with before and after.
#[utoipa::path(put, path = "/api/users/{id}/preferences", tag = "users",
    params(("id" = uuid::Uuid, Path, description = "the user's id")),
    request_body = PreferencesDoc,
    security(("staff" = [])),
    responses(
        (status = 200, description = "the preferences as now stored", body = PreferencesDoc),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 404, description = "no such thing (`not_found`)", body = herald_runtime::ErrorBody),
        (status = 415, description = "a body that is not JSON (`unsupported_media_type`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a body that breaks rules; `details` names each field (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn update_preferences(
    State(state): State<AppState>,
    Admin(admin): Admin,
    IdPath(id): IdPath,
    Body(doc): Body<PreferencesDoc>,
) -> Result<Json<PreferencesDoc>, ApiError> {
    let wanted = doc
        .into_preferences()
        .map_err(|problems| ApiError::Invalid {
            message: format!(
                "the preferences have {} problem{}: {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems
                    .iter()
                    .map(|p| format!("{} {}", p.field, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details: serde_json::to_value(&problems).ok(),
        })?;
    if state.store.user(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no user with id {id}")));
    }
    for _ in 0..TRIES {
        let (before, version) = state.store.preferences_versioned(id).await?;
        if before == wanted {
            return Ok(Json(PreferencesDoc::of(&wanted)));
        }
        if state
            .store
            .update_preferences(id, version, &wanted, Utc::now())
            .await?
        {
            state
                .audit(AuditEvent {
                    actor: admin.actor(),
                    action: "preferences.update".into(),
                    target: Some(format!("user:{id}")),
                    source: Some(admin.ip.to_string()),
                    details: Some(serde_json::json!({
                        "before": PreferencesDoc::of(&before),
                        "after": PreferencesDoc::of(&wanted),
                    })),
                })
                .await;
            return Ok(Json(PreferencesDoc::of(&wanted)));
        }
    }
    Err(ApiError::Unavailable(
        "the preferences kept changing while we wrote them; try again".into(),
    ))
}
