//! `/api/auth`: the two-factor login.
//!
//! 1. `POST /api/auth/login {telegram_id}`: when that account is staff, the bot sends a
//!    one-time code to its private chat. The answer is the same whether or not it is (202),
//!    so the endpoint does not tell who is staff.
//! 2. `POST /api/auth/verify {telegram_id, code, totp}`: the code from the chat and a TOTP
//!    code from the authenticator enrolled with `herald admin totp-enroll`. Both right: a
//!    staff token (JWT) for `HERALD_ADMIN_TOKEN_LIFETIME_SECS`.
//!
//! Codes work once and for `HERALD_ADMIN_LOGIN_CODE_TTL_SECS`; a TOTP code is accepted once.
//! Failures are recorded in the audit log (`auth.login_failed`, with the reason), and the
//! audit log is what limits them, the same on every replica: [`MAX_ACCOUNT_FAILURES`] per
//! account and [`MAX_ADDRESS_FAILURES`] per address within [`FAILURE_WINDOW`], and
//! [`MAX_CODES`] login requests per account within [`CODE_WINDOW`] (`auth.code_requested`).
//!
//! Login answers the same to everyone, staff or not, and as fast: the same 202 and the same
//! limits, decided before the account is looked up; the lookup, the code and the message
//! happen after the answer, and what became of them is in the audit log
//! (`auth.login_code`), so that no answer says who is staff. Refused tokens
//! and API keys (`auth.failed`) do not count toward these limits: a misconfigured program
//! on the admins' network cannot lock them out.

pub mod login;
pub mod verify;

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use herald_store::{AuditEvent, AuditSubject};

use crate::{ApiError, AppState};

/// The window failures are counted in.
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// Failed logins for one account within the window before it is refused.
pub const MAX_ACCOUNT_FAILURES: u64 = 5;
/// Failed logins from one address within the window before it is refused.
pub const MAX_ADDRESS_FAILURES: u64 = 20;
/// The window codes sent are counted in.
pub const CODE_WINDOW: Duration = Duration::minutes(10);
/// Login requests for one account within that window.
pub const MAX_CODES: u64 = 3;

/// The audit action of a failed login.
pub const LOGIN_FAILED: &str = "auth.login_failed";
/// The audit action of a login that had the right code from the chat but a wrong or
/// already-used authenticator code: someone who can read the admin's Telegram is trying.
pub const SECOND_FACTOR_FAILED: &str = "auth.second_factor_failed";
/// The audit action of a login request (counted for [`MAX_CODES`]).
pub const CODE_REQUESTED: &str = "auth.code_requested";
/// The audit action saying what became of a login request, after the answer:
/// `details.outcome` is `sent`, `unsent` (Telegram would not take it), `not_staff` or
/// `no_authenticator`.
pub const LOGIN_CODE: &str = "auth.login_code";

/// Logins by outcome.
const LOGINS_TOTAL: &str = "herald_admin_logins_total";

/// The outcomes `herald_admin_logins_total` counts: `ok` (a staff token issued),
/// `bad_code` (the code from the chat was wrong, expired or used, or the account is not
/// staff), `bad_second_factor` (the code was right, the authenticator's wrong or replayed, or
/// none enrolled: someone who can read the admin's Telegram may be trying), `locked` (refused
/// for too many failures, at either step).
pub const LOGIN_OUTCOMES: [&str; 4] = ["ok", "bad_code", "bad_second_factor", "locked"];

/// Describes `herald_admin_logins_total` and makes every outcome's series, at 0.
pub(crate) fn register_metrics() {
    metrics::describe_counter!(
        LOGINS_TOTAL,
        "Admin login attempts by outcome (ok, bad_code, bad_second_factor, locked)"
    );
    for outcome in LOGIN_OUTCOMES {
        metrics::counter!(LOGINS_TOTAL, "outcome" => outcome).increment(0);
    }
}

/// Counts one login attempt (one of [`LOGIN_OUTCOMES`]).
fn count_login(outcome: &'static str) {
    metrics::counter!(LOGINS_TOTAL, "outcome" => outcome).increment(1);
}

/// How the audit log names someone trying to log in.
fn actor(telegram_id: i64) -> String {
    format!("telegram:{telegram_id}")
}

/// Refuses with 429 when logins failed too often lately: for this account from this address,
/// from this address for any account, or for this account anywhere once its login code was
/// right (so that a stranger who only knows an admin's Telegram id, without their chat, can
/// lock them out only from the stranger's own address).
async fn check_failures(
    state: &AppState,
    telegram_id: i64,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let since = now - FAILURE_WINDOW;
    let retry_after = FAILURE_WINDOW.to_std().unwrap_or_default();
    let who = actor(telegram_id);
    let source = ip.to_string();
    let here = state
        .store
        .count_audits_since(
            &[LOGIN_FAILED, SECOND_FACTOR_FAILED],
            AuditSubject::ActorFrom {
                actor: &who,
                source: &source,
            },
            since,
        )
        .await?;
    let with_code = state
        .store
        .count_audit_since(SECOND_FACTOR_FAILED, AuditSubject::Actor(&who), since)
        .await?;
    if here.max(with_code) >= MAX_ACCOUNT_FAILURES {
        count_login("locked");
        return Err(ApiError::TooMany {
            message: format!(
                "too many failed logins for this account; try again in {} minutes",
                FAILURE_WINDOW.num_minutes()
            ),
            retry_after,
        });
    }
    let by_address = state
        .store
        .count_audits_since(
            &[LOGIN_FAILED, SECOND_FACTOR_FAILED],
            AuditSubject::Source(&source),
            since,
        )
        .await?;
    if by_address >= MAX_ADDRESS_FAILURES {
        count_login("locked");
        return Err(ApiError::TooMany {
            message: format!(
                "too many failed logins from this address; try again in {} minutes",
                FAILURE_WINDOW.num_minutes()
            ),
            retry_after,
        });
    }
    Ok(())
}

/// Records a failed login, in the audit log and the security log; `reason` stays there and
/// is never told to the client. `wrong_totp` and `totp_replayed` (the code from the chat was
/// right) are [`SECOND_FACTOR_FAILED`], the rest [`LOGIN_FAILED`].
async fn record_failure(state: &AppState, telegram_id: i64, ip: IpAddr, reason: &str) {
    let second_factor = matches!(reason, "wrong_totp" | "totp_replayed" | "no_authenticator");
    count_login(if second_factor {
        "bad_second_factor"
    } else {
        "bad_code"
    });
    tracing::warn!(
        target: "herald::security",
        telegram_id,
        source = %ip,
        reason,
        "admin login failed"
    );
    state
        .audit(AuditEvent {
            actor: actor(telegram_id),
            action: if matches!(reason, "wrong_totp" | "totp_replayed") {
                SECOND_FACTOR_FAILED
            } else {
                LOGIN_FAILED
            }
            .into(),
            target: Some("POST /api/auth".into()),
            source: Some(ip.to_string()),
            details: Some(serde_json::json!({ "reason": reason })),
        })
        .await;
}
