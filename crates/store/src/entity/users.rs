//! `users`: one row per Telegram account that ever sent `/start`.

use sea_orm::entity::prelude::*;

/// A trader (or admin) known to the bot.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Herald's id for the user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Telegram's user id; unique.
    #[sea_orm(unique)]
    pub telegram_id: i64,
    /// The private chat the bot writes to.
    pub chat_id: i64,
    /// Telegram `@username`, if any.
    pub username: Option<String>,
    /// Telegram first name.
    pub first_name: Option<String>,
    /// Telegram last name.
    pub last_name: Option<String>,
    /// First `/start`.
    pub created_at: DateTimeUtc,
    /// False once the user blocked the bot or the chat is gone.
    pub is_active: bool,
    /// A full admin: equal to `staff_role == Some("admin")`, kept for the spec's schema.
    pub is_admin: bool,
    /// Telegram's `language_code`, as last seen.
    pub language_code: Option<String>,
    /// `admin` or `viewer` for staff who may use the admin API; null for a trader.
    pub staff_role: Option<String>,
    /// When they last became staff; tokens issued before it are not theirs to use.
    pub staff_since: Option<DateTimeUtc>,
    /// The enrolled authenticator's secret (base32), if any.
    pub totp_secret: Option<String>,
    /// The last TOTP step a code was accepted for; an older or equal step is refused.
    pub totp_last_step: Option<i64>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
