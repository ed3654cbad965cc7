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
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
