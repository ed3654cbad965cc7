//! What traders read from chat: the signals their tier lets them see, how the system is
//! doing, and the "read" button on each signal.

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryStatus, Signal, Tier, parse_signal};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entity::{signal_deliveries, signals};
use crate::{Store, StoreError};

/// What a press of a signal's "read" button did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMark {
    /// `read_at` is now set.
    Marked,
    /// It was already read; nothing changed.
    AlreadyRead,
    /// No such delivery for this trader (an old, forged or someone else's button).
    NotFound,
}

/// The most signals `/signals` shows.
pub const MAX_RECENT_SIGNALS: u64 = 20;

impl Store {
    /// The newest `count` signals (at most [`MAX_RECENT_SIGNALS`]) that `tier` carries and
    /// that its traders could have received by `now` (the tier's delay has passed), newest
    /// first.
    pub async fn recent_signals(
        &self,
        tier: &Tier,
        count: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Signal>, StoreError> {
        use signals::Column as C;
        let mut query = signals::Entity::find()
            .select_only()
            .columns([C::Id, C::Payload, C::ReceivedAt])
            .filter(C::ReceivedAt.lte(now - tier.delay))
            .filter(C::Kind.is_in(tier.kinds.iter().map(|k| k.as_str())))
            .filter(C::Confidence.gte(i32::from(tier.min_confidence)));
        if !tier.assets.is_empty() {
            query = query.filter(C::Asset.is_in(tier.assets.iter().map(|a| a.as_str())));
        }
        let rows: Vec<(Uuid, String, DateTime<Utc>)> = query
            .order_by_desc(C::ReceivedAt)
            .order_by_desc(C::Id)
            .limit(count.min(MAX_RECENT_SIGNALS))
            .into_tuple()
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|(id, payload, received_at)| {
                parse_signal(payload.as_bytes(), received_at)
                    .map_err(|e| StoreError::corrupt("signals", id, e))
            })
            .collect()
    }

    /// When the newest signal arrived, if any has.
    pub async fn last_signal_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        use signals::Column as C;
        Ok(signals::Entity::find()
            .select_only()
            .column(C::ReceivedAt)
            .order_by_desc(C::ReceivedAt)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await?)
    }

    /// Deliveries waiting to be sent (`pending` or `unknown`), counted through the queue's
    /// partial index.
    pub async fn waiting_deliveries(&self) -> Result<u64, StoreError> {
        use signal_deliveries::Column as C;
        Ok(signal_deliveries::Entity::find()
            .filter(C::Status.is_in([
                DeliveryStatus::Pending.as_str(),
                DeliveryStatus::Unknown.as_str(),
            ]))
            .count(&self.db)
            .await?)
    }

    /// Records that `user_id` read delivery `delivery_id` at `now` (the signal's "read"
    /// button). Only the trader the delivery was for can mark it.
    pub async fn mark_read(
        &self,
        delivery_id: Uuid,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ReadMark, StoreError> {
        use signal_deliveries::Column as C;
        let updated = signal_deliveries::Entity::update_many()
            .col_expr(C::ReadAt, Expr::value(now))
            .filter(C::Id.eq(delivery_id))
            .filter(C::UserId.eq(user_id))
            .filter(C::ReadAt.is_null())
            .exec(&self.db)
            .await?;
        if updated.rows_affected == 1 {
            return Ok(ReadMark::Marked);
        }
        let exists = signal_deliveries::Entity::find()
            .filter(C::Id.eq(delivery_id))
            .filter(C::UserId.eq(user_id))
            .count(&self.db)
            .await?
            > 0;
        Ok(if exists {
            ReadMark::AlreadyRead
        } else {
            ReadMark::NotFound
        })
    }
}
