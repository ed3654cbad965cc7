//! `POST /api/auth/login`: the first step of the admin login (see the module above).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::{ClientIp, hash_one_time_code, one_time_code};
use herald_i18n::{Arg, catalog};
use herald_store::{AuditEvent, LoginCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CODE_WINDOW, MAX_CODES, actor, check_failures, record_failure};
use crate::extract::Body;
use crate::{ApiError, AppState};

/// The request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The staff member's Telegram user id.
    telegram_id: i64,
}

/// The answer, the same for staff and for anyone else.
#[derive(Debug, Serialize)]
pub struct CodeSent {
    status: &'static str,
    message: String,
    expires_in_secs: u64,
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(Login { telegram_id }): Body<Login>,
) -> Result<(StatusCode, Json<CodeSent>), ApiError> {
    let now = Utc::now();
    let Some(sender) = &state.telegram else {
        return Err(ApiError::Unavailable(
            "logins are off: admin-api has no bot token (HERALD_TELEGRAM_TOKEN) to send codes with"
                .into(),
        ));
    };
    check_failures(&state, telegram_id, ip, now).await?;
    let ttl = state.config.code_lifetime;
    let answer = (
        StatusCode::ACCEPTED,
        Json(CodeSent {
            status: "sent",
            message: format!(
                "if this Telegram account is staff, a login code was sent to its chat with the \
                 bot; it works once, for {} minutes",
                ttl.as_secs() / 60
            ),
            expires_in_secs: ttl.as_secs(),
        }),
    );
    let Some(staff) = state.store.staff_login(telegram_id).await? else {
        record_failure(&state, telegram_id, ip, "not_staff").await;
        return Ok(answer);
    };
    let language = state.store.preferences(staff.user.id).await?.language;
    if staff.totp_secret.is_none() {
        // Told in their own chat, where only they read it; the caller learns nothing.
        record_failure(&state, telegram_id, ip, "no_authenticator").await;
        let text = catalog().format(
            language,
            "admin-login-no-authenticator",
            &[("telegram_id", Arg::from(telegram_id.to_string()))],
        );
        if let Err(e) = sender.reply_html(staff.user.chat_id, &text).await {
            tracing::warn!(error = %e, telegram_id, "could not tell a staff member to enrol");
        }
        return Ok(answer);
    }
    let sent = state
        .store
        .login_codes_since(staff.user.id, now - CODE_WINDOW)
        .await?;
    if sent >= MAX_CODES {
        return Err(ApiError::TooMany {
            message: format!(
                "{MAX_CODES} codes were sent in the last {} minutes; use one of them or wait",
                CODE_WINDOW.num_minutes()
            ),
            retry_after: CODE_WINDOW.to_std().unwrap_or_default(),
        });
    }
    let code = one_time_code();
    let id = Uuid::now_v7();
    let stored = LoginCode {
        id,
        code_hash: hash_one_time_code(&id.to_string(), &code),
    };
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or_default();
    state
        .store
        .add_login_code(staff.user.id, &stored, now, expires_at)
        .await?;
    let text = catalog().format(
        language,
        "admin-login-code",
        &[
            ("code", Arg::from(code.as_str())),
            ("minutes", Arg::from(ttl.as_secs() / 60)),
        ],
    );
    if let Err(e) = sender.reply_html(staff.user.chat_id, &text).await {
        tracing::warn!(error = %e, telegram_id, "could not send a login code");
        return Err(ApiError::Unavailable(
            "the login code could not be sent over Telegram; try again".into(),
        ));
    }
    state
        .audit(AuditEvent {
            actor: actor(telegram_id),
            action: "auth.code_sent".into(),
            target: Some(format!("user:{}", staff.user.id)),
            source: Some(ip.to_string()),
            details: None,
        })
        .await;
    Ok(answer)
}
