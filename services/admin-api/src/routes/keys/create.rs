//! `POST /api/keys`: a new API key. The key itself is in this answer and nowhere else: it is
//! stored only as a hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::{Admin, IpAllowList};
use herald_domain::Scope;
use herald_store::{AuditEvent, NewApiKey};
use serde::{Deserialize, Serialize};

use crate::extract::Body;
use crate::views::KeyView;
use crate::{ApiError, AppState};

/// The longest key name.
const MAX_NAME: usize = 100;
/// The highest rate limit, requests per second (far above what one replica serves).
const MAX_RATE_LIMIT: u32 = 1_000_000;

/// The request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// What it is for, e.g. `signal-engine`.
    name: String,
    /// What it may do; `["signals:write"]` when absent.
    scopes: Option<Vec<String>>,
    /// Networks it may be used from (CIDRs or addresses); any when absent or empty.
    allowed_ips: Option<Vec<String>>,
    /// Requests per second per replica; no limit when absent.
    rate_limit: Option<u32>,
}

/// The answer: the key, once, and what is stored about it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key: shown here once, stored only as a hash.
    key: String,
    #[serde(flatten)]
    stored: KeyView,
}

/// Create an API key; the key itself is in this answer and nowhere else.
#[utoipa::path(post, path = "/api/keys", tag = "keys", request_body = CreateKey,
    security(("staff" = [])),
    responses(
        (status = 201, description = "the key, once, and what is stored about it", body = CreatedKey),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 415, description = "a body that is not JSON (`unsupported_media_type`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a body that breaks rules; `details` names each field (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Body(request): Body<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let mut problems = Vec::new();
    let name = request.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        problems.push(serde_json::json!({
            "field": "name",
            "message": format!("must be 1 to {MAX_NAME} characters"),
        }));
    }
    let mut scopes = Vec::new();
    for (i, raw) in request
        .scopes
        .unwrap_or_else(|| vec![Scope::SignalsWrite.as_str().into()])
        .iter()
        .enumerate()
    {
        match raw.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(e) => {
                problems.push(serde_json::json!({"field": format!("scopes[{i}]"), "message": e}))
            }
        }
    }
    if scopes.is_empty() && problems.is_empty() {
        problems.push(
            serde_json::json!({"field": "scopes", "message": "must name at least one scope"}),
        );
    }
    let allowed = match IpAllowList::parse(&request.allowed_ips.unwrap_or_default()) {
        Ok(allowed) => allowed,
        Err(e) => {
            problems.push(serde_json::json!({"field": "allowed_ips", "message": e.to_string()}));
            IpAllowList::unrestricted()
        }
    };
    if let Some(limit) = request.rate_limit
        && !(1..=MAX_RATE_LIMIT).contains(&limit)
    {
        problems.push(serde_json::json!({
            "field": "rate_limit",
            "message": format!(
                "must be from 1 to {MAX_RATE_LIMIT} requests per second (leave it out for no limit)"
            ),
        }));
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid {
            message: format!(
                "the key has {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ),
            details: Some(serde_json::Value::Array(problems)),
        });
    }
    let generated = herald_auth::generate();
    let stored = state
        .store
        .create_api_key(
            NewApiKey {
                name,
                key_hash: generated.hash.clone(),
                key_prefix: generated.prefix.clone(),
                scopes,
                allowed_ips: allowed.to_strings(),
                rate_limit: request.rate_limit,
                created_by: Some(admin.user_id),
            },
            Utc::now(),
        )
        .await?;
    state
        .audit(AuditEvent {
            actor: admin.actor(),
            action: "key.create".into(),
            target: Some(format!("key:{}", stored.id)),
            source: Some(admin.ip.to_string()),
            details: Some(serde_json::json!({
                "name": stored.name,
                "scopes": stored.scopes,
                "allowed_ips": stored.allowed_ips,
                "rate_limit": stored.rate_limit,
            })),
        })
        .await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: herald_auth::reveal(&generated).to_string(),
            stored: stored.into(),
        }),
    ))
}
