//! `POST /api/auth/verify`: the second step of the admin login (see the module above).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_auth::{ClientIp, TotpSecret, constant_time_eq, hash_one_time_code};
use herald_domain::StaffRole;
use herald_store::AuditEvent;
use serde::{Deserialize, Serialize};

use super::{actor, check_failures, record_failure};
use crate::extract::Body;
use crate::{ApiError, AppState};

/// The request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// The staff member's Telegram user id.
    telegram_id: i64,
    /// The code the bot sent.
    code: String,
    /// The authenticator's current code.
    totp: String,
}

/// A staff token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    token: String,
    token_type: &'static str,
    expires_at: DateTime<Utc>,
    role: StaffRole,
}

/// What the client is told on any failure: never which factor was wrong.
const REFUSED: &str = "the login code or the authenticator code is wrong, expired or already used";

/// Step two: the code from the chat and the authenticator's code give a staff token.
#[utoipa::path(post, path = "/api/auth/verify", tag = "auth", request_body = Verify,
    responses(
        (status = 200, description = "a staff token", body = Session),
        (status = 401, description = "a wrong, expired or used code, or a wrong or used authenticator code (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 415, description = "a body that is not JSON (`unsupported_media_type`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a body that breaks rules; `details` names each field (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 429, description = "too many tries (`rate_limited`); `Retry-After` says when to come back", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(request): Body<Verify>,
) -> Result<Json<Session>, ApiError> {
    let now = Utc::now();
    let telegram_id = request.telegram_id;
    check_failures(&state, telegram_id, ip, now).await?;
    let refuse = |reason: &'static str| {
        let state = state.clone();
        async move {
            record_failure(&state, telegram_id, ip, reason).await;
            ApiError::Auth(herald_auth::AuthError::unauthorized(reason, REFUSED))
        }
    };
    let Some(staff) = state.store.staff_login(telegram_id).await? else {
        return Err(refuse("not_staff").await);
    };
    let live = state.store.live_login_codes(staff.user.id, now).await?;
    let code = request.code.trim();
    let matched = live.iter().find(|c| {
        constant_time_eq(
            hash_one_time_code(&c.id.to_string(), code).as_bytes(),
            c.code_hash.as_bytes(),
        )
    });
    let Some(matched) = matched else {
        state.store.note_wrong_code(staff.user.id, now).await?;
        return Err(refuse(if live.is_empty() {
            "no_live_code"
        } else {
            "wrong_code"
        })
        .await);
    };
    let Some(secret) = staff
        .totp_secret
        .as_deref()
        .and_then(|s| TotpSecret::from_base32(s).ok())
    else {
        return Err(refuse("no_authenticator").await);
    };
    let Some(step) = secret.verify(request.totp.trim(), now, None) else {
        state.store.note_wrong_code(staff.user.id, now).await?;
        return Err(refuse("wrong_totp").await);
    };
    // Both checks hold on every replica at once: the TOTP step and the code are each taken
    // by one conditional write, so a replayed pair fails whichever replica it reaches.
    if !state.store.claim_totp_step(staff.user.id, step).await? {
        return Err(refuse("totp_replayed").await);
    }
    if !state.store.use_login_code(matched.id, now).await? {
        return Err(refuse("code_used").await);
    }
    let jwt = state
        .gate
        .jwt()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("admin-api has no JWT keys")))?;
    let issued = jwt
        .issue(
            staff.user.id,
            staff.role,
            now,
            chrono::Duration::from_std(state.config.token_lifetime).unwrap_or_default(),
        )
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("signing a token: {e}")))?;
    state
        .audit(AuditEvent {
            actor: format!("user:{}", staff.user.id),
            action: "auth.login".into(),
            target: Some(actor(telegram_id)),
            source: Some(ip.to_string()),
            details: Some(serde_json::json!({
                "session": issued.claims.jti,
                "role": staff.role,
                "expires_at": issued.expires_at,
            })),
        })
        .await;
    super::count_login("ok");
    Ok(Json(Session {
        token: issued.token,
        token_type: "Bearer",
        expires_at: issued.expires_at,
        role: staff.role,
    }))
}
