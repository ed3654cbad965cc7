//! `/api/stats` and `/api/stats/performance`.

pub mod performance;
pub mod show;
