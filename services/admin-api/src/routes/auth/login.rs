//! `POST /api/auth/login`: the first step of the admin login (see the module above).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::{ClientIp, hash_one_time_code, one_time_code};
use herald_i18n::{Arg, catalog};
use herald_runtime::telemetry::{ErrorKind, count_error};
use herald_store::{AuditEvent, AuditSubject, LoginCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CODE_REQUESTED, CODE_WINDOW, LOGIN_CODE, MAX_CODES, actor, check_failures};
use crate::extract::Body;
use crate::{ApiError, AppState};

/// The request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The staff member's Telegram user id.
    telegram_id: i64,
}

/// The answer, the same for staff and for anyone else.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    status: &'static str,
    message: String,
    expires_in_secs: u64,
}

/// Step one of the admin login: when this Telegram account is staff, the bot sends a
/// one-time code to its private chat. The answer is the same for anyone.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Login,
    responses(
        (status = 202, description = "a code was sent, if the account is staff", body = CodeSent),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 415, description = "a body that is not JSON (`unsupported_media_type`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a body that breaks rules; `details` names each field (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 429, description = "too many tries (`rate_limited`); `Retry-After` says when to come back", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
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
    // Recorded first, then counted with the others: requests in parallel, on any replica,
    // each see every one recorded before their count, so no more than MAX_CODES get through.
    state
        .audit(AuditEvent {
            actor: actor(telegram_id),
            action: CODE_REQUESTED.into(),
            target: None,
            source: Some(ip.to_string()),
            details: None,
        })
        .await;
    let requested = state
        .store
        .count_audit_since(
            CODE_REQUESTED,
            AuditSubject::Actor(&actor(telegram_id)),
            now - CODE_WINDOW,
        )
        .await?;
    if requested > MAX_CODES {
        return Err(ApiError::TooMany {
            message: format!(
                "{MAX_CODES} logins were asked for this account in the last {} minutes; use \
                 a code already sent or wait",
                CODE_WINDOW.num_minutes()
            ),
            retry_after: CODE_WINDOW.to_std().unwrap_or_default(),
        });
    }
    let ttl = state.config.code_lifetime;
    // Rounded up: a code that works for 90 s is said to work for 2 minutes, never for 1.
    let minutes = ttl.as_secs().div_ceil(60);
    // Everything that depends on who the account is happens after the answer, so neither
    // what is answered nor how long it takes says whether the account is staff.
    let background = state.clone();
    let sender = sender.clone();
    tokio::spawn(async move {
        let outcome = match send_code(&background, &sender, telegram_id, now, minutes).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    telegram_id,
                    "a login failed inside"
                );
                count_error(crate::SERVICE, crate::error::error_kind(&e));
                "error"
            }
        };
        if outcome != "sent" {
            tracing::warn!(
                target: "herald::security",
                telegram_id,
                source = %ip,
                outcome,
                "admin login asked, no code sent"
            );
        }
        background
            .audit(AuditEvent {
                actor: actor(telegram_id),
                action: LOGIN_CODE.into(),
                target: None,
                source: Some(ip.to_string()),
                details: Some(serde_json::json!({ "outcome": outcome })),
            })
            .await;
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSent {
            status: "sent",
            message: format!(
                "if this Telegram account is staff, a login code was sent to its chat with the \
                 bot; it works once, for {minutes} minute{}",
                if minutes == 1 { "" } else { "s" }
            ),
            expires_in_secs: ttl.as_secs(),
        }),
    ))
}

/// Sends a login code to the staff member with `telegram_id`, if there is one with an
/// authenticator. Returns the outcome for the audit log: `sent`, `unsent` (Telegram would
/// not take it), `not_staff`, or `no_authenticator` (they are told in their chat how to
/// enrol).
async fn send_code(
    state: &AppState,
    sender: &herald_telegram::Sender,
    telegram_id: i64,
    now: chrono::DateTime<Utc>,
    minutes: u64,
) -> anyhow::Result<&'static str> {
    let Some(staff) = state.store.staff_login(telegram_id).await? else {
        return Ok("not_staff");
    };
    let language = state.store.preferences(staff.user.id).await?.language;
    if staff.totp_secret.is_none() {
        let text = catalog().format(
            language,
            "admin-login-no-authenticator",
            &[("telegram_id", Arg::from(telegram_id.to_string()))],
        );
        if let Err(e) = sender.reply_html(staff.user.chat_id, &text).await {
            tracing::warn!(error = %e, telegram_id, "could not tell a staff member to enrol");
        }
        return Ok("no_authenticator");
    }
    let code = one_time_code();
    let id = Uuid::now_v7();
    let stored = LoginCode {
        id,
        code_hash: hash_one_time_code(&id.to_string(), &code),
    };
    let ttl = chrono::Duration::from_std(state.config.code_lifetime).unwrap_or_default();
    state
        .store
        .add_login_code(staff.user.id, &stored, now, now + ttl)
        .await?;
    let text = catalog().format(
        language,
        "admin-login-code",
        &[
            ("code", Arg::from(code.as_str())),
            ("minutes", Arg::from(minutes)),
        ],
    );
    Ok(match sender.reply_html(staff.user.chat_id, &text).await {
        Ok(_) => "sent",
        Err(e) => {
            tracing::error!(error = %e, telegram_id, "could not send a login code");
            if e.is_failure() {
                count_error(crate::SERVICE, ErrorKind::Telegram);
            }
            "unsent"
        }
    })
}
