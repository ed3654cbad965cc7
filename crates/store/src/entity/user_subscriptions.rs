//! `user_subscriptions`: one row per (user, subscription type); Herald uses type `signals`.

use sea_orm::entity::prelude::*;

/// A user's subscription of one type.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_subscriptions")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The subscriber.
    pub user_id: Uuid,
    /// What is subscribed to, e.g. `signals`; unique per user.
    pub subscription_type: String,
    /// When it was (last) activated.
    pub started_at: DateTimeUtc,
    /// When it lapses; `None` for never.
    pub expires_at: Option<DateTimeUtc>,
    /// False after `/unsubscribe`.
    pub is_active: bool,
    /// The tier's name; `None` for the default tier.
    pub tier: Option<String>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
