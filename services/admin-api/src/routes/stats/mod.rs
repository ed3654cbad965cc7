//! `/api/stats`.

pub mod show;
