//! `api_keys`: keys the Signal Engine uses on ingest-api. Only the key's hash is stored.

use sea_orm::entity::prelude::*;

/// An API key, by its SHA-256 hash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What the key is for.
    pub name: String,
    /// Lower-case hex SHA-256 of the key; unique.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// The key's first 8 characters, to recognise it.
    pub key_prefix: String,
    /// When the key was made.
    pub created_at: DateTimeUtc,
    /// Last successful use.
    pub last_used_at: Option<DateTimeUtc>,
    /// When it was revoked; a revoked key never authenticates again.
    pub revoked_at: Option<DateTimeUtc>,
    /// What the key may do: a JSON array of scopes (`signals:write`, `stats:read`).
    pub scopes: Json,
    /// The addresses it may be used from: a JSON array of CIDRs; empty for any.
    pub allowed_ips: Json,
    /// Requests per second it may make on each replica; null for no limit.
    pub rate_limit: Option<i32>,
    /// The admin who created it; null when made with the CLI.
    pub created_by: Option<Uuid>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
