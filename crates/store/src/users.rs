//! Users: registration on `/start`, lookup, deactivation when the bot is blocked.

use chrono::{DateTime, Utc};
use herald_domain::{Language, Preferences, StaffRole};
use sea_orm::sea_query::{Expr, ExprTrait, JoinType, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

use crate::entity::{user_preferences, user_subscriptions, users};
use crate::preferences::{PREFERENCE_COLUMNS, PreferencesRow, insert_default_preferences};
use crate::{Store, StoreError};

/// Who a Telegram update came from: what `/start` registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramProfile {
    /// Telegram's user id.
    pub telegram_id: i64,
    /// The private chat with the bot.
    pub chat_id: i64,
    /// `@username`, if the user has one.
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Telegram's `language_code` (IETF tag), if the client sent one.
    pub language_code: Option<String>,
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Herald's id.
    pub id: Uuid,
    /// Telegram's user id.
    pub telegram_id: i64,
    /// The chat the bot writes to.
    pub chat_id: i64,
    /// `@username`, if any.
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// First registration.
    pub created_at: DateTime<Utc>,
    /// False while the user has the bot blocked.
    pub is_active: bool,
    /// A full admin (`staff_role == Some(StaffRole::Admin)`).
    pub is_admin: bool,
    /// Telegram's `language_code`, as last seen.
    pub language_code: Option<String>,
    /// The user's role in the admin API, if they are staff.
    pub staff_role: Option<StaffRole>,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            telegram_id: m.telegram_id,
            chat_id: m.chat_id,
            username: m.username,
            first_name: m.first_name,
            last_name: m.last_name,
            created_at: m.created_at,
            is_active: m.is_active,
            is_admin: m.is_admin,
            language_code: m.language_code,
            // Written only from `StaffRole::as_str`; anything else reads as no role.
            staff_role: m.staff_role.and_then(|r| r.parse().ok()),
        }
    }
}

/// The outcome of [`Store::register_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The user as now stored.
    pub user: User,
    /// True if this call created the user; false for a returning user.
    pub created: bool,
    /// True if the user had blocked the bot (or their chat had gone) and is back: their
    /// subscription was paused then, and stays paused until they `/subscribe` again.
    pub returned: bool,
}

/// Whether `p` says nothing new about the active `user` (so registering changes nothing).
fn unchanged(user: &User, p: &TelegramProfile) -> bool {
    user.is_active
        && user.chat_id == p.chat_id
        && user.username == p.username
        && user.first_name == p.first_name
        && user.last_name == p.last_name
        && (p.language_code.is_none() || user.language_code == p.language_code)
}

/// Every column of `users`, for reads joined to other tables.
pub(crate) const USER_COLUMNS: [users::Column; 14] = [
    users::Column::Id,
    users::Column::TelegramId,
    users::Column::ChatId,
    users::Column::Username,
    users::Column::FirstName,
    users::Column::LastName,
    users::Column::CreatedAt,
    users::Column::IsActive,
    users::Column::IsAdmin,
    users::Column::LanguageCode,
    users::Column::StaffRole,
    users::Column::StaffSince,
    users::Column::TotpSecret,
    users::Column::TotpLastStep,
];

impl Store {
    /// Registers a user on `/start`, or refreshes a returning one: names and chat are updated
    /// and the user is active again (a trader who had blocked the bot and comes back). A
    /// preferences row with the defaults is created if missing, in the language of
    /// Telegram's `language_code` when Herald speaks it.
    ///
    /// A returning user whose details are unchanged costs one read: every command calls this,
    /// and most of them change nothing.
    ///
    /// Safe under concurrency: two `/start`s at once both succeed, exactly one reports
    /// `created`.
    pub async fn register_user(
        &self,
        p: &TelegramProfile,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError> {
        let existing = self.user_by_telegram_id(p.telegram_id).await?;
        self.register_known(p, existing, now).await
    }

    /// [`Store::register_user`] and the trader's preferences with their version (see
    /// [`Store::update_preferences`]), in one read for a returning trader whose details
    /// are unchanged: what every command of the bot starts with.
    pub async fn register_trader(
        &self,
        p: &TelegramProfile,
        now: DateTime<Utc>,
    ) -> Result<(Registration, Preferences, i64), StoreError> {
        let existing = self.stored_trader(p.telegram_id).await?;
        if let Some((user, prefs)) = &existing
            && unchanged(user, p)
        {
            let (prefs, version) = prefs.clone().unwrap_or_default();
            let registration = Registration {
                user: user.clone(),
                created: false,
                returned: false,
            };
            return Ok((registration, prefs, version));
        }
        let registration = self
            .register_known(p, existing.map(|(user, _)| user), now)
            .await?;
        let (prefs, version) = self.preferences_versioned(registration.user.id).await?;
        Ok((registration, prefs, version))
    }

    /// The trader with this Telegram id and their preferences with their version (the
    /// defaults at version 0 while none are stored), in one read; `None` if not registered.
    /// What a button press starts with.
    pub async fn trader_by_telegram_id(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(User, Preferences, i64)>, StoreError> {
        Ok(self.stored_trader(telegram_id).await?.map(|(user, prefs)| {
            let (prefs, version) = prefs.unwrap_or_default();
            (user, prefs, version)
        }))
    }

    /// The user with this Telegram id, joined to their stored preferences and version.
    async fn stored_trader(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(User, Option<(Preferences, i64)>)>, StoreError> {
        let mut stmt = Query::select();
        stmt.columns(USER_COLUMNS.map(|c| (users::Entity, c)))
            .expr_as(
                Expr::col((user_preferences::Entity, user_preferences::Column::UserId)),
                "prefs_user_id",
            )
            .expr_as(
                Expr::col((user_preferences::Entity, user_preferences::Column::Version)),
                "prefs_version",
            )
            .columns(PREFERENCE_COLUMNS.map(|c| (user_preferences::Entity, c)))
            .from(users::Entity)
            .join(
                JoinType::LeftJoin,
                user_preferences::Entity,
                Expr::col((user_preferences::Entity, user_preferences::Column::UserId))
                    .equals((users::Entity, users::Column::Id)),
            )
            .and_where(Expr::col((users::Entity, users::Column::TelegramId)).eq(telegram_id));
        let Some(row) = self.db.query_one(&stmt).await? else {
            return Ok(None);
        };
        let user = users::Model::from_query_result(&row, "")?;
        let prefs = match row.try_get::<Option<Uuid>>("", "prefs_user_id")? {
            Some(_) => Some((
                PreferencesRow::read(&row)?.into_domain(user.id)?,
                row.try_get::<i64>("", "prefs_version")?,
            )),
            None => None,
        };
        Ok(Some((User::from(user), prefs)))
    }

    /// [`Store::register_user`] given what is stored for the trader (`existing`).
    async fn register_known(
        &self,
        p: &TelegramProfile,
        existing: Option<User>,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError> {
        if let Some(user) = existing.clone()
            && unchanged(&user, p)
        {
            return Ok(Registration {
                user,
                created: false,
                returned: false,
            });
        }
        // Read before the transaction: on SQLite a transaction that reads and then writes
        // cannot wait for the write lock (concurrent `/start`s would fail as "locked").
        let was_active = existing.map(|u| u.is_active);
        let txn = self.db.begin().await?;
        let inserted = users::Entity::insert(users::ActiveModel {
            id: Set(Uuid::now_v7()),
            telegram_id: Set(p.telegram_id),
            chat_id: Set(p.chat_id),
            username: Set(p.username.clone()),
            first_name: Set(p.first_name.clone()),
            last_name: Set(p.last_name.clone()),
            created_at: Set(now),
            is_active: Set(true),
            is_admin: Set(false),
            language_code: Set(p.language_code.clone()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::column(users::Column::TelegramId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let created = inserted == 1;
        if !created {
            let mut update = users::Entity::update_many()
                .col_expr(users::Column::ChatId, Expr::value(p.chat_id))
                .col_expr(users::Column::Username, Expr::value(p.username.clone()))
                .col_expr(users::Column::FirstName, Expr::value(p.first_name.clone()))
                .col_expr(users::Column::LastName, Expr::value(p.last_name.clone()))
                .col_expr(users::Column::IsActive, Expr::value(true));
            if p.language_code.is_some() {
                update = update.col_expr(
                    users::Column::LanguageCode,
                    Expr::value(p.language_code.clone()),
                );
            }
            update
                .filter(users::Column::TelegramId.eq(p.telegram_id))
                .exec(&txn)
                .await?;
        }
        let user = users::Entity::find()
            .filter(users::Column::TelegramId.eq(p.telegram_id))
            .one(&txn)
            .await?
            .ok_or_else(|| {
                StoreError::corrupt("users", p.telegram_id, "vanished during registration")
            })?;
        let defaults = Preferences {
            language: p
                .language_code
                .as_deref()
                .and_then(Language::from_telegram)
                .unwrap_or_default(),
            ..Preferences::default()
        };
        insert_default_preferences(&txn, user.id, &defaults, now).await?;
        txn.commit().await?;
        Ok(Registration {
            user: user.into(),
            created,
            returned: was_active == Some(false),
        })
    }

    /// The user with this Telegram id, if registered.
    pub async fn user_by_telegram_id(&self, telegram_id: i64) -> Result<Option<User>, StoreError> {
        Ok(users::Entity::find()
            .filter(users::Column::TelegramId.eq(telegram_id))
            .one(&self.db)
            .await?
            .map(User::from))
    }

    /// The user with this Herald id, if any.
    pub async fn user(&self, user_id: Uuid) -> Result<Option<User>, StoreError> {
        Ok(users::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
            .map(User::from))
    }

    /// Marks a user inactive (the bot was blocked, the chat is gone) and pauses their
    /// subscription: no more signals until they come back and `/subscribe` again (the bot
    /// tells them so); what was still queued for them is recorded `blocked`. Deactivating an inactive user is a no-op; an unknown id is
    /// [`StoreError::UnknownUser`].
    pub async fn deactivate_user(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let result = users::Entity::update_many()
            .col_expr(users::Column::IsActive, Expr::value(false))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::UnknownUser(user_id));
        }
        user_subscriptions::Entity::update_many()
            .col_expr(user_subscriptions::Column::IsActive, Expr::value(false))
            .filter(user_subscriptions::Column::UserId.eq(user_id))
            .exec(&txn)
            .await?;
        crate::deliveries::end_waiting(
            &txn,
            user_id,
            herald_domain::DeliveryStatus::Blocked,
            "the trader blocked the bot or the chat is gone",
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
