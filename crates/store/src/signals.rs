//! Signals: stored once each, as their canonical JSON, with their deadline and how far their
//! fan-out has got.

use chrono::{DateTime, Utc};
use herald_domain::{Signal, SignalId, SignalKind, parse_signal};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::entity::signals::{self, Column as C};
use crate::{Store, StoreError};

/// `received_at, deadline, fanout_cursor, fanout_done_at`.
type FanoutRow = (
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
);

/// Where a stored signal's fan-out stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    /// When Herald received the signal: recipients are chosen as of this instant, however
    /// late (or how often) the fan-out runs.
    pub received_at: DateTime<Utc>,
    /// After this nothing of the signal is sent (`None` for signals stored before deadlines
    /// were kept).
    pub deadline: Option<DateTime<Utc>>,
    /// The last user id deliveries have been recorded up to; the next page starts after it.
    pub cursor: Option<Uuid>,
    /// Every recipient has a delivery row.
    pub done: bool,
}

/// The queue priority of a signal's deliveries: closes and alerts go ahead of buys and sells
/// (0 is kept for a trader's older message pulled ahead of a newer one; see
/// [`Store::claim_deliveries`]).
pub fn priority_of(kind: SignalKind) -> i16 {
    match kind {
        SignalKind::Close | SignalKind::Alert => 1,
        SignalKind::Buy | SignalKind::Sell => 2,
    }
}

impl Store {
    /// Stores a signal with its deadline. Returns `true` if it was new, `false` if a signal
    /// with its id was already stored (the stored one is kept untouched).
    pub async fn insert_signal(
        &self,
        s: &Signal,
        received_at: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        insert_signal(&self.db, s, received_at, deadline).await
    }

    /// The stored signal, rebuilt from its payload by the domain parser.
    pub async fn signal(&self, id: SignalId) -> Result<Option<Signal>, StoreError> {
        Ok(self.signal_received(id).await?.map(|(signal, _)| signal))
    }

    /// [`Store::signal`], with when Herald received it — from the same row, in one read.
    pub async fn signal_received(
        &self,
        id: SignalId,
    ) -> Result<Option<(Signal, DateTime<Utc>)>, StoreError> {
        let Some(row) = signals::Entity::find_by_id(id.0).one(&self.db).await? else {
            return Ok(None);
        };
        let signal = parse_signal(row.payload.as_bytes(), row.received_at)
            .map_err(|e| StoreError::corrupt("signals", id, e))?;
        Ok(Some((signal, row.received_at)))
    }

    /// Keeps the W3C `traceparent` of the signal's fan-out, for its deliveries' spans.
    pub async fn set_signal_trace(
        &self,
        id: SignalId,
        traceparent: &str,
    ) -> Result<(), StoreError> {
        signals::Entity::update_many()
            .col_expr(C::TraceContext, Expr::value(traceparent))
            .filter(C::Id.eq(id.0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The W3C `traceparent` of the signal's fan-out, if traces were on then.
    pub async fn signal_trace(&self, id: SignalId) -> Result<Option<String>, StoreError> {
        let found: Option<Option<String>> = signals::Entity::find_by_id(id.0)
            .select_only()
            .column(C::TraceContext)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(found.flatten())
    }

    /// Whether a signal with this id is stored.
    pub async fn signal_exists(&self, id: SignalId) -> Result<bool, StoreError> {
        Ok(signals::Entity::find_by_id(id.0).count(&self.db).await? > 0)
    }

    /// Where the signal's fan-out stands, if the signal is stored.
    pub async fn fanout(&self, id: SignalId) -> Result<Option<Fanout>, StoreError> {
        let row: Option<FanoutRow> = signals::Entity::find_by_id(id.0)
            .select_only()
            .columns([C::ReceivedAt, C::Deadline, C::FanoutCursor, C::FanoutDoneAt])
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(row.map(|(received_at, deadline, cursor, done_at)| Fanout {
            received_at,
            deadline,
            cursor,
            done: done_at.is_some(),
        }))
    }

    /// Signals received before `before` whose fan-out has not finished, oldest first, each
    /// with its fan-out cursor (`None`: no page recorded yet). The reconciler publishes again
    /// those that make no progress (their worker died and their bus message is gone).
    pub async fn unfinished_fanouts(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<(SignalId, Option<Uuid>)>, StoreError> {
        let rows: Vec<(Uuid, Option<Uuid>)> = signals::Entity::find()
            .select_only()
            .columns([C::Id, C::FanoutCursor])
            .filter(C::FanoutDoneAt.is_null())
            .filter(C::ReceivedAt.lt(before))
            .order_by_asc(C::ReceivedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, cursor)| (SignalId(id), cursor))
            .collect())
    }

    /// Signals whose deadline passed between `since` and `now`: the reconciler expires what
    /// is left of their deliveries.
    pub async fn signals_past_deadline(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SignalId>, StoreError> {
        let ids: Vec<Uuid> = signals::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::Deadline.gte(since))
            .filter(C::Deadline.lt(now))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().map(SignalId).collect())
    }

    /// Moves the fan-out cursor forward (never back: two workers racing on one signal after a
    /// redelivery cannot undo each other's progress) and, with `done`, marks it finished.
    pub(crate) async fn advance_fanout<C2: sea_orm::ConnectionTrait>(
        conn: &C2,
        id: SignalId,
        cursor: Option<Uuid>,
        done: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if let Some(cursor) = cursor {
            signals::Entity::update_many()
                .col_expr(C::FanoutCursor, Expr::value(cursor))
                .filter(C::Id.eq(id.0))
                .filter(
                    sea_orm::Condition::any()
                        .add(C::FanoutCursor.is_null())
                        .add(C::FanoutCursor.lt(cursor)),
                )
                .exec(conn)
                .await?;
        }
        if done {
            signals::Entity::update_many()
                .col_expr(C::FanoutDoneAt, Expr::value(now))
                .filter(C::Id.eq(id.0))
                .filter(C::FanoutDoneAt.is_null())
                .exec(conn)
                .await?;
        }
        Ok(())
    }
}

/// [`Store::insert_signal`] on `db` (a transaction, when the signal goes with more).
pub(crate) async fn insert_signal(
    db: &impl ConnectionTrait,
    s: &Signal,
    received_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let payload = String::from_utf8(s.to_json())
        .map_err(|e| StoreError::Invalid(format!("signal JSON is not UTF-8: {e}")))?;
    let inserted = signals::Entity::insert(signals::ActiveModel {
        id: Set(s.id.0),
        kind: Set(s.kind.as_str().to_string()),
        asset: Set(s.asset.as_str().to_string()),
        confidence: Set(i32::from(s.confidence.get())),
        generated_at: Set(s.generated_at),
        received_at: Set(received_at),
        payload: Set(payload),
        deadline: Set(Some(deadline)),
        fanout_cursor: Set(None),
        fanout_done_at: Set(None),
        source_model: Set(s.source_model.clone()),
        trace_context: sea_orm::ActiveValue::NotSet,
    })
    .on_conflict(OnConflict::column(C::Id).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}
