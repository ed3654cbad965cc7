//! `user_preferences`: at most one row per user; a missing row means the defaults.

use sea_orm::entity::prelude::*;

/// What a trader asked to receive.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_preferences")]
pub struct Model {
    /// The user (also the primary key).
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// JSON array of kind names: `["buy","sell","close","alert"]`.
    pub signal_types: Json,
    /// Lowest confidence (0–100) worth a message.
    pub confidence_threshold: i32,
    /// First hour (UTC, 0–23) in which messages are welcome; with `notification_hours_end`.
    pub notification_hours_start: Option<i32>,
    /// First hour (UTC, 0–23) in which they no longer are.
    pub notification_hours_end: Option<i32>,
    /// `detailed` or `compact`.
    pub signal_format: String,
    /// How often to send performance reports (`weekly` by default).
    pub performance_update_frequency: String,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
