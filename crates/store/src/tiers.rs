//! Subscription tiers: what each level carries, which one is the default, and whose is whose.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use herald_domain::{Asset, SignalKind, Tier};
use sea_orm::sea_query::{Cond, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use crate::deliveries::bring_forward;
use crate::entity::{subscription_tiers, user_subscriptions, users};
use crate::preferences::string_list;
use crate::subscriptions::SIGNALS_SUBSCRIPTION;
use crate::{Store, StoreError};

/// Every tier, and which is the default: what a fan-out reads once per page.
#[derive(Debug, Clone)]
pub struct Tiers {
    by_name: HashMap<String, Tier>,
    default: Tier,
}

impl Tiers {
    /// The tier named `name`, or the default for `None` and for a name no longer configured
    /// (a tier removed while traders held it: they fall back to the default).
    pub fn get(&self, name: Option<&str>) -> &Tier {
        name.and_then(|n| self.by_name.get(n))
            .unwrap_or(&self.default)
    }

    /// The default tier.
    pub fn default_tier(&self) -> &Tier {
        &self.default
    }
}

/// A tier as listed by `herald tiers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRecord {
    /// The tier.
    pub tier: Tier,
    /// Whether traders without a tier get it.
    pub is_default: bool,
}

impl Store {
    /// Every tier, in name order.
    pub async fn list_tiers(&self) -> Result<Vec<TierRecord>, StoreError> {
        subscription_tiers::Entity::find()
            .order_by_asc(subscription_tiers::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                let is_default = m.is_default;
                Ok(TierRecord {
                    tier: tier_from(m)?,
                    is_default,
                })
            })
            .collect()
    }

    /// Every tier, for fan-out. With no default configured (an operator removed it), the
    /// built-in [`Tier::standard`] is the default.
    pub async fn tiers(&self) -> Result<Tiers, StoreError> {
        let mut by_name = HashMap::new();
        let mut default = None;
        for record in self.list_tiers().await? {
            if record.is_default {
                default = Some(record.tier.clone());
            }
            by_name.insert(record.tier.name.clone(), record.tier);
        }
        Ok(Tiers {
            by_name,
            default: default.unwrap_or_else(Tier::standard),
        })
    }

    /// Creates or replaces a tier (checked with [`Tier::validate`]); `make_default` also
    /// makes it the default, in place of the one before. A cut delay brings its traders'
    /// queued messages forward to the new delay from now.
    pub async fn upsert_tier(
        &self,
        tier: &Tier,
        make_default: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use subscription_tiers::Column as C;
        tier.validate().map_err(StoreError::Invalid)?;
        let names = |kinds: &BTreeSet<SignalKind>| -> Vec<&str> {
            kinds.iter().map(|k| k.as_str()).collect()
        };
        let assets: Vec<&str> = tier.assets.iter().map(Asset::as_str).collect();
        let txn = self.db.begin().await?;
        if make_default {
            subscription_tiers::Entity::update_many()
                .col_expr(C::IsDefault, Expr::value(false))
                .exec(&txn)
                .await?;
        }
        let mut columns = vec![
            C::SignalTypes,
            C::Assets,
            C::MinConfidence,
            C::DelaySeconds,
            C::ExpiryDays,
            C::UpdatedAt,
        ];
        if make_default {
            columns.push(C::IsDefault);
        }
        subscription_tiers::Entity::insert(subscription_tiers::ActiveModel {
            name: Set(tier.name.clone()),
            signal_types: Set(serde_json::json!(names(&tier.kinds))),
            assets: Set(serde_json::json!(assets)),
            min_confidence: Set(i32::from(tier.min_confidence)),
            delay_seconds: Set(tier.delay.num_seconds() as i32),
            expiry_days: Set(tier.expiry.map(|e| e.num_days() as i32)),
            is_default: Set(make_default),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(C::Name)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        // Its traders' queued messages come no later than the tier's delay now says.
        let is_default = subscription_tiers::Entity::find_by_id(tier.name.clone())
            .one(&txn)
            .await?
            .is_some_and(|t| t.is_default);
        let on_tier = if is_default {
            Cond::any()
                .add(Expr::col(user_subscriptions::Column::Tier).eq(tier.name.as_str()))
                .add(Expr::col(user_subscriptions::Column::Tier).is_null())
        } else {
            Cond::all().add(Expr::col(user_subscriptions::Column::Tier).eq(tier.name.as_str()))
        };
        let users = Query::select()
            .column(user_subscriptions::Column::UserId)
            .from(user_subscriptions::Entity)
            .and_where(
                Expr::col(user_subscriptions::Column::SubscriptionType).eq(SIGNALS_SUBSCRIPTION),
            )
            .cond_where(on_tier)
            .to_owned();
        bring_forward(&txn, users, now + tier.delay).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts the user's signals subscription on `tier` (which must exist). A user who never
    /// subscribed gets an inactive subscription on that tier, ready for `/subscribe`. The
    /// expiry of an active subscription is not moved: the new tier's applies from the next
    /// `/subscribe`. Messages already queued for them are due no later than the new tier's
    /// delay from now (a shorter delay brings them forward; a longer one does not hold back
    /// what was already decided).
    pub async fn set_tier(
        &self,
        user_id: Uuid,
        tier: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use user_subscriptions::Column as C;
        if subscription_tiers::Entity::find_by_id(tier.to_string())
            .one(&self.db)
            .await?
            .is_none()
        {
            return Err(StoreError::Invalid(format!(
                "there is no tier {tier:?}; `herald tiers` lists them"
            )));
        }
        if self.user(user_id).await?.is_none() {
            return Err(StoreError::UnknownUser(user_id));
        }
        user_subscriptions::Entity::insert(user_subscriptions::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user_id),
            subscription_type: Set(SIGNALS_SUBSCRIPTION.to_string()),
            started_at: Set(now),
            expires_at: Set(None),
            is_active: Set(false),
            tier: Set(Some(tier.to_string())),
        })
        .on_conflict(
            OnConflict::columns([C::UserId, C::SubscriptionType])
                .update_column(C::Tier)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        // What is queued for them comes no later than their new tier's delay says.
        let delay = self.tiers().await?.get(Some(tier)).delay;
        let user = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(Expr::col(users::Column::Id).eq(user_id))
            .to_owned();
        bring_forward(&self.db, user, now + delay).await?;
        Ok(())
    }

    /// The tier the user is on (the default if none was given).
    pub async fn user_tier(&self, user_id: Uuid) -> Result<Tier, StoreError> {
        let name = user_subscriptions::Entity::find()
            .filter(user_subscriptions::Column::UserId.eq(user_id))
            .filter(user_subscriptions::Column::SubscriptionType.eq(SIGNALS_SUBSCRIPTION))
            .one(&self.db)
            .await?
            .and_then(|s| s.tier);
        Ok(self.tiers().await?.get(name.as_deref()).clone())
    }
}

fn tier_from(m: subscription_tiers::Model) -> Result<Tier, StoreError> {
    let corrupt = |reason: String| StoreError::corrupt("subscription_tiers", &m.name, reason);
    let kinds = string_list(m.signal_types.clone())
        .map_err(|e| corrupt(format!("signal_types is {e}")))?
        .iter()
        .map(|k| k.parse::<SignalKind>())
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(corrupt)?;
    let assets = string_list(m.assets.clone())
        .map_err(|e| corrupt(format!("assets is {e}")))?
        .iter()
        .map(|a| Asset::parse(a))
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(corrupt)?;
    let min_confidence = u8::try_from(m.min_confidence)
        .ok()
        .filter(|c| *c <= 100)
        .ok_or_else(|| corrupt(format!("min_confidence {} is not 0-100", m.min_confidence)))?;
    Ok(Tier {
        name: m.name.clone(),
        kinds,
        assets,
        min_confidence,
        delay: Duration::seconds(i64::from(Ord::max(m.delay_seconds, 0))),
        expiry: m.expiry_days.map(|d| Duration::days(i64::from(d))),
    })
}
