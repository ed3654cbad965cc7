//! `/api/signals`.

pub mod deliveries;
pub mod list;
pub mod show;
