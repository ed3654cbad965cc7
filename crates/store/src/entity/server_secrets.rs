//! `server_secrets`: secrets Herald generated once, read by every replica.

use sea_orm::entity::prelude::*;

/// One secret.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "server_secrets")]
pub struct Model {
    /// What it is for, e.g. `admin_jwt`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// The secret.
    pub value: String,
    /// When it was generated.
    pub created_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
