//! The admin API's view of signals and deliveries: recent signals, one signal's deliveries,
//! and the statistics of a time window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryStatus, JobKind, Signal, SignalId, parse_signal};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;

use crate::entity::{audit_log, signal_deliveries, signals, user_subscriptions, users};
use crate::{Delivery, DeliveryCounts, SIGNALS_SUBSCRIPTION, Store, StoreError};

/// A signal as stored, with what Herald did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignal {
    /// The signal.
    pub signal: Signal,
    /// When Herald received it.
    pub received_at: DateTime<Utc>,
    /// After this it is never sent.
    pub deadline: Option<DateTime<Utc>>,
    /// When its fan-out finished (every recipient has a delivery), if it has.
    pub fanout_done_at: Option<DateTime<Utc>>,
}

/// Where a page of signals starts: after this signal (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalCursor {
    /// The last signal's receipt time.
    pub received_at: DateTime<Utc>,
    /// The last signal's id.
    pub id: Uuid,
}

/// The statistics of a time window: `from` ≤ received < `to` for signals and what they
/// caused; the users as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Registered users.
    pub users_total: u64,
    /// Users who have not blocked the bot.
    pub users_active: u64,
    /// Users with a current signals subscription.
    pub users_subscribed: u64,
    /// Users who registered in the window.
    pub users_new: u64,
    /// Signals received in the window, by kind (`buy`, …).
    pub signals_by_kind: BTreeMap<String, u64>,
    /// The deliveries of those signals, by status.
    pub deliveries: DeliveryCounts,
    /// Of those signals' deliveries that ended (sent, failed, blocked, expired), the share
    /// sent; `None` when none ended. Skipped ones (the trader's choice) are left out.
    pub success_rate: Option<f64>,
    /// Signal received → Telegram accepted, over the sent deliveries: the median.
    pub latency_p50_ms: Option<f64>,
    /// The same, 95th percentile.
    pub latency_p95_ms: Option<f64>,
    /// Sent deliveries that needed more than one attempt.
    pub retried: u64,
    /// Authentication failures in the window (refused tokens and keys, failed logins), each
    /// coalesced refusal counted as often as it happened.
    pub auth_failures: u64,
}

impl TryFrom<signals::Model> for StoredSignal {
    type Error = StoreError;

    fn try_from(m: signals::Model) -> Result<Self, StoreError> {
        let signal = parse_signal(m.payload.as_bytes(), m.received_at)
            .map_err(|e| StoreError::corrupt("signals", m.id, e))?;
        Ok(Self {
            signal,
            received_at: m.received_at,
            deadline: m.deadline,
            fanout_done_at: m.fanout_done_at,
        })
    }
}

impl Store {
    /// Signals newest first, `limit` at most, after `cursor` (the last of the previous page).
    pub async fn signals_page(
        &self,
        cursor: Option<SignalCursor>,
        limit: u64,
    ) -> Result<Vec<StoredSignal>, StoreError> {
        use signals::Column as C;
        let mut query = signals::Entity::find();
        if let Some(c) = cursor {
            query = query.filter(
                Condition::any().add(C::ReceivedAt.lt(c.received_at)).add(
                    Condition::all()
                        .add(C::ReceivedAt.eq(c.received_at))
                        .add(C::Id.lt(c.id)),
                ),
            );
        }
        query
            .order_by_desc(C::ReceivedAt)
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredSignal::try_from)
            .collect()
    }

    /// One stored signal with its receipt facts.
    pub async fn stored_signal(&self, id: SignalId) -> Result<Option<StoredSignal>, StoreError> {
        signals::Entity::find_by_id(id.0)
            .one(&self.db)
            .await?
            .map(StoredSignal::try_from)
            .transpose()
    }

    /// One signal's deliveries in creation order (ids are UUID v7), `limit` at most, after
    /// the delivery `after`; only those in `status` when given.
    pub async fn deliveries_page(
        &self,
        signal_id: SignalId,
        status: Option<DeliveryStatus>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        use signal_deliveries::Column as C;
        let mut query = signal_deliveries::Entity::find().filter(C::SignalId.eq(signal_id.0));
        if let Some(status) = status {
            query = query.filter(C::Status.eq(status.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(C::Id.gt(after));
        }
        query
            .order_by_asc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Delivery::try_from)
            .collect()
    }

    /// The statistics of `[from, to)` (see [`Stats`]).
    pub async fn stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Stats, StoreError> {
        let users_total = users::Entity::find().count(&self.db).await?;
        let users_active = users::Entity::find()
            .filter(users::Column::IsActive.eq(true))
            .count(&self.db)
            .await?;
        let users_new = users::Entity::find()
            .filter(users::Column::CreatedAt.gte(from))
            .filter(users::Column::CreatedAt.lt(to))
            .count(&self.db)
            .await?;
        let users_subscribed = {
            use user_subscriptions::Column as S;
            user_subscriptions::Entity::find()
                .filter(S::SubscriptionType.eq(SIGNALS_SUBSCRIPTION))
                .filter(S::IsActive.eq(true))
                .filter(
                    Condition::any()
                        .add(S::ExpiresAt.is_null())
                        .add(S::ExpiresAt.gt(now)),
                )
                .count(&self.db)
                .await?
        };
        let by_kind: Vec<(String, i64)> = signals::Entity::find()
            .select_only()
            .column(signals::Column::Kind)
            .column_as(signals::Column::Id.count(), "n")
            .filter(signals::Column::ReceivedAt.gte(from))
            .filter(signals::Column::ReceivedAt.lt(to))
            .group_by(signals::Column::Kind)
            .into_tuple()
            .all(&self.db)
            .await?;
        let signals_by_kind = by_kind
            .into_iter()
            .map(|(kind, n)| (kind, u64::try_from(n).unwrap_or(0)))
            .collect();

        // The window's signals, for the deliveries they caused.
        let in_window = || {
            Query::select()
                .column(signals::Column::Id)
                .from(signals::Entity)
                .and_where(Expr::col(signals::Column::ReceivedAt).gte(from))
                .and_where(Expr::col(signals::Column::ReceivedAt).lt(to))
                .to_owned()
        };
        let deliveries = {
            use signal_deliveries::Column as D;
            let rows: Vec<(String, i64)> = signal_deliveries::Entity::find()
                .select_only()
                .column(D::Status)
                .column_as(D::Id.count(), "n")
                .filter(D::SignalId.in_subquery(in_window()))
                .filter(D::Job.eq(JobKind::Signal.as_str()))
                .group_by(D::Status)
                .into_tuple()
                .all(&self.db)
                .await?;
            DeliveryCounts::from_rows(rows)?
        };
        let retried = signal_deliveries::Entity::find()
            .filter(signal_deliveries::Column::SignalId.in_subquery(in_window()))
            .filter(signal_deliveries::Column::Job.eq(JobKind::Signal.as_str()))
            .filter(signal_deliveries::Column::Status.eq(DeliveryStatus::Sent.as_str()))
            .filter(signal_deliveries::Column::Attempts.gt(1))
            .count(&self.db)
            .await?;
        let ended = deliveries.sent + deliveries.failed + deliveries.blocked + deliveries.expired;
        let success_rate = (ended > 0).then(|| deliveries.sent as f64 / ended as f64);
        // The ranks count what the latency query reads: sent with a delivery time.
        let timed = signal_deliveries::Entity::find()
            .filter(signal_deliveries::Column::SignalId.in_subquery(in_window()))
            .filter(signal_deliveries::Column::Job.eq(JobKind::Signal.as_str()))
            .filter(signal_deliveries::Column::Status.eq(DeliveryStatus::Sent.as_str()))
            .filter(signal_deliveries::Column::DeliveredAt.is_not_null())
            .count(&self.db)
            .await?;
        let (latency_p50_ms, latency_p95_ms) = if timed == 0 {
            (None, None)
        } else {
            (
                self.latency_at_rank(from, to, rank(timed, 0.50)).await?,
                self.latency_at_rank(from, to, rank(timed, 0.95)).await?,
            )
        };
        let auth_failures: Option<i64> = audit_log::Entity::find()
            .select_only()
            // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back.
            .column_as(
                Expr::expr(Func::cast_as(
                    Func::sum(Expr::col(audit_log::Column::Occurrences)),
                    Alias::new("BIGINT"),
                )),
                "n",
            )
            .filter(audit_log::Column::Action.is_in(AUTH_FAILURES))
            .filter(audit_log::Column::At.gte(from))
            .filter(audit_log::Column::At.lt(to))
            .into_tuple()
            .one(&self.db)
            .await?
            .flatten();
        let auth_failures = auth_failures.map_or(0, |n| u64::try_from(n).unwrap_or(0));
        Ok(Stats {
            users_total,
            users_active,
            users_subscribed,
            users_new,
            signals_by_kind,
            deliveries,
            success_rate,
            latency_p50_ms,
            latency_p95_ms,
            retried,
            auth_failures,
        })
    }

    /// The `rank`-th smallest (from 0) signal-received → sent latency of the window, in
    /// milliseconds. The database sorts; nothing but one number comes back, however many
    /// deliveries the window holds.
    async fn latency_at_rank(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        rank: u64,
    ) -> Result<Option<f64>, StoreError> {
        let backend = self.db.get_database_backend();
        let (latency, p) = match backend {
            DbBackend::Postgres => (
                "EXTRACT(EPOCH FROM (d.delivered_at - s.received_at)) * 1000.0",
                ["$1", "$2", "$3", "$4"],
            ),
            _ => (
                "(julianday(d.delivered_at) - julianday(s.received_at)) * 86400000.0",
                ["?", "?", "?", "?"],
            ),
        };
        let sql = format!(
            "SELECT CAST({latency} AS DOUBLE PRECISION) AS ms FROM signal_deliveries d \
             JOIN signals s ON s.id = d.signal_id \
             WHERE d.status = {} AND s.received_at >= {} AND s.received_at < {} \
             AND d.delivered_at IS NOT NULL AND d.job = 'signal' \
             ORDER BY ms LIMIT 1 OFFSET {}",
            p[0], p[1], p[2], p[3]
        );
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [
                DeliveryStatus::Sent.as_str().into(),
                from.into(),
                to.into(),
                i64::try_from(rank).unwrap_or(i64::MAX).into(),
            ],
        );
        match self.db.query_one_raw(stmt).await? {
            Some(row) => Ok(row.try_get::<Option<f64>>("", "ms")?),
            None => Ok(None),
        }
    }
}

/// The audit actions that are authentication failures: refused tokens and keys, and failed
/// admin logins.
pub const AUTH_FAILURES: [&str; 3] = [
    "auth.failed",
    "auth.login_failed",
    "auth.second_factor_failed",
];

/// The nearest-rank position (from 0) of quantile `q` among `n` values.
fn rank(n: u64, q: f64) -> u64 {
    ((q * n as f64).ceil() as u64).clamp(1, n) - 1
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank() {
        assert_eq!(super::rank(1, 0.5), 0);
        assert_eq!(super::rank(1, 0.95), 0);
        assert_eq!(super::rank(10, 0.5), 4);
        assert_eq!(super::rank(10, 0.95), 9);
        assert_eq!(super::rank(100, 0.95), 94);
    }
}
