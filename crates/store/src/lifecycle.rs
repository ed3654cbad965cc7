//! How positions end: a close and the outcome it records are stored together, each copy of
//! the position's signal gets an `outcome` job (the edit that shows how it ended), and a
//! close finds the trader's copy it replies to.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{
    CloseReason, DeliveryStatus, JobKind, Position, PositionOutcome, Signal, SignalId, SignalKind,
};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Cond, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::deliveries::{DELIVERY_BATCH_ROWS, QueuedSignal};
use crate::entity::signal_deliveries::{self, Column as D};
use crate::entity::signal_outcomes::{self, Column as O};
use crate::entity::{destinations, signals};
use crate::queue::BEHIND_SIGNALS;
use crate::{Store, StoreError};

/// How long after a close its edits may still go out: Telegram lets a bot edit its messages
/// for 48 hours in groups; past that, an edit is not worth its place in the queue.
pub const EDIT_WINDOW: TimeDelta = TimeDelta::hours(48);

/// What storing a close did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseStored {
    /// The close and its outcome are stored (now, or by an earlier run of the same close).
    Stored {
        /// The close was not stored before (this run stored it).
        new: bool,
    },
    /// Another close ended the position first: nothing was stored.
    AlreadyClosed {
        /// That close.
        by: SignalId,
    },
}

/// A copy of a position's signal that a trader (or a destination) got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    /// The delivery that sent it.
    pub delivery_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Telegram's id of the message, once sent.
    pub message_id: Option<i64>,
}

impl Store {
    /// The position `id` names, as [`herald_domain::judge_close`] needs it: the stored
    /// signal and the close already recorded for it.
    pub async fn position(&self, id: SignalId) -> Result<Position, StoreError> {
        let Some(signal) = self.signal(id).await? else {
            return Ok(Position::Unknown);
        };
        let closed_by: Option<Uuid> = signal_outcomes::Entity::find_by_id(id.0)
            .select_only()
            .column(O::CloseSignalId)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(Position::Known {
            signal: Box::new(signal),
            closed_by: closed_by.map(SignalId),
        })
    }

    /// Stores a close and the outcome it records, in one transaction: both or neither. A
    /// close stored before (a redelivery) is [`CloseStored::Stored`] again; a position
    /// another close ended first refuses this one, storing nothing.
    pub async fn insert_close(
        &self,
        close: &Signal,
        received_at: DateTime<Utc>,
        deadline: DateTime<Utc>,
        outcome: &PositionOutcome,
        now: DateTime<Utc>,
    ) -> Result<CloseStored, StoreError> {
        let txn = self.db.begin().await?;
        let new = crate::signals::insert_signal(&txn, close, received_at, deadline).await?;
        let text = |d: Option<Decimal>| d.map(|d| d.normalize().to_string());
        let inserted = signal_outcomes::Entity::insert(signal_outcomes::ActiveModel {
            signal_id: Set(outcome.signal_id.0),
            close_signal_id: Set(outcome.close_signal_id.0),
            kind: Set(outcome.kind.as_str().to_string()),
            asset: Set(outcome.asset.clone()),
            source_model: Set(outcome.source_model.clone()),
            entry_price: Set(text(outcome.entry_price)),
            exit_price: Set(text(outcome.exit_price)),
            return_pct: Set(text(outcome.return_pct)),
            reason: Set(outcome.reason.map(|r| r.as_str().to_string())),
            opened_at: Set(outcome.opened_at),
            closed_at: Set(outcome.closed_at),
            recorded_at: Set(now),
        })
        // Either key may conflict: the position already ended, or this close already ended
        // a position.
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            let by: Option<Uuid> = signal_outcomes::Entity::find_by_id(outcome.signal_id.0)
                .select_only()
                .column(O::CloseSignalId)
                .into_tuple()
                .one(&txn)
                .await?;
            match by {
                Some(by) if by == close.id.0 => {}
                Some(by) => {
                    txn.rollback().await?;
                    return Ok(CloseStored::AlreadyClosed { by: SignalId(by) });
                }
                // This close's id already ended another position (an id re-sent with another
                // body): what was stored stands.
                None => {
                    txn.rollback().await?;
                    return Ok(CloseStored::Stored { new: false });
                }
            }
        }
        txn.commit().await?;
        Ok(CloseStored::Stored { new })
    }

    /// The outcome a close recorded, if any.
    pub async fn outcome_of_close(
        &self,
        close: SignalId,
    ) -> Result<Option<PositionOutcome>, StoreError> {
        signal_outcomes::Entity::find()
            .filter(O::CloseSignalId.eq(close.0))
            .one(&self.db)
            .await?
            .map(outcome_from_row)
            .transpose()
    }

    /// Queues the edit of every copy of `position` (the signal whose position `close` ended)
    /// that was sent or may still be, to a trader or an active destination: one `outcome`
    /// job each, ordered after the copy in its chat, behind every signal in the queue
    /// ([`BEHIND_SIGNALS`]). A trader whose tier delays signals gets the edit that much
    /// later too (the delay their copy had), so the outcome never reaches them before the
    /// close does. Re-running it records nothing twice. Returns how many jobs were recorded.
    pub async fn record_outcome_edits(
        &self,
        close: &QueuedSignal,
        position: SignalId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let copies = [
            DeliveryStatus::Sent,
            DeliveryStatus::Pending,
            DeliveryStatus::Sending,
            DeliveryStatus::Unknown,
        ];
        // A copy's deadline is the position's moved by the trader's tier delay.
        let position_deadline: Option<Option<DateTime<Utc>>> =
            signals::Entity::find_by_id(position.0)
                .select_only()
                .column(signals::Column::Deadline)
                .into_tuple()
                .one(&self.db)
                .await?;
        let position_deadline = position_deadline.flatten();
        let active = Query::select()
            .column(destinations::Column::Id)
            .from(destinations::Entity)
            .and_where(Expr::col(destinations::Column::IsActive).eq(true))
            .and_where(Expr::col(destinations::Column::RemovedAt).is_null())
            .to_owned();
        let mut after: Option<Uuid> = None;
        let mut recorded = 0;
        loop {
            let mut page = signal_deliveries::Entity::find()
                .filter(D::SignalId.eq(position.0))
                .filter(D::Job.eq(JobKind::Signal.as_str()))
                .filter(D::Status.is_in(copies.map(|s| s.as_str())))
                .filter(
                    Cond::any()
                        .add(D::DestinationId.is_null())
                        .add(D::DestinationId.in_subquery(active.clone())),
                )
                .order_by_asc(D::Id)
                .limit(DELIVERY_BATCH_ROWS as u64);
            if let Some(after) = after {
                page = page.filter(D::Id.gt(after));
            }
            let rows = page.all(&self.db).await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                return Ok(recorded);
            };
            let full = rows.len() == DELIVERY_BATCH_ROWS;
            let jobs = rows.into_iter().map(|copy| {
                let delay = copy
                    .deadline
                    .zip(position_deadline)
                    .map(|(copy, position)| copy - position)
                    .filter(|delay| *delay > TimeDelta::zero())
                    .unwrap_or_default();
                let due = now + delay;
                signal_deliveries::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    job: Set(JobKind::Outcome.as_str().to_string()),
                    signal_id: Set(Some(close.id.0)),
                    user_id: Set(copy.user_id),
                    destination_id: Set(copy.destination_id),
                    chat_id: Set(copy.chat_id),
                    thread_id: Set(copy.thread_id),
                    format: Set(copy.format),
                    language: Set(copy.language),
                    status: Set(DeliveryStatus::Pending.as_str().to_string()),
                    attempts: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    priority: Set(BEHIND_SIGNALS),
                    signal_generated_at: Set(Some(close.generated_at)),
                    deadline: Set(Some(due + EDIT_WINDOW)),
                    next_attempt_at: Set(Some(due)),
                    unknown_sends: Set(0),
                    // Edits make no sound, and may come at any hour.
                    silent: Set(true),
                    hours: Set(None),
                    ..Default::default()
                }
            });
            recorded += insert_jobs(&self.db, jobs).await?;
            if !full {
                return Ok(recorded);
            }
            after = Some(last);
        }
    }

    /// The copy of `position` sent to a trader (`user_id`) or a destination
    /// (`destination_id`), if they were meant to get one.
    pub async fn copy_of(
        &self,
        position: SignalId,
        user_id: Option<Uuid>,
        destination_id: Option<Uuid>,
    ) -> Result<Option<Copy>, StoreError> {
        let mut query = signal_deliveries::Entity::find()
            .select_only()
            .columns([D::Id, D::Status, D::TelegramMessageId])
            .filter(D::SignalId.eq(position.0))
            .filter(D::Job.eq(JobKind::Signal.as_str()));
        query = match (user_id, destination_id) {
            (Some(user), _) => query.filter(D::UserId.eq(user)),
            (None, Some(destination)) => query.filter(D::DestinationId.eq(destination)),
            (None, None) => return Ok(None),
        };
        let row: Option<(Uuid, String, Option<i64>)> = query.into_tuple().one(&self.db).await?;
        row.map(|(delivery_id, status, message_id)| {
            Ok(Copy {
                delivery_id,
                status: status
                    .parse()
                    .map_err(|e| StoreError::corrupt("signal_deliveries", delivery_id, e))?,
                message_id,
            })
        })
        .transpose()
    }
}

/// Inserts queue jobs, skipping any already recorded (by the unique keys of
/// `signal_deliveries`). Returns how many were inserted.
pub(crate) async fn insert_jobs(
    db: &impl ConnectionTrait,
    jobs: impl IntoIterator<Item = signal_deliveries::ActiveModel>,
) -> Result<u64, StoreError> {
    let jobs: Vec<_> = jobs.into_iter().collect();
    let mut inserted = 0;
    for chunk in jobs.chunks(DELIVERY_BATCH_ROWS) {
        if chunk.is_empty() {
            continue;
        }
        // Each job is unique by one of three keys; a conflict on any of them skips the row.
        inserted += signal_deliveries::Entity::insert_many(chunk.to_vec())
            .on_conflict(OnConflict::new().do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(inserted)
}

fn outcome_from_row(m: signal_outcomes::Model) -> Result<PositionOutcome, StoreError> {
    let corrupt = |why: String| StoreError::corrupt("signal_outcomes", m.signal_id, why);
    let decimal = |v: &Option<String>, column: &str| {
        v.as_deref()
            .map(str::parse::<Decimal>)
            .transpose()
            .map_err(|e| corrupt(format!("{column}: {e}")))
    };
    Ok(PositionOutcome {
        signal_id: SignalId(m.signal_id),
        close_signal_id: SignalId(m.close_signal_id),
        kind: m.kind.parse::<SignalKind>().map_err(corrupt)?,
        asset: m.asset.clone(),
        source_model: m.source_model.clone(),
        entry_price: decimal(&m.entry_price, "entry_price")?,
        exit_price: decimal(&m.exit_price, "exit_price")?,
        return_pct: decimal(&m.return_pct, "return_pct")?,
        reason: m
            .reason
            .as_deref()
            .map(str::parse::<CloseReason>)
            .transpose()
            .map_err(corrupt)?,
        opened_at: m.opened_at,
        closed_at: m.closed_at,
    })
}
