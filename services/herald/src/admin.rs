//! `herald admin grant|revoke|totp-enroll`: who may use the admin API.
//!
//! Staff are traders of the bot (they must have sent it `/start`, so it can send them login
//! codes) given a role: `admin` (reads and changes) or `viewer` (reads only). Each logs in
//! with a code from the bot and a TOTP code from an authenticator app enrolled here. Every
//! change is written to the audit log with the actor `cli`.

use anyhow::Context as _;
use clap::Subcommand;
use herald_auth::{TotpSecret, qr_for_terminal};
use herald_domain::StaffRole;
use herald_runtime::Settings;
use herald_store::Store;

use crate::api_key::audit;

/// What to do with staff.
#[derive(Subcommand)]
pub enum Action {
    /// Give a trader a staff role (admin by default).
    Grant {
        /// Their Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_id: i64,
        /// `admin` (reads and changes) or `viewer` (reads only).
        #[arg(long, default_value = "admin")]
        role: StaffRole,
    },
    /// Take a staff member's role away; their tokens stop working at once.
    Revoke {
        /// Their Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_id: i64,
    },
    /// Enrol an authenticator app for a staff member: prints the `otpauth://` URI and a QR
    /// code to scan. Replaces any earlier authenticator.
    TotpEnroll {
        /// Their Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_id: i64,
    },
}

/// Runs an admin command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let store = Store::open(&settings.database_url).await?;
    match action {
        Action::Grant { telegram_id, role } => {
            let user = store
                .set_staff_role(telegram_id, Some(role), chrono::Utc::now())
                .await?
                .with_context(|| not_registered(telegram_id))?;
            audit(
                &store,
                "staff.grant",
                format!("user:{}", user.id),
                Some(serde_json::json!({ "telegram_id": telegram_id, "role": role })),
            )
            .await?;
            eprintln!(
                "{} is now {role}{}",
                name(&user),
                if store
                    .staff_login(telegram_id)
                    .await?
                    .is_some_and(|s| s.totp_secret.is_some())
                {
                    ""
                } else {
                    "; enrol their authenticator with `herald admin totp-enroll --telegram-id …`"
                }
            );
        }
        Action::Revoke { telegram_id } => {
            let user = store
                .set_staff_role(telegram_id, None, chrono::Utc::now())
                .await?
                .with_context(|| not_registered(telegram_id))?;
            audit(
                &store,
                "staff.revoke",
                format!("user:{}", user.id),
                Some(serde_json::json!({ "telegram_id": telegram_id })),
            )
            .await?;
            eprintln!("{} is no longer staff", name(&user));
        }
        Action::TotpEnroll { telegram_id } => {
            let staff = store.staff_login(telegram_id).await?.with_context(|| {
                format!(
                    "Telegram id {telegram_id} is not staff: `herald admin grant --telegram-id \
                     {telegram_id}` first"
                )
            })?;
            let secret = TotpSecret::generate();
            store
                .set_totp_secret(staff.user.id, &secret.to_base32())
                .await?;
            audit(
                &store,
                "staff.totp_enroll",
                format!("user:{}", staff.user.id),
                None,
            )
            .await?;
            let account = staff
                .user
                .username
                .clone()
                .unwrap_or_else(|| telegram_id.to_string());
            let uri = secret.otpauth_uri(&account, "Herald");
            println!("{uri}");
            eprintln!("{}", qr_for_terminal(&uri)?);
            eprintln!(
                "Scan the QR code (or enter the URI) in an authenticator app, then log in \
                 with POST /api/auth/login. The URI above is the secret: keep it out of \
                 shell histories and shared terminals."
            );
        }
    }
    Ok(())
}

fn not_registered(telegram_id: i64) -> String {
    format!(
        "no user with Telegram id {telegram_id}: staff must send /start to the bot first, so \
         it can send them login codes"
    )
}

fn name(user: &herald_store::User) -> String {
    match (&user.username, &user.first_name) {
        (Some(username), _) => format!("@{username} ({})", user.telegram_id),
        (None, Some(first)) => format!("{first} ({})", user.telegram_id),
        (None, None) => user.telegram_id.to_string(),
    }
}
