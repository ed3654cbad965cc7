//! `/api/users`.

pub mod list;
pub mod show;
pub mod update_preferences;
