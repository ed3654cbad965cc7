//! `signal_deliveries`: one row per (signal, user); the delivery's life is its `status`.

use sea_orm::entity::prelude::*;

/// One signal to one trader.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_deliveries")]
pub struct Model {
    /// The delivery's id (also the delivery job's).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The signal.
    pub signal_id: Uuid,
    /// The recipient.
    pub user_id: Uuid,
    /// The chat written to.
    pub chat_id: i64,
    /// `detailed` or `compact`, as chosen when the delivery was created.
    pub format: String,
    /// `pending`, `sending`, `unknown`, `sent`, `failed`, `blocked`, `expired` or `skipped`.
    pub status: String,
    /// Attempts started so far.
    pub attempts: i32,
    /// The last error seen, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Telegram's id for the sent message.
    pub telegram_message_id: Option<i64>,
    /// When the delivery was created.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// When Telegram accepted the message.
    pub delivered_at: Option<DateTimeUtc>,
    /// When the trader read it, if known.
    pub read_at: Option<DateTimeUtc>,
    /// Queue order: 0 pulled ahead (an older message of a trader with a newer one waiting),
    /// 1 close and alert, 2 buy and sell.
    pub priority: i16,
    /// The signal's `generated_at` (newer signals go first; one trader's go in this order).
    pub signal_generated_at: Option<DateTimeUtc>,
    /// The signal's deadline: not sent after it.
    pub deadline: Option<DateTimeUtc>,
    /// Not tried again before this.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// A `sending` claim holds until this; after it, the reconciler takes it back.
    pub lease_until: Option<DateTimeUtc>,
    /// Sends whose outcome Telegram never told (timed out, or the sender died).
    pub unknown_sends: i32,
    /// The trader takes this kind silently (`disable_notification`).
    pub silent: bool,
    /// The message's language (`en`, `es`).
    pub language: String,
    /// The trader's hours rule (`22-06 Europe/Madrid skip`), checked at send time; `None`
    /// for any time.
    pub hours: Option<String>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
