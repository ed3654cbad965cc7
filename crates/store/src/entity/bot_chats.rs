//! `bot_chats`: the groups and channels the bot is in, as Telegram last told
//! (`my_chat_member`).

use sea_orm::entity::prelude::*;

/// One group or channel.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bot_chats")]
pub struct Model {
    /// The chat.
    #[sea_orm(primary_key, auto_increment = false)]
    pub chat_id: i64,
    /// `group`, `supergroup` or `channel`.
    pub kind: String,
    /// Its title.
    pub title: Option<String>,
    /// A forum (topics).
    pub is_forum: bool,
    /// The bot's status there: `member`, `administrator`, `left`, `kicked`, …
    pub status: String,
    /// The Telegram user who changed it.
    pub changed_by: Option<i64>,
    /// When Telegram told.
    pub updated_at: DateTimeUtc,
}

/// No relations are navigated through sea-orm; joins are written as queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
