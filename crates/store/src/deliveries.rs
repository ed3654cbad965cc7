//! Deliveries: creating the queue's jobs (one per signal and recipient, one per edit of a
//! position's copies, one per report), and reading them back.
//!
//! The life of a delivery (claims and outcomes) is in [`crate::queue`].

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryStatus, HoursRule, JobKind, Language, Signal, SignalFormat, SignalId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::entity::signal_deliveries::{self, Column as C};
use crate::recipients::Recipient;
use crate::{Store, StoreError};

/// Columns written per row by [`Store::create_deliveries`] (at most; the other jobs write
/// fewer).
const INSERT_COLUMNS: usize = 22;
/// SQLite's limit on bind parameters in one statement (PostgreSQL allows 65535).
const MAX_BIND_PARAMETERS: usize = 32766;
/// Rows per `INSERT`: at most 1000, and never past the bind-parameter limit.
pub(crate) const DELIVERY_BATCH_ROWS: usize = {
    let by_params = MAX_BIND_PARAMETERS / INSERT_COLUMNS;
    if by_params < 1000 { by_params } else { 1000 }
};

/// A delivery row, all columns, in domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery's id (also the delivery job's).
    pub id: Uuid,
    /// What the job sends.
    pub job: JobKind,
    /// The signal delivered (for an outcome edit, the close; none for a report).
    pub signal_id: Option<SignalId>,
    /// The trader (none for a destination's delivery).
    pub user_id: Option<Uuid>,
    /// The destination (channel, group or topic), for a destination's delivery.
    pub destination_id: Option<Uuid>,
    /// The report, for a report: `daily:2026-11-30`, `weekly:2026-W48`.
    pub report_period: Option<String>,
    /// The chat written to.
    pub chat_id: i64,
    /// The format chosen when the delivery was created.
    pub format: SignalFormat,
    /// Where the delivery stands.
    pub status: DeliveryStatus,
    /// Attempts started so far.
    pub attempts: u32,
    /// The last error seen, if any.
    pub last_error: Option<String>,
    /// Telegram's id for the sent message.
    pub telegram_message_id: Option<i64>,
    /// When the delivery was created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When Telegram accepted the message.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When the trader read it, if known.
    pub read_at: Option<DateTime<Utc>>,
    /// Queue priority (see [`Store::claim_deliveries`]).
    pub priority: i16,
    /// The signal's deadline: never sent after it.
    pub deadline: Option<DateTime<Utc>>,
    /// Not tried again before this.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Sends whose outcome Telegram never told.
    pub unknown_sends: u32,
    /// The trader takes this kind silently (`disable_notification`).
    pub silent: bool,
    /// The message's language.
    pub language: Language,
    /// The trader's hours, checked when the message goes out; `None` for any time.
    pub hours: Option<HoursRule>,
}

impl TryFrom<signal_deliveries::Model> for Delivery {
    type Error = StoreError;

    fn try_from(m: signal_deliveries::Model) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::corrupt("signal_deliveries", m.id, reason);
        Ok(Self {
            status: m.status.parse().map_err(corrupt)?,
            format: m.format.parse().map_err(corrupt)?,
            attempts: u32::try_from(m.attempts)
                .map_err(|_| corrupt(format!("attempts {} is negative", m.attempts)))?,
            job: m.job.parse().map_err(corrupt)?,
            id: m.id,
            signal_id: m.signal_id.map(SignalId),
            user_id: m.user_id,
            destination_id: m.destination_id,
            report_period: m.report_period,
            chat_id: m.chat_id,
            last_error: m.last_error,
            telegram_message_id: m.telegram_message_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
            delivered_at: m.delivered_at,
            read_at: m.read_at,
            priority: m.priority,
            deadline: m.deadline,
            next_attempt_at: m.next_attempt_at,
            unknown_sends: u32::try_from(m.unknown_sends).unwrap_or(0),
            silent: m.silent,
            language: m.language.parse().map_err(corrupt)?,
            hours: m
                .hours
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(corrupt)?,
        })
    }
}

/// What every delivery row of one signal copies from it, so that the queue orders and
/// expires deliveries without a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedSignal {
    /// The signal.
    pub id: SignalId,
    /// Its queue priority ([`crate::priority_of`] its kind).
    pub priority: i16,
    /// When it was generated.
    pub generated_at: DateTime<Utc>,
    /// Never sent after this.
    pub deadline: Option<DateTime<Utc>>,
}

impl QueuedSignal {
    /// The queue's view of `signal`, with its deadline.
    pub fn new(signal: &Signal, deadline: Option<DateTime<Utc>>) -> Self {
        Self {
            id: signal.id,
            priority: crate::priority_of(signal.kind),
            generated_at: signal.generated_at,
            deadline,
        }
    }
}

/// How many deliveries are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Waiting for an attempt.
    pub pending: u64,
    /// An attempt in flight.
    pub sending: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up.
    pub failed: u64,
    /// Trader blocked the bot.
    pub blocked: u64,
    /// Too old to send.
    pub expired: u64,
    /// Outcome not known; one more try pending.
    pub unknown: u64,
    /// Not sent on purpose (outside the trader's hours, which they skip).
    pub skipped: u64,
}

impl DeliveryCounts {
    /// Every status, in life order.
    pub const STATUSES: [DeliveryStatus; 8] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Unknown,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Blocked,
        DeliveryStatus::Expired,
        DeliveryStatus::Skipped,
    ];

    /// The count for one status.
    pub fn get(&self, status: DeliveryStatus) -> u64 {
        match status {
            DeliveryStatus::Pending => self.pending,
            DeliveryStatus::Sending => self.sending,
            DeliveryStatus::Sent => self.sent,
            DeliveryStatus::Failed => self.failed,
            DeliveryStatus::Blocked => self.blocked,
            DeliveryStatus::Expired => self.expired,
            DeliveryStatus::Unknown => self.unknown,
            DeliveryStatus::Skipped => self.skipped,
        }
    }

    fn slot(&mut self, status: DeliveryStatus) -> &mut u64 {
        match status {
            DeliveryStatus::Pending => &mut self.pending,
            DeliveryStatus::Sending => &mut self.sending,
            DeliveryStatus::Sent => &mut self.sent,
            DeliveryStatus::Failed => &mut self.failed,
            DeliveryStatus::Blocked => &mut self.blocked,
            DeliveryStatus::Expired => &mut self.expired,
            DeliveryStatus::Unknown => &mut self.unknown,
            DeliveryStatus::Skipped => &mut self.skipped,
        }
    }

    /// `(status, count)` for every status, zeros included (ready for a gauge per status).
    pub fn iter(&self) -> impl Iterator<Item = (DeliveryStatus, u64)> + '_ {
        Self::STATUSES.into_iter().map(|s| (s, self.get(s)))
    }

    /// All deliveries.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }
}

impl Store {
    /// Records a `pending` delivery for each recipient of the signal, due at once (or after
    /// the recipient's tier delay), with their hours to be checked when it goes out.
    /// Recipients that already have a delivery for this signal are skipped, so re-running a
    /// fan-out is harmless. Returns how many rows were inserted.
    pub async fn create_deliveries(
        &self,
        signal: &QueuedSignal,
        recipients: &[Recipient],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.record_fanout_page(signal, recipients, None, false, now)
            .await
    }

    /// One page of a fan-out, in one transaction: the page's deliveries (as
    /// [`Store::create_deliveries`]) and the fan-out's progress — its cursor moved to
    /// `cursor`, and with `done` the fan-out marked finished. A fan-out interrupted anywhere
    /// resumes after the last page committed, and re-doing a page is harmless.
    pub async fn record_fanout_page(
        &self,
        signal: &QueuedSignal,
        recipients: &[Recipient],
        cursor: Option<Uuid>,
        done: bool,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin().await?;
        let mut inserted = 0;
        for batch in recipients.chunks(DELIVERY_BATCH_ROWS) {
            let rows = batch.iter().map(|r| {
                // A tier's delay moves the message, and its deadline with it: the trader
                // gets the signal that long after everyone, not never.
                let due = r.not_before.filter(|at| *at > now).unwrap_or(now);
                let deadline = signal.deadline.map(|d| d + r.delay);
                signal_deliveries::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    job: Set(JobKind::Signal.as_str().to_string()),
                    signal_id: Set(Some(signal.id.0)),
                    user_id: Set(Some(r.user_id)),
                    chat_id: Set(r.chat_id),
                    format: Set(r.format.as_str().to_string()),
                    status: Set(DeliveryStatus::Pending.as_str().to_string()),
                    attempts: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    priority: Set(signal.priority),
                    signal_generated_at: Set(Some(signal.generated_at)),
                    deadline: Set(deadline),
                    next_attempt_at: Set(Some(due)),
                    lease_until: Set(None),
                    unknown_sends: Set(0),
                    silent: Set(r.silent),
                    language: Set(r.language.code().to_string()),
                    hours: Set(r.hours.map(|h| h.to_string())),
                    ..Default::default()
                }
            });
            inserted += signal_deliveries::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::columns([C::SignalId, C::UserId, C::Job])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        Store::advance_fanout(&txn, signal.id, cursor, done, now).await?;
        txn.commit().await?;
        Ok(inserted)
    }

    /// One delivery, if it exists.
    pub async fn delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        signal_deliveries::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(Delivery::try_from)
            .transpose()
    }

    /// Every delivery of a signal, oldest first.
    pub async fn deliveries_for_signal(
        &self,
        signal_id: SignalId,
    ) -> Result<Vec<Delivery>, StoreError> {
        signal_deliveries::Entity::find()
            .filter(C::SignalId.eq(signal_id.0))
            .order_by_asc(C::CreatedAt)
            .order_by_asc(C::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Delivery::try_from)
            .collect()
    }

    /// How many deliveries are in each state, over all signals (for health and metrics).
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        self.counts(None).await
    }

    /// How many of one signal's deliveries are in each state (for operators watching a
    /// broadcast).
    pub async fn signal_delivery_counts(
        &self,
        signal_id: SignalId,
    ) -> Result<DeliveryCounts, StoreError> {
        self.counts(Some(signal_id)).await
    }

    async fn counts(&self, signal_id: Option<SignalId>) -> Result<DeliveryCounts, StoreError> {
        let mut query = signal_deliveries::Entity::find();
        if let Some(id) = signal_id {
            query = query.filter(C::SignalId.eq(id.0));
        }
        let rows: Vec<(String, i64)> = query
            .select_only()
            .column(C::Status)
            .column_as(C::Id.count(), "n")
            .group_by(C::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        DeliveryCounts::from_rows(rows)
    }
}

impl DeliveryCounts {
    /// Counts from `(status, count)` rows of a `GROUP BY status`.
    pub(crate) fn from_rows(
        rows: impl IntoIterator<Item = (String, i64)>,
    ) -> Result<Self, StoreError> {
        let mut counts = DeliveryCounts::default();
        for (status, n) in rows {
            let status: DeliveryStatus = status
                .parse()
                .map_err(|e| StoreError::corrupt("signal_deliveries", "(counts)", e))?;
            *counts.slot(status) += u64::try_from(n).unwrap_or(0);
        }
        Ok(counts)
    }
}

/// The trader's deliveries still waiting (`pending`, or `unknown` awaiting their retry),
/// ended as `status` with `why`: they
/// unsubscribed (`skipped`) or blocked the bot (`blocked`), so what was queued for them (a
/// delayed tier's messages, a broadcast not yet reached) is not sent after all. Returns how
/// many.
pub(crate) async fn end_waiting(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    status: DeliveryStatus,
    why: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut ended = 0;
    // An `unknown` one (a send timed out, its retry waiting) ends too, saying that the
    // trader may have it.
    for (waiting, why) in [
        (DeliveryStatus::Pending, why.to_string()),
        (
            DeliveryStatus::Unknown,
            format!("{why} (an earlier send may have reached them)"),
        ),
    ] {
        let result = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(status.as_str()))
            .col_expr(C::LastError, Expr::value(why))
            .col_expr(C::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::UserId.eq(user_id))
            .filter(C::Status.eq(waiting.as_str()))
            .exec(db)
            .await?;
        ended += result.rows_affected;
    }
    Ok(ended)
}

/// Brings the waiting deliveries of the traders `users` selects forward to `due` at the
/// latest: a trader moved to a tier with a shorter delay (or a tier whose delay was cut) gets
/// what is queued for them no later than their new tier would, and their newer signals are
/// not held behind older ones still waiting out the old delay.
pub(crate) async fn bring_forward(
    db: &impl ConnectionTrait,
    users: sea_orm::sea_query::SelectStatement,
    due: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = signal_deliveries::Entity::update_many()
        .col_expr(C::NextAttemptAt, Expr::value(due))
        .filter(C::Status.eq(DeliveryStatus::Pending.as_str()))
        // Only those never tried: a retry's backoff or a 429's wait stays as it is.
        .filter(C::Attempts.eq(0))
        .filter(C::NextAttemptAt.gt(due))
        .filter(C::UserId.in_subquery(users))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
