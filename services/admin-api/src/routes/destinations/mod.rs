//! `/api/destinations`: channels, groups and forum topics signals go to besides traders'
//! private chats.

pub mod create;
pub mod list;
pub mod remove;
