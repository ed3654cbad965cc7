//! The admin API's view of traders: a filtered, paginated listing and one trader in full.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_domain::{DeliveryStatus, JobKind, Preferences};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, JoinType, Order, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};
use uuid::Uuid;

use crate::entity::{signal_deliveries, user_subscriptions, users};
use crate::users::USER_COLUMNS;
use crate::{DeliveryCounts, SIGNALS_SUBSCRIPTION, Store, StoreError, Subscription, User};

/// Which users a listing shows; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only users who have (`true`) or have not (`false`) blocked the bot.
    pub active: Option<bool>,
    /// Only users with (`true`) or without (`false`) a current signals subscription.
    pub subscribed: Option<bool>,
    /// Only users on this tier (users without a tier are on the default one).
    pub tier: Option<String>,
    /// Only admins (`true`) or only others (`false`).
    pub admin: Option<bool>,
    /// Only users whose username, first or last name contains this, in any case.
    pub search: Option<String>,
}

/// One user in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user.
    pub user: User,
    /// Their signals subscription, if they ever had one.
    pub subscription: Option<Subscription>,
}

/// The last delivery to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDelivery {
    /// The delivery's id.
    pub id: Uuid,
    /// The signal.
    pub signal_id: Uuid,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When Telegram accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One user in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    /// The user and their subscription.
    pub summary: UserSummary,
    /// Their preferences (the defaults while none are stored) and their version.
    pub preferences: (Preferences, i64),
    /// Their deliveries by status.
    pub deliveries: DeliveryCounts,
    /// Their newest delivery.
    pub last_delivery: Option<LastDelivery>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Users matching `filter`, in registration order (ids are UUID v7), `limit` at most,
    /// after the user `after` (the last id of the previous page).
    pub async fn users_page(
        &self,
        filter: &UserFilter,
        after: Option<Uuid>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserSummary>, StoreError> {
        use user_subscriptions::Column as S;
        let sub = |c: S| Expr::col((user_subscriptions::Entity, c));
        let user = |c: users::Column| Expr::col((users::Entity, c));
        let mut stmt = Query::select();
        stmt.columns(USER_COLUMNS.map(|c| (users::Entity, c)))
            .expr_as(sub(S::IsActive), "sub_active")
            .expr_as(sub(S::StartedAt), "sub_started_at")
            .expr_as(sub(S::ExpiresAt), "sub_expires_at")
            .expr_as(sub(S::Tier), "sub_tier")
            .from(users::Entity)
            .join(
                JoinType::LeftJoin,
                user_subscriptions::Entity,
                Condition::all()
                    .add(sub(S::UserId).equals((users::Entity, users::Column::Id)))
                    .add(sub(S::SubscriptionType).eq(SIGNALS_SUBSCRIPTION)),
            );
        if let Some(active) = filter.active {
            stmt.and_where(user(users::Column::IsActive).eq(active));
        }
        if let Some(admin) = filter.admin {
            stmt.and_where(user(users::Column::IsAdmin).eq(admin));
        }
        let current = Condition::all().add(sub(S::IsActive).eq(true)).add(
            Condition::any()
                .add(sub(S::ExpiresAt).is_null())
                .add(sub(S::ExpiresAt).gt(now)),
        );
        match filter.subscribed {
            Some(true) => {
                stmt.cond_where(current);
            }
            Some(false) => {
                stmt.cond_where(
                    Condition::any()
                        .add(sub(S::IsActive).is_null())
                        .add(sub(S::IsActive).eq(false))
                        .add(sub(S::ExpiresAt).lte(now)),
                );
            }
            None => {}
        }
        if let Some(tier) = &filter.tier {
            let default = self.tiers().await?.default_tier().name.clone();
            let on_tier = sub(S::Tier).eq(tier.as_str());
            if *tier == default {
                stmt.cond_where(Condition::any().add(sub(S::Tier).is_null()).add(on_tier));
            } else {
                stmt.and_where(on_tier);
            }
        }
        if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", like_literal(&text.to_lowercase()));
            // SQLite's `lower` folds ASCII only: the text as written matches too (`Иван`).
            let as_written = format!("%{}%", like_literal(text));
            let mut any = Condition::any();
            for col in [
                users::Column::Username,
                users::Column::FirstName,
                users::Column::LastName,
            ] {
                any = any
                    .add(
                        Expr::expr(Func::lower(user(col)))
                            .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
                    )
                    .add(
                        user(col).like(
                            sea_orm::sea_query::LikeExpr::new(as_written.clone()).escape('\\'),
                        ),
                    );
            }
            stmt.cond_where(any);
        }
        if let Some(after) = after {
            stmt.and_where(user(users::Column::Id).gt(after));
        }
        stmt.order_by((users::Entity, users::Column::Id), Order::Asc)
            .limit(limit);
        let rows = self.db.query_all(&stmt).await?;
        rows.iter()
            .map(|row| {
                let user = User::from(users::Model::from_query_result(row, "")?);
                let subscription = match row.try_get::<Option<bool>>("", "sub_active")? {
                    Some(active) => {
                        let expires_at: Option<DateTime<Utc>> =
                            row.try_get("", "sub_expires_at")?;
                        Some(Subscription {
                            current: crate::subscriptions::is_current(active, expires_at, now),
                            started_at: row.try_get("", "sub_started_at")?,
                            expires_at,
                            tier: row.try_get("", "sub_tier")?,
                        })
                    }
                    None => None,
                };
                Ok(UserSummary { user, subscription })
            })
            .collect()
    }

    /// One user in full; `None` when there is no such user.
    pub async fn user_detail(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<UserDetail>, StoreError> {
        let Some(user) = self.user(user_id).await? else {
            return Ok(None);
        };
        let subscription = self.subscription(user_id, now).await?;
        let preferences = self.preferences_versioned(user_id).await?;
        let deliveries = self.user_delivery_counts(user_id).await?;
        let last_delivery = self.last_delivery(user_id).await?;
        Ok(Some(UserDetail {
            summary: UserSummary { user, subscription },
            preferences,
            deliveries,
            last_delivery,
        }))
    }

    async fn user_delivery_counts(&self, user_id: Uuid) -> Result<DeliveryCounts, StoreError> {
        use signal_deliveries::Column as C;
        let mut stmt = Query::select();
        stmt.column(C::Status)
            .expr_as(Expr::col(C::Id).count(), "n")
            .from(signal_deliveries::Entity)
            .and_where(Expr::col(C::UserId).eq(user_id))
            .and_where(Expr::col(C::Job).eq(JobKind::Signal.as_str()))
            .group_by_col(C::Status);
        let mut counts = BTreeMap::new();
        for row in self.db.query_all(&stmt).await? {
            let status: String = row.try_get("", "status")?;
            let n: i64 = row.try_get("", "n")?;
            counts.insert(status, n);
        }
        DeliveryCounts::from_rows(counts)
    }

    async fn last_delivery(&self, user_id: Uuid) -> Result<Option<LastDelivery>, StoreError> {
        use signal_deliveries::Column as C;
        let mut stmt = Query::select();
        stmt.columns([C::Id, C::SignalId, C::Status, C::CreatedAt, C::DeliveredAt])
            .from(signal_deliveries::Entity)
            .and_where(Expr::col(C::UserId).eq(user_id))
            .and_where(Expr::col(C::Job).eq(JobKind::Signal.as_str()))
            .order_by(C::CreatedAt, Order::Desc)
            .order_by(C::Id, Order::Desc)
            .limit(1);
        let Some(row) = self.db.query_one(&stmt).await? else {
            return Ok(None);
        };
        let id: Uuid = row.try_get("", "id")?;
        let status: String = row.try_get("", "status")?;
        Ok(Some(LastDelivery {
            id,
            signal_id: row.try_get("", "signal_id")?,
            status: status
                .parse()
                .map_err(|e| StoreError::corrupt("signal_deliveries", id, e))?,
            created_at: row.try_get("", "created_at")?,
            delivered_at: row.try_get("", "delivered_at")?,
        }))
    }
}
