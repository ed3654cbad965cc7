//! What the operators' gauges read from the database: the open deliveries by job with the
//! oldest one's age ([`Store::open_deliveries`]), the traders signals go to
//! ([`Store::active_traders`]), and the connection pool's use ([`Store::pool_use`], set as
//! `herald_db_pool_*` by [`record_pool`]).

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryStatus, JobKind};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::entity::{signal_deliveries, user_subscriptions, users};
use crate::queue::OPEN;
use crate::subscriptions::SIGNALS_SUBSCRIPTION;
use crate::{Store, StoreError};

/// The open deliveries of one kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenJobs {
    /// What they send.
    pub job: JobKind,
    /// How many are queued and not final (`pending`, `sending`, `unknown`).
    pub count: u64,
    /// When the oldest of them was queued.
    pub oldest: Option<DateTime<Utc>>,
}

/// The pool's connections as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Open and idle.
    pub idle: u32,
    /// Open and lent out.
    pub in_use: u32,
    /// The most it opens.
    pub max: u32,
}

impl Store {
    /// The open deliveries (`pending`, `sending`, `unknown`) of each kind of job that has
    /// any, with when the oldest was queued. One grouped statement whose condition is the
    /// one of the partial index of open rows (`ix_signal_deliveries_open_by_chat`), so that it
    /// reads the backlog only, never the history of sent deliveries.
    pub async fn open_deliveries(&self) -> Result<Vec<OpenJobs>, StoreError> {
        use signal_deliveries::Column as C;
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = signal_deliveries::Entity::find()
            .select_only()
            .column(C::Job)
            .column_as(C::Id.count(), "n")
            .column_as(Expr::col(C::CreatedAt).min(), "oldest")
            .filter(C::Status.is_in(OPEN.map(DeliveryStatus::as_str)))
            .group_by(C::Job)
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(job, count, oldest)| {
                Ok(OpenJobs {
                    job: job.parse().map_err(|e| {
                        StoreError::corrupt("signal_deliveries", format!("job {job:?}"), e)
                    })?,
                    count: u64::try_from(count).unwrap_or(0),
                    oldest,
                })
            })
            .collect()
    }

    /// Traders signals go to at `now`: a current signals subscription, and the bot not
    /// blocked (`herald_active_users`).
    pub async fn active_traders(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        use user_subscriptions::Column as S;
        let subscribed = Query::select()
            .column(S::UserId)
            .from(user_subscriptions::Entity)
            .and_where(Expr::col(S::SubscriptionType).eq(SIGNALS_SUBSCRIPTION))
            .and_where(Expr::col(S::IsActive).eq(true))
            .cond_where(
                Cond::any()
                    .add(Expr::col(S::ExpiresAt).is_null())
                    .add(Expr::col(S::ExpiresAt).gt(now)),
            )
            .to_owned();
        Ok(users::Entity::find()
            .filter(users::Column::IsActive.eq(true))
            .filter(users::Column::Id.in_subquery(subscribed))
            .count(&self.db)
            .await?)
    }

    /// The connection pool's use right now (no query).
    pub fn pool_use(&self) -> PoolUse {
        let (size, idle, max) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => (0, 0, 0),
        };
        let idle = Ord::min(u32::try_from(idle).unwrap_or(u32::MAX), size);
        PoolUse {
            idle,
            in_use: size - idle,
            max,
        }
    }
}

const POOL_CONNECTIONS: &str = "herald_db_pool_connections";
const POOL_MAX: &str = "herald_db_pool_max_connections";

/// Sets `herald_db_pool_connections{service, state}` (`idle`, `in_use`) and
/// `herald_db_pool_max_connections{service}` from `store`'s pool. Every service that beats
/// ([`crate::heartbeats::spawn`]) does it on every beat.
pub fn record_pool(store: &Store, service: &'static str) {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    DESCRIBED.call_once(|| {
        metrics::describe_gauge!(
            POOL_CONNECTIONS,
            "Open database connections of a service's pool, idle or in use"
        );
        metrics::describe_gauge!(
            POOL_MAX,
            "The most connections a service's database pool opens"
        );
    });
    let pool = store.pool_use();
    metrics::gauge!(POOL_CONNECTIONS, "service" => service, "state" => "idle")
        .set(f64::from(pool.idle));
    metrics::gauge!(POOL_CONNECTIONS, "service" => service, "state" => "in_use")
        .set(f64::from(pool.in_use));
    metrics::gauge!(POOL_MAX, "service" => service).set(f64::from(pool.max));
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait as _;

    #[test]
    fn the_open_rows_are_read_with_the_partial_index_condition() {
        use signal_deliveries::Column as C;
        let sql = signal_deliveries::Entity::find()
            .select_only()
            .column(C::Job)
            .filter(C::Status.is_in(OPEN.map(DeliveryStatus::as_str)))
            .build(DbBackend::Sqlite)
            .to_string();
        // The index's own condition, word for word (SQLite uses a partial index only then).
        assert!(
            sql.contains(r#""status" IN ('pending', 'sending', 'unknown')"#),
            "{sql}"
        );
    }
}
