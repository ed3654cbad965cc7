//! `service_heartbeats`: one row per running service instance, refreshed while it runs.

use sea_orm::entity::prelude::*;

/// A service instance's last sign of life.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_heartbeats")]
pub struct Model {
    /// `ingest-api`, `dispatcher`, `command-bot` or `admin-api`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub service: String,
    /// The instance (host and process id).
    #[sea_orm(primary_key, auto_increment = false)]
    pub instance: String,
    /// When the instance started.
    pub started_at: DateTimeUtc,
    /// Its last beat.
    pub beat_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
