//! `subscription_tiers`: what each subscription level carries; one is the default.

use sea_orm::entity::prelude::*;

/// A subscription tier.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_tiers")]
pub struct Model {
    /// The tier's name (lower case).
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// JSON array of the kinds it carries.
    pub signal_types: Json,
    /// JSON array of the assets it carries; empty for every asset.
    pub assets: Json,
    /// Signals under this confidence are not for it.
    pub min_confidence: i32,
    /// Seconds between a signal's arrival and its message to the tier's traders.
    pub delay_seconds: i32,
    /// Days a subscription lasts; `None` until unsubscribed.
    pub expiry_days: Option<i32>,
    /// The tier of traders who were given none.
    pub is_default: bool,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
