//! `audit_log`: administrative changes and authentication failures.

use sea_orm::entity::prelude::*;

/// One audited event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Row id (UUID v7, so ids sort by time).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When it happened.
    pub at: DateTimeUtc,
    /// Who: `user:<id>`, `telegram:<id>`, `key:<id>`, `cli` or `anonymous`.
    pub actor: String,
    /// What, e.g. `preferences.update`, `key.create`, `auth.failed`.
    pub action: String,
    /// What it was done to, e.g. `user:<id>`.
    pub target: Option<String>,
    /// The client's address, when it came over HTTP.
    pub source: Option<String>,
    /// Before and after, reasons and the like.
    pub details: Option<Json>,
    /// How many times it happened (refusals are coalesced into one row per source).
    pub occurrences: i64,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
