//! The life of one delivery: starting an attempt and recording its outcome.
//!
//! ```text
//! pending ──begin_attempt──▶ sending ──record_sent──▶ sent
//!    ▲                          │ └────record_final──▶ failed | blocked | expired
//!    └────────record_retry──────┘
//! ```
//!
//! Every step is one conditional `UPDATE`, so replicas racing on the same delivery (a job
//! redelivered after a crash) cannot move a finished delivery backwards: a retry or a final
//! outcome only applies to a delivery still `pending` or `sending`. `record_sent` always
//! applies, because a message Telegram accepted is the truth whatever was recorded before.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::DeliveryStatus;
use sea_orm::sea_query::{Cond, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entity::signal_deliveries::{self, Column as C};
use crate::{Store, StoreError};

/// Deliveries per batched statement (well under SQLite's bind-parameter limit).
const BATCH: usize = 500;

/// Longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// The statuses from which a delivery may still be attempted.
const OPEN: [DeliveryStatus; 2] = [DeliveryStatus::Pending, DeliveryStatus::Sending];

/// What [`Store::begin_attempt`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStart {
    /// The delivery is now `sending`: go ahead and send.
    Proceed {
        /// This attempt's number, starting at 1.
        attempt: u32,
        /// When the delivery was created (to decide whether it is too old to send).
        created_at: DateTime<Utc>,
    },
    /// The delivery is already finished; do not send again.
    AlreadyFinal(DeliveryStatus),
    /// Another attempt holds the delivery (`sending`, touched within the lease): do not send
    /// now; look again once the lease may have run out.
    InProgress,
    /// No such delivery.
    Missing,
}

impl Store {
    /// Starts an attempt: a `pending` or `sending` delivery (the latter: a previous attempt
    /// crashed midway) becomes `sending` with its attempt count raised by one, in one
    /// conditional `UPDATE`.
    pub async fn begin_attempt(
        &self,
        delivery_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<AttemptStart, StoreError> {
        let mut started = self
            .begin_attempts(&[delivery_id], now, TimeDelta::zero())
            .await?;
        Ok(started.pop().unwrap_or(AttemptStart::Missing))
    }

    /// [`Store::begin_attempt`] for many deliveries in one statement (per 500): the answers
    /// come in the order of `delivery_ids`. The dispatcher gathers the attempts its
    /// concurrent sends start into one call, so a fan-out costs a statement per batch rather
    /// than per trader.
    ///
    /// A `sending` delivery is a lease held by the attempt in flight: it is taken over only
    /// once it has not been touched for `lease` (its attempt crashed); until then the answer
    /// is [`AttemptStart::InProgress`], so two copies of one job never both send.
    pub async fn begin_attempts(
        &self,
        delivery_ids: &[Uuid],
        now: DateTime<Utc>,
        lease: TimeDelta,
    ) -> Result<Vec<AttemptStart>, StoreError> {
        let abandoned = now - lease;
        let mut started = std::collections::HashMap::with_capacity(delivery_ids.len());
        for chunk in delivery_ids.chunks(BATCH) {
            let stmt = Query::update()
                .table(signal_deliveries::Entity)
                .value(C::Status, DeliveryStatus::Sending.as_str())
                .value(C::Attempts, Expr::col(C::Attempts).add(1))
                .value(C::UpdatedAt, now)
                .and_where(Expr::col(C::Id).is_in(chunk.iter().copied()))
                .cond_where(
                    Cond::any()
                        .add(Expr::col(C::Status).eq(DeliveryStatus::Pending.as_str()))
                        .add(
                            Cond::all()
                                .add(Expr::col(C::Status).eq(DeliveryStatus::Sending.as_str()))
                                .add(Expr::col(C::UpdatedAt).lte(abandoned)),
                        ),
                )
                .returning(Query::returning().columns([C::Id, C::Attempts, C::CreatedAt]))
                .to_owned();
            for row in self.db.query_all(&stmt).await? {
                let id: Uuid = row.try_get("", "id")?;
                let attempts: i32 = row.try_get("", "attempts")?;
                let attempt = u32::try_from(attempts)
                    .map_err(|_| StoreError::corrupt("signal_deliveries", id, "attempts < 0"))?;
                let created_at = row.try_get("", "created_at")?;
                started.insert(
                    id,
                    AttemptStart::Proceed {
                        attempt,
                        created_at,
                    },
                );
            }
        }
        let mut answers = Vec::with_capacity(delivery_ids.len());
        for id in delivery_ids {
            answers.push(match started.get(id) {
                Some(start) => *start,
                // Rare: a finished (or unknown) delivery's job came back.
                None => match self.status_of(*id).await? {
                    Some(DeliveryStatus::Sending) => AttemptStart::InProgress,
                    // Pending again: another attempt closed between the UPDATE and this look.
                    Some(DeliveryStatus::Pending) => AttemptStart::InProgress,
                    Some(status) => AttemptStart::AlreadyFinal(status),
                    None => AttemptStart::Missing,
                },
            });
        }
        Ok(answers)
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
        let result = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Sent.as_str()))
            .col_expr(C::TelegramMessageId, Expr::value(telegram_message_id))
            .col_expr(C::DeliveredAt, Expr::value(now))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(delivery_id))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::UnknownDelivery(delivery_id));
        }
        Ok(())
    }

    /// Renews the lease of an attempt still in flight (a slow send), so that no other copy of
    /// its job takes the delivery over meanwhile.
    pub async fn touch_attempt(
        &self,
        delivery_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        signal_deliveries::Entity::update_many()
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(delivery_id))
            .filter(C::Status.eq(DeliveryStatus::Sending.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Telegram asked to slow down (429): back to `pending`, and the attempt is given back —
    /// pacing is not the delivery's fault, so it does not count toward the attempt budget.
    pub async fn record_throttled(
        &self,
        delivery_id: Uuid,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(DeliveryStatus::Pending.as_str()))
            .col_expr(C::Attempts, Expr::col(C::Attempts).sub(1))
            .col_expr(C::LastError, bounded(error))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(delivery_id))
            .filter(C::Status.eq(DeliveryStatus::Sending.as_str()))
            .filter(C::Attempts.gt(0))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 && self.status_of(delivery_id).await?.is_none() {
            return Err(StoreError::UnknownDelivery(delivery_id));
        }
        Ok(())
    }

    /// The attempt failed but may be retried: back to `pending` with the error noted (the
    /// attempt count stays). No effect on a delivery that is already final.
    pub async fn record_retry(
        &self,
        delivery_id: Uuid,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.close_attempt(delivery_id, DeliveryStatus::Pending, Some(error), now)
            .await
    }

    /// The delivery ends without being sent: `failed`, `blocked` or `expired` (any other
    /// status is refused). `error`, when given, replaces `last_error`. No effect on a
    /// delivery that is already final.
    pub async fn record_final(
        &self,
        delivery_id: Uuid,
        status: DeliveryStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !matches!(
            status,
            DeliveryStatus::Failed | DeliveryStatus::Blocked | DeliveryStatus::Expired
        ) {
            return Err(StoreError::Invalid(format!(
                "record_final takes failed, blocked or expired, not {status}"
            )));
        }
        self.close_attempt(delivery_id, status, error, now).await
    }

    async fn close_attempt(
        &self,
        delivery_id: Uuid,
        status: DeliveryStatus,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut update = signal_deliveries::Entity::update_many()
            .col_expr(C::Status, Expr::value(status.as_str()))
            .col_expr(C::UpdatedAt, Expr::value(now));
        if let Some(error) = error {
            update = update.col_expr(C::LastError, bounded(error));
        }
        let result = update
            .filter(C::Id.eq(delivery_id))
            .filter(C::Status.is_in(OPEN.map(|s| s.as_str())))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 && self.status_of(delivery_id).await?.is_none() {
            return Err(StoreError::UnknownDelivery(delivery_id));
        }
        Ok(())
    }

    async fn status_of(&self, delivery_id: Uuid) -> Result<Option<DeliveryStatus>, StoreError> {
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

/// The error text, cut to [`MAX_ERROR_CHARS`] characters.
fn bounded(error: &str) -> SimpleExpr {
    let cut: String = error.chars().take(MAX_ERROR_CHARS).collect();
    Expr::value(cut)
}
