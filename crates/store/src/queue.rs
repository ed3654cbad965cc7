//! The delivery queue: `signal_deliveries` rows are the dispatcher's work. Replicas claim due
//! deliveries, most urgent first, and record how each attempt ended.
//!
//! ```text
//! pending ──claim──▶ sending ──record_sent──▶ sent
//!  ▲  ▲                │ │ └──record_final──▶ failed | blocked | expired
//!  │  └─record_retry───┘ │
//!  │    record_throttled │
//!  │                     └─record_unknown / lease ran out──▶ unknown ──claim (once)──▶ sending
//!  └── release (a trader's older message goes first)
//! ```
//!
//! **Order of the queue.** A claim takes due rows (`next_attempt_at <= now`) by `priority`
//! (0: a chat's older message pulled ahead, 1: close and alert, 2: buy and sell, 3: the
//! edits of copies when a position ends, and reports), then the newest signal first, then
//! creation order. So a new signal, or the close of an open
//! position, never waits behind an old broadcast's backlog.
//!
//! **Order per chat.** The messages of one chat (a trader's, or a destination's) leave in
//! the order their signals were generated (a close never overtakes the signal it closes,
//! the edit of a position's copy never comes before the copy): a claimed row whose chat
//! still has an older signal open is given back at once ([`Store::claim_deliveries`] does
//! it in the same call) and retried shortly, and that older signal is pulled ahead
//! (priority 0). Edits and reports hold up nothing: a late edit (in backoff, say) never
//! keeps a trader's next signal waiting, and a report, drawn when it is sent, waits for
//! nothing either.
//!
//! **Claims are leases.** A claim marks the row `sending` until `lease_until`; the claimer
//! renews it while it works. On PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so
//! replicas never wait for, nor take, each other's rows; SQLite serialises writers, so the
//! same single statement is atomic there too. A row is claimed by one replica at a time, and
//! ids in one claim are distinct, so no two sends of one delivery run at once. If a replica
//! dies, the reconciler ([`Store::reclaim_abandoned`]) finds its expired leases and marks
//! those rows `unknown`: the send may have reached Telegram.
//!
//! Every transition is one conditional `UPDATE`: a retry or a final outcome applies only to
//! an open delivery, so a late writer cannot move a finished delivery backwards.
//! `record_sent` always applies, because a message Telegram accepted is the truth whatever was
//! recorded before.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{DeliveryStatus, HoursRule, JobKind, Language, SignalFormat, SignalId};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, LockBehavior, LockType, Order, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use crate::entity::signal_deliveries::{self, Column as C};
use crate::entity::signals;
use crate::{Store, StoreError};

/// Deliveries per batched statement (well under SQLite's bind-parameter limit).
const BATCH: usize = 500;

/// Longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// The statuses of a delivery that is not finished.
pub(crate) const OPEN: [DeliveryStatus; 3] = [
    DeliveryStatus::Pending,
    DeliveryStatus::Sending,
    DeliveryStatus::Unknown,
];

/// The statuses a claim takes.
const WAITING: [DeliveryStatus; 2] = [DeliveryStatus::Pending, DeliveryStatus::Unknown];

/// Another open job of a claimed chat: (signal time, id, status, what it sends).
type OpenDelivery = (Option<DateTime<Utc>>, Uuid, DeliveryStatus, JobKind);

/// An open job as read: (id, chat, signal time, status, job).
type OpenRow = (Uuid, i64, Option<DateTime<Utc>>, String, String);

/// The most turns (of `order_wait` each) a message given back for its chat's older ones
/// waits before it is looked at again.
const MAX_WAIT_TURNS: usize = 30;

/// Priority of the jobs no signal should wait for: the edits of copies when a position ends,
/// and reports.
pub const BEHIND_SIGNALS: i16 = 3;

/// Priority of a trader's older delivery pulled ahead of the queue so that their newer one
/// can follow it.
pub const PULLED_AHEAD: i16 = 0;

/// The statuses [`Store::requeue`] takes back: deliveries that ended without reaching the
/// trader for a reason an operator can fix (an outage, a bug) or outwait (a deadline).
/// `blocked` is not among them: those traders blocked the bot or deleted the chat, and get
/// signals again once they `/start` the bot.
pub const REQUEUEABLE: [DeliveryStatus; 2] = [DeliveryStatus::Failed, DeliveryStatus::Expired];

/// What [`Store::requeue`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Deliveries put back in the queue.
    pub requeued: u64,
    /// Deliveries in the asked states left as they were because Telegram may have delivered
    /// them (a send of theirs ended without an answer).
    pub held_back: u64,
}

/// A claimed delivery: the row is `sending`, held by the claimer until its lease runs out.
/// Everything needed to send it comes from the row, never from a message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The delivery.
    pub delivery_id: Uuid,
    /// What the job sends.
    pub job: JobKind,
    /// The signal to send (for an outcome edit, the close; none for a report).
    pub signal_id: Option<SignalId>,
    /// The trader (none for a destination's delivery).
    pub user_id: Option<Uuid>,
    /// The destination, for a destination's delivery.
    pub destination_id: Option<Uuid>,
    /// The chat written to.
    pub chat_id: i64,
    /// The forum topic written to.
    pub thread_id: Option<i32>,
    /// Which report, for a report.
    pub report_period: Option<String>,
    /// Their format.
    pub format: SignalFormat,
    /// Their language.
    pub language: Language,
    /// They take this kind silently (`disable_notification`).
    pub silent: bool,
    /// Their hours, to check now that the message is going out (`None`: any time).
    pub hours: Option<HoursRule>,
    /// This attempt's number, from 1 (429s do not count).
    pub attempt: u32,
    /// Earlier sends whose outcome Telegram never told.
    pub unknown_sends: u32,
    /// Its queue priority.
    pub priority: i16,
    /// The signal's `generated_at`.
    pub signal_generated_at: Option<DateTime<Utc>>,
    /// Not to be sent after this.
    pub deadline: Option<DateTime<Utc>>,
}

/// Whose claim a write is for. From a [`Claim`]: that claim only — refused once the
/// delivery's lease ran out and another replica claimed it again, so a replica that stalled
/// past its lease cannot move someone else's claim. From a bare id: whoever holds the
/// delivery (tests, operator tools).
///
/// A claim is recognised by `attempts`: every claim raises it and nothing lowers it while the
/// row stays `sending`, so `(sending, attempts)` names one claim. (One corner is left: an
/// operator's [`Store::requeue`] resets `attempts`, so a replica stalled through a whole
/// retry cycle and a requeue could match a new claim of the same number.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRef {
    /// The delivery.
    pub id: Uuid,
    /// The claim's attempt number; `None`: any.
    pub attempt: Option<u32>,
}

impl From<Uuid> for ClaimRef {
    fn from(id: Uuid) -> Self {
        Self { id, attempt: None }
    }
}

impl From<&Claim> for ClaimRef {
    fn from(claim: &Claim) -> Self {
        Self {
            id: claim.delivery_id,
            attempt: Some(claim.attempt),
        }
    }
}

/// The rows `held` names, each only while still held under its own claim where one is given.
fn held_rows(held: &[ClaimRef]) -> Cond {
    held.iter().fold(Cond::any(), |any, h| {
        let row = Cond::all().add(Expr::col(C::Id).eq(h.id));
        any.add(match h.attempt {
            Some(attempt) => row
                .add(Expr::col(C::Status).eq(DeliveryStatus::Sending.as_str()))
                .add(Expr::col(C::Attempts).eq(i64::from(attempt))),
            None => row,
        })
    })
}

impl Claim {
    /// Whether the signal's deadline has passed at `now`.
    pub fn is_past_deadline(&self, now: DateTime<Utc>) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

impl Store {
    /// Claims up to `limit` due deliveries, most urgent first (see the module docs), for
    /// `lease`. Returns them grouped by chat, each chat's in signal order, the groups in
    /// queue order.
    ///
    /// Rows whose trader still has an older delivery open are not returned: they are given
    /// back, due again after `order_wait`, and the older delivery is pulled ahead.
    pub async fn claim_deliveries(
        &self,
        limit: usize,
        now: DateTime<Utc>,
        lease: TimeDelta,
        order_wait: TimeDelta,
    ) -> Result<Vec<Claim>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pick = Query::select();
        pick.column(C::Id)
            .from(signal_deliveries::Entity)
            .and_where(Expr::col(C::Status).is_in(WAITING.map(|s| s.as_str())))
            .cond_where(
                // Null: written by a version before the queue (see the migration).
                Cond::any()
                    .add(Expr::col(C::NextAttemptAt).is_null())
                    .add(Expr::col(C::NextAttemptAt).lte(now)),
            )
            .order_by(C::Priority, Order::Asc)
            .order_by(C::SignalGeneratedAt, Order::Desc)
            .order_by(C::Id, Order::Asc)
            .limit(limit as u64);
        if self.db.get_database_backend() == DbBackend::Postgres {
            pick.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        // The claim and the order rule are one transaction: if the rule cannot be applied
        // (the database drops mid-way), the claim is undone instead of stranding its rows.
        let txn = self.db.begin().await?;
        let stmt = Query::update()
            .table(signal_deliveries::Entity)
            .value(C::Status, DeliveryStatus::Sending.as_str())
            .value(C::Attempts, Expr::col(C::Attempts).add(1))
            .value(C::LeaseUntil, now + lease)
            .value(C::UpdatedAt, now)
            .and_where(Expr::col(C::Id).in_subquery(pick))
            .returning(Query::returning().columns([
                C::Id,
                C::Job,
                C::SignalId,
                C::UserId,
                C::DestinationId,
                C::ChatId,
                C::ThreadId,
                C::ReportPeriod,
                C::Format,
                C::Language,
                C::Silent,
                C::Hours,
                C::Attempts,
                C::UnknownSends,
                C::Priority,
                C::SignalGeneratedAt,
                C::Deadline,
            ]))
            .to_owned();
        let mut claims = Vec::new();
        for row in txn.query_all(&stmt).await? {
            let id: Uuid = row.try_get("", "id")?;
            let corrupt = |why: String| StoreError::corrupt("signal_deliveries", id, why);
            let attempts: i32 = row.try_get("", "attempts")?;
            let unknown: i32 = row.try_get("", "unknown_sends")?;
            let format: String = row.try_get("", "format")?;
            let language: String = row.try_get("", "language")?;
            let hours: Option<String> = row.try_get("", "hours")?;
            let job: String = row.try_get("", "job")?;
            let thread_id: Option<i64> = row.try_get("", "thread_id")?;
            claims.push(Claim {
                delivery_id: id,
                job: job.parse().map_err(corrupt)?,
                signal_id: row.try_get::<Option<Uuid>>("", "signal_id")?.map(SignalId),
                user_id: row.try_get("", "user_id")?,
                destination_id: row.try_get("", "destination_id")?,
                chat_id: row.try_get("", "chat_id")?,
                thread_id: thread_id
                    .map(i32::try_from)
                    .transpose()
                    .map_err(|_| corrupt("thread_id out of range".into()))?,
                report_period: row.try_get("", "report_period")?,
                format: format.parse().map_err(corrupt)?,
                language: language.parse().map_err(corrupt)?,
                silent: row.try_get("", "silent")?,
                hours: hours
                    .as_deref()
                    .map(str::parse)
                    .transpose()
                    .map_err(corrupt)?,
                attempt: u32::try_from(attempts).map_err(|_| corrupt("attempts < 0".into()))?,
                unknown_sends: u32::try_from(unknown).unwrap_or(0),
                priority: row.try_get("", "priority")?,
                signal_generated_at: row.try_get("", "signal_generated_at")?,
                deadline: row.try_get("", "deadline")?,
            });
        }
        if claims.is_empty() {
            txn.commit().await?;
            return Ok(claims);
        }
        // `RETURNING` comes in no particular order: put the claim back in queue order.
        claims.sort_by(|a, b| {
            (
                a.priority,
                std::cmp::Reverse(a.signal_generated_at),
                a.delivery_id,
            )
                .cmp(&(
                    b.priority,
                    std::cmp::Reverse(b.signal_generated_at),
                    b.delivery_id,
                ))
        });
        let claims = keep_chat_order(&txn, claims, now, order_wait).await?;
        txn.commit().await?;
        Ok(claims)
    }

    /// Gives claims back untouched (the attempt is not counted), due again at `due`.
    pub async fn release_claims<H: Into<ClaimRef> + Copy>(
        &self,
        held: &[H],
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let held: Vec<ClaimRef> = held.iter().map(|&h| h.into()).collect();
        release(&self.db, &held, due, now).await
    }

    /// Extends the lease of claims still being worked on to `until` (only while each is still
    /// held by its claim, when one is named).
    pub async fn renew_leases<H: Into<ClaimRef> + Copy>(
        &self,
        held: &[H],
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let held: Vec<ClaimRef> = held.iter().map(|&h| h.into()).collect();
        for chunk in held.chunks(BATCH) {
            signal_deliveries::Entity::update_many()
                .col_expr(C::LeaseUntil, Expr::value(until))
                .filter(held_rows(chunk))
                .filter(C::Status.eq(DeliveryStatus::Sending.as_str()))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Records many sent deliveries at once (see [`Store::record_sent`]), one statement per
    /// 500: `(delivery id, Telegram message id)` pairs.
    pub async fn record_sent_many(
        &self,
        sent: &[(Uuid, i64)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for chunk in sent.chunks(BATCH) {
            let Some(((first_id, first_message), rest)) = chunk.split_first() else {
                continue;
            };
            let mut message_ids = Expr::case(Expr::col(C::Id).eq(*first_id), *first_message);
            for (id, message) in rest {
                message_ids = message_ids.case(Expr::col(C::Id).eq(*id), *message);
            }
            let stmt = Query::update()
                .table(signal_deliveries::Entity)
                .value(C::Status, DeliveryStatus::Sent.as_str())
                .value(
                    C::TelegramMessageId,
                    SimpleExpr::Case(Box::new(message_ids)),
                )
                .value(C::DeliveredAt, now)
                .value(C::UpdatedAt, now)
                .value(C::LeaseUntil, Option::<DateTime<Utc>>::None)
                .and_where(Expr::col(C::Id).is_in(chunk.iter().map(|(id, _)| *id)))
                .to_owned();
            let result = self.db.execute(&stmt).await?;
            if result.rows_affected() < chunk.len() as u64 {
                let missing = chunk.iter().map(|(id, _)| *id).next().unwrap_or_default();
                return Err(StoreError::UnknownDelivery(missing));
            }
        }
        Ok(())
    }

    /// Telegram accepted the message: the delivery is `sent`.
    pub async fn record_sent(
        &self,
        delivery_id: Uuid,
        telegram_message_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.record_sent_many(&[(delivery_id, telegram_message_id)], now)
            .await
    }

    /// Telegram asked to slow down (429): back to waiting, due at `due`, and the attempt is
    /// given back — pacing is not the delivery's fault, so it does not count toward the
    /// attempt budget.
    ///
    /// This and the other outcomes below return whether they applied: `false` when the
    /// claim no longer holds the delivery (its lease ran out and it was taken back) or the
    /// delivery is already final — then nothing was recorded.
    pub async fn record_throttled(
        &self,
        held: impl Into<ClaimRef>,
        error: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let held = held.into();
        self.transition(
            held,
            &[DeliveryStatus::Sending],
            vec![
                (C::Status, SimpleExpr::Case(Box::new(back_to_waiting()))),
                (C::Attempts, Expr::col(C::Attempts).sub(1)),
                (C::NextAttemptAt, Expr::value(due)),
                (C::LastError, bounded(error)),
                (C::UpdatedAt, Expr::value(now)),
                (C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None)),
            ],
        )
        .await
    }

    /// The attempt surely failed but may be retried: back to waiting, due at `due`, with the
    /// error noted (the attempt counts).
    pub async fn record_retry(
        &self,
        held: impl Into<ClaimRef>,
        error: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.transition(
            held.into(),
            &[DeliveryStatus::Sending],
            vec![
                (C::Status, SimpleExpr::Case(Box::new(back_to_waiting()))),
                (C::NextAttemptAt, Expr::value(due)),
                (C::LastError, bounded(error)),
                (C::UpdatedAt, Expr::value(now)),
                (C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None)),
            ],
        )
        .await
    }

    /// The send's outcome is not known (it timed out: Telegram may have delivered it):
    /// `unknown`, due again at `due`.
    pub async fn record_unknown(
        &self,
        held: impl Into<ClaimRef>,
        error: &str,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.transition(
            held.into(),
            &[DeliveryStatus::Sending],
            vec![
                (C::Status, Expr::value(DeliveryStatus::Unknown.as_str())),
                (C::UnknownSends, Expr::col(C::UnknownSends).add(1)),
                (C::NextAttemptAt, Expr::value(due)),
                (C::LastError, bounded(error)),
                (C::UpdatedAt, Expr::value(now)),
                (C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None)),
            ],
        )
        .await
    }

    /// The delivery ends without being sent: `failed`, `blocked`, `expired` or `skipped` (any
    /// other status is refused). `error`, when given, replaces `last_error`. No effect on a
    /// delivery that is already final.
    pub async fn record_final(
        &self,
        held: impl Into<ClaimRef>,
        status: DeliveryStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !matches!(
            status,
            DeliveryStatus::Failed
                | DeliveryStatus::Blocked
                | DeliveryStatus::Expired
                | DeliveryStatus::Skipped
        ) {
            return Err(StoreError::Invalid(format!(
                "record_final takes failed, blocked, expired or skipped, not {status}"
            )));
        }
        let mut set = vec![
            (C::Status, Expr::value(status.as_str())),
            (C::UpdatedAt, Expr::value(now)),
            (C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None)),
        ];
        if let Some(error) = error {
            set.push((C::LastError, bounded(error)));
        }
        self.transition(held.into(), &OPEN, set).await
    }

    /// Records many claimed deliveries as `expired` (past their signal's deadline) at once.
    pub async fn record_expired_many<H: Into<ClaimRef> + Copy>(
        &self,
        held: &[H],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let held: Vec<ClaimRef> = held.iter().map(|&h| h.into()).collect();
        for chunk in held.chunks(BATCH) {
            signal_deliveries::Entity::update_many()
                .col_expr(C::Status, Expr::value(DeliveryStatus::Expired.as_str()))
                .col_expr(C::LastError, bounded(PAST_DEADLINE))
                .col_expr(C::UpdatedAt, Expr::value(now))
                .col_expr(C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(held_rows(chunk))
                .filter(C::Status.is_in(OPEN.map(|s| s.as_str())))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Expires every waiting delivery of a signal whose deadline has passed (the reconciler,
    /// so that a stale broadcast's backlog leaves the queue at once). Returns how many.
    ///
    /// Each row's own deadline decides: one an operator re-drove with a later deadline
    /// ([`Store::requeue`]) stays in the queue until that deadline.
    pub async fn expire_waiting(
        &self,
        signal_id: SignalId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let result = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Expired.as_str()))
            .col_expr(C::LastError, bounded(PAST_DEADLINE))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::SignalId.eq(signal_id.0))
            .filter(C::Status.is_in(WAITING.map(|s| s.as_str())))
            .filter(
                Cond::any()
                    .add(C::Deadline.is_null())
                    .add(C::Deadline.lte(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Takes back claims whose lease ran out (the replica holding them died or hung): the
    /// send may have reached Telegram, so they become `unknown`, due at `due` — or `failed`
    /// if an earlier send of theirs was already unknown. Returns how many were taken back.
    pub async fn reclaim_abandoned(
        &self,
        now: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let abandoned = || {
            Cond::all()
                .add(Expr::col(C::Status).eq(DeliveryStatus::Sending.as_str()))
                .add(Expr::col(C::LeaseUntil).lt(now))
        };
        let failed = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Failed.as_str()))
            .col_expr(C::UnknownSends, Expr::col(C::UnknownSends).add(1))
            .col_expr(C::LastError, bounded(UNKNOWN_TWICE))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .col_expr(C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(abandoned())
            .filter(C::UnknownSends.gt(0))
            .exec(&self.db)
            .await?;
        let unknown = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Unknown.as_str()))
            .col_expr(C::UnknownSends, Expr::col(C::UnknownSends).add(1))
            .col_expr(C::LastError, bounded(ABANDONED))
            .col_expr(C::NextAttemptAt, Expr::value(due))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .col_expr(C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(abandoned())
            .exec(&self.db)
            .await?;
        Ok(failed.rows_affected + unknown.rows_affected)
    }

    /// Puts a signal's `failed` and/or `expired` deliveries (`statuses`; any other status is
    /// refused with [`StoreError::Invalid`]: see [`REQUEUEABLE`]) back in the queue: `pending`,
    /// due now, with a fresh attempt budget and the deadline `deadline` (`None`: none) — an
    /// operator re-driving them deliberately.
    ///
    /// A delivery one of whose sends ended without an answer from Telegram may have reached
    /// the trader already: it is requeued only with `maybe_delivered`, and otherwise counted
    /// in [`Requeued::held_back`]. Its count of unknown sends is kept, so that a re-drive
    /// that times out again is given up at once rather than sent once more.
    pub async fn requeue(
        &self,
        signal_id: SignalId,
        statuses: &[DeliveryStatus],
        deadline: Option<DateTime<Utc>>,
        maybe_delivered: bool,
        now: DateTime<Utc>,
    ) -> Result<Requeued, StoreError> {
        if let Some(other) = statuses.iter().find(|s| !REQUEUEABLE.contains(s)) {
            return Err(StoreError::Invalid(format!(
                "only failed and expired deliveries can be requeued, not {other}"
            )));
        }
        if statuses.is_empty() {
            return Ok(Requeued::default());
        }
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let mut update = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Pending.as_str()))
            .col_expr(C::Attempts, Expr::value(0))
            .col_expr(C::NextAttemptAt, Expr::value(now))
            .col_expr(C::Deadline, Expr::value(deadline))
            .col_expr(C::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::SignalId.eq(signal_id.0))
            .filter(C::Status.is_in(statuses.iter().copied()));
        if !maybe_delivered {
            update = update.filter(C::UnknownSends.eq(0));
        }
        let requeued = update.exec(&self.db).await?.rows_affected;
        let held_back = if maybe_delivered {
            0
        } else {
            signal_deliveries::Entity::find()
                .filter(C::SignalId.eq(signal_id.0))
                .filter(C::Status.is_in(statuses))
                .filter(C::UnknownSends.gt(0))
                .count(&self.db)
                .await?
        };
        Ok(Requeued {
            requeued,
            held_back,
        })
    }

    /// One conditional `UPDATE` of a delivery that is in one of `from` (and still held by
    /// `held`'s claim, if it names one). Whether it applied.
    async fn transition(
        &self,
        held: ClaimRef,
        from: &[DeliveryStatus],
        set: Vec<(C, SimpleExpr)>,
    ) -> Result<bool, StoreError> {
        let delivery_id = held.id;
        let mut update = signal_deliveries::Entity::update_many();
        for (column, value) in set {
            update = update.col_expr(column, value);
        }
        let result = update
            .filter(held_rows(&[held]))
            .filter(C::Status.is_in(from.iter().map(|s| s.as_str())))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 && self.status_of(delivery_id).await?.is_none() {
            return Err(StoreError::UnknownDelivery(delivery_id));
        }
        Ok(result.rows_affected > 0)
    }

    /// The status of one delivery, if it exists.
    pub async fn status_of(&self, delivery_id: Uuid) -> Result<Option<DeliveryStatus>, StoreError> {
        let status: Option<String> = signal_deliveries::Entity::find_by_id(delivery_id)
            .select_only()
            .column(C::Status)
            .into_tuple()
            .one(&self.db)
            .await?;
        status
            .map(|s| {
                s.parse()
                    .map_err(|e| StoreError::corrupt("signal_deliveries", delivery_id, e))
            })
            .transpose()
    }
}

/// The per-chat order rule of [`Store::claim_deliveries`], on the claim's transaction.
async fn keep_chat_order(
    conn: &impl ConnectionTrait,
    mut claims: Vec<Claim>,
    now: DateTime<Utc>,
    order_wait: TimeDelta,
) -> Result<Vec<Claim>, StoreError> {
    let claimed: HashSet<Uuid> = claims.iter().map(|c| c.delivery_id).collect();
    let chats: Vec<i64> = claims
        .iter()
        .map(|c| c.chat_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    // Every other open job of these chats, oldest first.
    let mut others: HashMap<i64, Vec<OpenDelivery>> = HashMap::new();
    for chunk in chats.chunks(BATCH) {
        let rows: Vec<OpenRow> = signal_deliveries::Entity::find()
            .select_only()
            .columns([C::Id, C::ChatId, C::SignalGeneratedAt, C::Status, C::Job])
            .filter(C::ChatId.is_in(chunk.iter().copied()))
            .filter(C::Status.is_in(OPEN.map(|s| s.as_str())))
            .into_tuple()
            .all(conn)
            .await?;
        for (id, chat, generated, status, job) in rows {
            if claimed.contains(&id) {
                continue;
            }
            let corrupt = |e| StoreError::corrupt("signal_deliveries", id, e);
            let status = status.parse().map_err(corrupt)?;
            let job = job.parse().map_err(corrupt)?;
            others
                .entry(chat)
                .or_default()
                .push((generated, id, status, job));
        }
    }
    // Signals still fanning out, which may yet give these chats an older message: a
    // fan-out records its destinations' jobs before its first page of traders, and traders
    // in user-id order.
    let fanning_out: Vec<(Uuid, DateTime<Utc>, Option<Uuid>)> = signals::Entity::find()
        .select_only()
        .columns([
            signals::Column::Id,
            signals::Column::GeneratedAt,
            signals::Column::FanoutCursor,
        ])
        .filter(signals::Column::FanoutDoneAt.is_null())
        .filter(
            Cond::any()
                .add(signals::Column::Deadline.is_null())
                .add(signals::Column::Deadline.gt(now)),
        )
        .into_tuple()
        .all(conn)
        .await?;
    let mut give_back = Vec::new();
    let mut pull_ahead = Vec::new();
    claims.retain(|c| {
        // A report waits for nothing (it is drawn when it is sent); an edit waits only for
        // the copy it edits (older signal jobs of its chat), and holds up nothing.
        if c.job == JobKind::Report {
            return true;
        }
        let awaited = c.job == JobKind::Signal
            && fanning_out.iter().any(|(signal, generated, cursor)| {
                c.signal_id.is_none_or(|mine| *signal != mine.0)
                    && c.signal_generated_at.is_none_or(|mine| *generated < mine)
                    && match (cursor, c.user_id) {
                        (None, _) => true,
                        (Some(cursor), Some(user)) => *cursor < user,
                        (Some(_), None) => false,
                    }
            });
        if awaited {
            give_back.push((ClaimRef::from(c), 1));
            return false;
        }
        let key = (c.signal_generated_at, c.delivery_id);
        let older: Vec<_> = others
            .get(&c.chat_id)
            .into_iter()
            .flatten()
            .filter(|(generated, id, _, job)| *job == JobKind::Signal && (*generated, *id) < key)
            .collect();
        if older.is_empty() {
            return true;
        }
        // Due again once its turn could have come: a chat with many messages waiting (a
        // group's backlog at 20 a minute) would otherwise fill every claim with rows that
        // can only be given back, and keep other chats' messages out.
        give_back.push((ClaimRef::from(c), older.len().min(MAX_WAIT_TURNS)));
        pull_ahead.extend(
            older
                .into_iter()
                .filter(|(_, _, status, _)| *status != DeliveryStatus::Sending)
                .map(|(_, id, _, _)| *id),
        );
        false
    });
    let mut by_due: BTreeMap<usize, Vec<ClaimRef>> = BTreeMap::new();
    for (claim, turns) in give_back {
        by_due.entry(turns).or_default().push(claim);
    }
    for (turns, claims) in by_due {
        let wait = order_wait * i32::try_from(turns).unwrap_or(i32::MAX);
        release(conn, &claims, now + wait, now).await?;
    }
    for chunk in pull_ahead.chunks(BATCH) {
        signal_deliveries::Entity::update_many()
            .col_expr(C::Priority, Expr::value(PULLED_AHEAD))
            .filter(C::Id.is_in(chunk.iter().copied()))
            .filter(C::Status.is_in(WAITING.map(|s| s.as_str())))
            .exec(conn)
            .await?;
    }
    // Queue order between chats (as claimed), signal order within one chat.
    let rank: HashMap<i64, usize> = claims
        .iter()
        .enumerate()
        .rev()
        .map(|(i, c)| (c.chat_id, i))
        .collect();
    claims.sort_by(|a, b| {
        (rank[&a.chat_id], a.signal_generated_at, a.delivery_id).cmp(&(
            rank[&b.chat_id],
            b.signal_generated_at,
            b.delivery_id,
        ))
    });
    Ok(claims)
}

/// Back to `pending`, or `unknown` if a send of the delivery ended without an answer.
fn back_to_waiting() -> sea_orm::sea_query::CaseStatement {
    Expr::case(
        Expr::col(C::UnknownSends).gt(0),
        DeliveryStatus::Unknown.as_str(),
    )
    .finally(DeliveryStatus::Pending.as_str())
}

/// [`Store::release_claims`] on `conn`.
async fn release(
    conn: &impl ConnectionTrait,
    held: &[ClaimRef],
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in held.chunks(BATCH) {
        let stmt = Query::update()
            .table(signal_deliveries::Entity)
            .value(C::Status, SimpleExpr::Case(Box::new(back_to_waiting())))
            .value(C::Attempts, Expr::col(C::Attempts).sub(1))
            .value(C::LeaseUntil, Option::<DateTime<Utc>>::None)
            .value(C::NextAttemptAt, due)
            .value(C::UpdatedAt, now)
            .cond_where(held_rows(chunk))
            .and_where(Expr::col(C::Status).eq(DeliveryStatus::Sending.as_str()))
            .to_owned();
        conn.execute(&stmt).await?;
    }
    Ok(())
}

/// `last_error` of a delivery not sent by its signal's deadline.
pub const PAST_DEADLINE: &str = "not sent by the signal's deadline";
/// `last_error` of a claim taken back from a replica that stopped.
const ABANDONED: &str = "the dispatcher sending it stopped before recording the outcome; Telegram may have delivered it";
/// `last_error` of a delivery given up after two sends of unknown outcome.
pub const UNKNOWN_TWICE: &str =
    "two sends ended without an answer from Telegram; not sent again to avoid duplicates";

/// The error text, cut to [`MAX_ERROR_CHARS`] characters.
fn bounded(error: &str) -> SimpleExpr {
    let cut: String = error.chars().take(MAX_ERROR_CHARS).collect();
    Expr::value(cut)
}
