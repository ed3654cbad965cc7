//! Subscriptions: `/subscribe`, `/unsubscribe`, and whether a user currently gets signals.

use chrono::{DateTime, Utc};
use herald_domain::DeliveryStatus;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use crate::entity::user_subscriptions;
use crate::error::user_fk;
use crate::{Store, StoreError};

/// The subscription type that carries trading signals.
pub const SIGNALS_SUBSCRIPTION: &str = "signals";

/// What a subscribe or unsubscribe request changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionChange {
    /// The user was not receiving signals and now is.
    Activated,
    /// The user was already subscribed; nothing changed.
    AlreadyActive,
    /// The user was receiving signals and no longer is.
    Deactivated,
    /// The user was not subscribed; nothing changed.
    AlreadyInactive,
}

/// A trader's signals subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Active and not expired.
    pub current: bool,
    /// When it was (last) activated.
    pub started_at: DateTime<Utc>,
    /// When it lapses, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The tier's name (`None`: the default tier).
    pub tier: Option<String>,
}

/// Whether a subscription row means "receives signals" at `now`.
pub(crate) fn is_current(
    is_active: bool,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    is_active && expires_at.is_none_or(|at| at > now)
}

impl Store {
    /// Subscribes the user to signals on their tier (the default tier for a first
    /// subscription), expiring after the tier's expiry if it has one. An inactive or lapsed
    /// subscription is reactivated from `now`.
    pub async fn subscribe(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionChange, StoreError> {
        use user_subscriptions::Column as C;
        let tiers = self.tiers().await?;
        let default_expiry = tiers.default_tier().expiry.map(|e| now + e);
        let inserted = user_subscriptions::Entity::insert(user_subscriptions::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            subscription_type: Set(SIGNALS_SUBSCRIPTION.to_string()),
            started_at: Set(now),
            expires_at: Set(default_expiry),
            is_active: Set(true),
            tier: Set(None),
        })
        .on_conflict(
            OnConflict::columns([C::UserId, C::SubscriptionType])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(user_fk(user_id))?;
        if inserted == 1 {
            return Ok(SubscriptionChange::Activated);
        }
        let Some(row) = self.signals_subscription(user_id).await? else {
            return Err(StoreError::UnknownUser(user_id));
        };
        if is_current(row.is_active, row.expires_at, now) {
            return Ok(SubscriptionChange::AlreadyActive);
        }
        let expires_at = tiers.get(row.tier.as_deref()).expiry.map(|e| now + e);
        user_subscriptions::Entity::update_many()
            .col_expr(C::IsActive, Expr::value(true))
            .col_expr(C::StartedAt, Expr::value(now))
            .col_expr(C::ExpiresAt, Expr::value(expires_at))
            .filter(C::Id.eq(row.id))
            .exec(&self.db)
            .await?;
        Ok(SubscriptionChange::Activated)
    }

    /// Stops signals for the user, including those already queued for them (recorded
    /// `skipped`). The row is kept (inactive) for a later `/subscribe`.
    pub async fn unsubscribe(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionChange, StoreError> {
        use user_subscriptions::Column as C;
        let Some(row) = self.signals_subscription(user_id).await? else {
            return Ok(SubscriptionChange::AlreadyInactive);
        };
        let was_current = is_current(row.is_active, row.expires_at, now);
        let txn = self.db.begin().await?;
        let result = user_subscriptions::Entity::update_many()
            .col_expr(C::IsActive, Expr::value(false))
            .filter(C::Id.eq(row.id))
            .filter(C::IsActive.eq(true))
            .exec(&txn)
            .await?;
        // What was still queued for them (a delayed tier's messages, a broadcast not yet
        // reached) is not sent after "no more signals".
        crate::deliveries::end_waiting(
            &txn,
            user_id,
            DeliveryStatus::Skipped,
            "the trader unsubscribed",
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(if was_current && result.rows_affected == 1 {
            SubscriptionChange::Deactivated
        } else {
            SubscriptionChange::AlreadyInactive
        })
    }

    /// Whether the user has an active, unexpired signals subscription at `now`.
    pub async fn is_subscribed(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .signals_subscription(user_id)
            .await?
            .is_some_and(|row| is_current(row.is_active, row.expires_at, now)))
    }

    /// The user's signals subscription as it stands, if they ever had one.
    pub async fn subscription(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        Ok(self
            .signals_subscription(user_id)
            .await?
            .map(|row| Subscription {
                current: is_current(row.is_active, row.expires_at, now),
                started_at: row.started_at,
                expires_at: row.expires_at,
                tier: row.tier,
            }))
    }

    async fn signals_subscription(
        &self,
        user_id: Uuid,
    ) -> Result<Option<user_subscriptions::Model>, StoreError> {
        use user_subscriptions::Column as C;
        Ok(user_subscriptions::Entity::find()
            .filter(C::UserId.eq(user_id))
            .filter(C::SubscriptionType.eq(SIGNALS_SUBSCRIPTION))
            .one(&self.db)
            .await?)
    }
}
