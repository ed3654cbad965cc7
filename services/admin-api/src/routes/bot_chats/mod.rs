//! `/api/bot-chats`.

pub mod list;
