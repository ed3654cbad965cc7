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
    /// First hour (0–23, in `time_zone`) in which messages are welcome; with `notification_hours_end`.
    pub notification_hours_start: Option<i32>,
    /// First hour (0–23, in `time_zone`) in which they no longer are.
    pub notification_hours_end: Option<i32>,
    /// `detailed` or `compact`.
    pub signal_format: String,
    /// How often to send performance reports: `off`, `daily` or `weekly` (the default).
    pub performance_update_frequency: String,
    /// JSON array of the kinds (and `report`) delivered without a sound.
    pub silent_types: Json,
    /// JSON array of the assets followed; empty for every asset.
    pub assets: Json,
    /// IANA zone or `UTC+05:30`: the notification hours are in it.
    pub time_zone: String,
    /// Outside the hours: `silent` or `skip`.
    pub outside_hours: String,
    /// `en` or `es`.
    pub language: String,
    /// Raised by every change.
    pub version: i64,
    /// The local hour reports come at (0–23).
    pub report_hour: i16,
    /// When the next report is due (UTC); null when none is wanted, or not yet computed.
    pub next_report_at: Option<DateTimeUtc>,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
