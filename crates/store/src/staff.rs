//! Staff: who may use the admin API, their authenticator, and the one-time codes the bot
//! sends them at login.
//!
//! A login takes two factors: a code the bot sends to the admin's Telegram chat (something
//! they have: the Telegram account) and a TOTP code from their authenticator (something
//! else they have, enrolled apart). Both are checked against this store, so that every
//! admin-api replica agrees: a code is used once, whichever replica sees it, and a TOTP step
//! is accepted once ([`Store::claim_totp_step`]).

use chrono::{DateTime, Utc};
use herald_domain::StaffRole;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entity::{admin_login_codes, users};
use crate::{Store, StoreError, User};

/// Wrong codes after which a login code stops working, even if a right one comes next.
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// What a login needs to know about a staff member. (`Debug` leaves the authenticator's
/// secret out.)
#[derive(Clone, PartialEq, Eq)]
pub struct StaffLogin {
    /// The user.
    pub user: User,
    /// Their role.
    pub role: StaffRole,
    /// The enrolled authenticator's secret (base32), if they enrolled one.
    pub totp_secret: Option<String>,
}

impl std::fmt::Debug for StaffLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffLogin")
            .field("user", &self.user)
            .field("role", &self.role)
            .field(
                "totp_secret",
                &self.totp_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A live one-time code, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode {
    /// The code's id: the salt of its hash.
    pub id: Uuid,
    /// SHA-256 hex of the salt and the code.
    pub code_hash: String,
}

impl Store {
    /// Gives the user with this Telegram id a staff role, or takes it away (`None`, which also
    /// forgets their authenticator: granted again, they enrol a new one). Returns the user as
    /// now stored, or `None` when nobody with that id has started the bot.
    pub async fn set_staff_role(
        &self,
        telegram_id: i64,
        role: Option<StaffRole>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let mut update = users::Entity::update_many();
        if role.is_none() {
            update = update
                .col_expr(users::Column::TotpSecret, Expr::value(None::<String>))
                .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
                .col_expr(
                    users::Column::StaffSince,
                    Expr::value(None::<DateTime<Utc>>),
                );
        } else {
            // Kept through a change of role; set anew after a revocation.
            update = update.col_expr(
                users::Column::StaffSince,
                Expr::expr(Func::coalesce([
                    Expr::col(users::Column::StaffSince),
                    Expr::value(now),
                ])),
            );
        }
        let updated = update
            .col_expr(
                users::Column::StaffRole,
                Expr::value(role.map(|r| r.as_str().to_string())),
            )
            .col_expr(
                users::Column::IsAdmin,
                Expr::value(role == Some(StaffRole::Admin)),
            )
            .filter(users::Column::TelegramId.eq(telegram_id))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        self.user_by_telegram_id(telegram_id).await
    }

    /// The staff member with this Telegram id, with what a login checks; `None` for a
    /// trader or an unknown id.
    pub async fn staff_login(&self, telegram_id: i64) -> Result<Option<StaffLogin>, StoreError> {
        let Some(model) = users::Entity::find()
            .filter(users::Column::TelegramId.eq(telegram_id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let totp_secret = model.totp_secret.clone();
        let user = User::from(model);
        Ok(user.staff_role.map(|role| StaffLogin {
            user,
            role,
            totp_secret,
        }))
    }

    /// The role of the user with this id and since when they are staff, if they are
    /// (checked on every admin API request, so that revoking a role takes effect at once).
    pub async fn staff_role(
        &self,
        user_id: Uuid,
    ) -> Result<Option<(StaffRole, DateTime<Utc>)>, StoreError> {
        let row: Option<(Option<String>, Option<DateTime<Utc>>)> =
            users::Entity::find_by_id(user_id)
                .select_only()
                .column(users::Column::StaffRole)
                .column(users::Column::StaffSince)
                .into_tuple()
                .one(&self.db)
                .await?;
        Ok(match row {
            Some((Some(role), since)) => role
                .parse()
                .ok()
                // Staff from before the column had one: since the epoch.
                .map(|role| (role, since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH))),
            _ => None,
        })
    }

    /// Enrols an authenticator for the user (replacing any earlier one).
    pub async fn set_totp_secret(&self, user_id: Uuid, secret: &str) -> Result<(), StoreError> {
        let updated = users::Entity::update_many()
            .col_expr(users::Column::TotpSecret, Expr::value(secret.to_string()))
            .col_expr(users::Column::TotpLastStep, Expr::value(None::<i64>))
            .filter(users::Column::Id.eq(user_id))
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 0 {
            return Err(StoreError::UnknownUser(user_id));
        }
        Ok(())
    }

    /// Records that a TOTP code for `step` was accepted. Returns `false` when a code for this
    /// step or a later one was already accepted: the code is a replay.
    pub async fn claim_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool, StoreError> {
        let updated = users::Entity::update_many()
            .col_expr(users::Column::TotpLastStep, Expr::value(step))
            .filter(users::Column::Id.eq(user_id))
            .filter(
                Condition::any()
                    .add(users::Column::TotpLastStep.is_null())
                    .add(users::Column::TotpLastStep.lt(step)),
            )
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Stores a one-time login code (by its hash), live until `expires_at`.
    pub async fn add_login_code(
        &self,
        user_id: Uuid,
        code: &LoginCode,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        admin_login_codes::Entity::insert(admin_login_codes::ActiveModel {
            id: Set(code.id),
            user_id: Set(user_id),
            code_hash: Set(code.code_hash.clone()),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
            attempts: Set(0),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// How many login codes were sent to the user since `since`.
    pub async fn login_codes_since(
        &self,
        user_id: Uuid,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(admin_login_codes::Entity::find()
            .filter(admin_login_codes::Column::UserId.eq(user_id))
            .filter(admin_login_codes::Column::CreatedAt.gte(since))
            .count(&self.db)
            .await?)
    }

    /// The user's codes that may still be used: not used, not expired, not burnt by wrong
    /// tries. Newest first.
    pub async fn live_login_codes(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Vec<LoginCode>, StoreError> {
        use admin_login_codes::Column as C;
        let rows: Vec<(Uuid, String)> = admin_login_codes::Entity::find()
            .select_only()
            .columns([C::Id, C::CodeHash])
            .filter(C::UserId.eq(user_id))
            .filter(C::UsedAt.is_null())
            .filter(C::ExpiresAt.gt(now))
            .filter(C::Attempts.lt(MAX_CODE_ATTEMPTS))
            .order_by_desc(C::CreatedAt)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, code_hash)| LoginCode { id, code_hash })
            .collect())
    }

    /// Uses a live code. Returns `false` when it was used meanwhile (by another request or
    /// replica), expired or burnt: a code works once.
    pub async fn use_login_code(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        use admin_login_codes::Column as C;
        let updated = admin_login_codes::Entity::update_many()
            .col_expr(C::UsedAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::UsedAt.is_null())
            .filter(C::ExpiresAt.gt(now))
            .filter(C::Attempts.lt(MAX_CODE_ATTEMPTS))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Counts a wrong code against every live code of the user: after
    /// [`MAX_CODE_ATTEMPTS`] wrong tries they stop working.
    pub async fn note_wrong_code(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use admin_login_codes::Column as C;
        admin_login_codes::Entity::update_many()
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .filter(C::UserId.eq(user_id))
            .filter(C::UsedAt.is_null())
            .filter(C::ExpiresAt.gt(now))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
