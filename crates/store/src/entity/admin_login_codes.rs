//! `admin_login_codes`: one-time codes the bot sends to an admin's chat at login.

use sea_orm::entity::prelude::*;

/// One code, by its hash.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_login_codes")]
pub struct Model {
    /// Row id; also the salt of the code's hash.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The admin it was sent to.
    pub user_id: Uuid,
    /// SHA-256 hex of the id and the code.
    pub code_hash: String,
    /// When it was sent.
    pub created_at: DateTimeUtc,
    /// When it stops working.
    pub expires_at: DateTimeUtc,
    /// When it was used; a used code never works again.
    pub used_at: Option<DateTimeUtc>,
    /// Wrong codes tried while this one was live.
    pub attempts: i32,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
