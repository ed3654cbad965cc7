//! `signal_deliveries`: the queue of message jobs — a signal to a trader or a destination,
//! the edit of a trader's copy when its position ends, a performance report. The job's
//! life is its `status`.

use sea_orm::entity::prelude::*;

/// One message job.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_deliveries")]
pub struct Model {
    /// The delivery's id (also the delivery job's).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The signal (for `outcome`, the close; none for a report).
    pub signal_id: Option<Uuid>,
    /// The trader (none for a destination's delivery).
    pub user_id: Option<Uuid>,
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
    /// `signal`, `outcome` or `report` (see `herald_domain::JobKind`).
    pub job: String,
    /// The destination (channel, group, topic) for a destination's delivery.
    pub destination_id: Option<Uuid>,
    /// The forum topic written to.
    pub thread_id: Option<i64>,
    /// Which report (`daily:2026-11-30`, `weekly:2026-W48`), for a report.
    pub report_period: Option<String>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
