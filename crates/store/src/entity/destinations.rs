//! `destinations`: channels, groups and forum topics signals go to besides traders' chats.

use sea_orm::entity::prelude::*;

/// One destination.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "destinations")]
pub struct Model {
    /// The destination's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The chat (negative for groups and channels).
    pub chat_id: i64,
    /// The forum topic, if one.
    pub thread_id: Option<i64>,
    /// The operator's name for it.
    pub name: String,
    /// The kinds sent (JSON array of kind names).
    pub signal_types: Json,
    /// The assets sent (JSON array; empty: every asset).
    pub assets: Json,
    /// The lowest confidence sent.
    pub min_confidence: i32,
    /// `detailed` or `compact`.
    pub signal_format: String,
    /// The messages' language.
    pub language: String,
    /// Whether signals go there now.
    pub is_active: bool,
    /// Why not, when not (the bot was removed, the chat is gone).
    pub inactive_reason: Option<String>,
    /// Who registered it (`cli`, `staff:<id>`).
    pub created_by: String,
    /// When it was registered.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// When it was removed (kept for the deliveries' history).
    pub removed_at: Option<DateTimeUtc>,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
