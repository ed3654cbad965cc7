//! `/api/audit`.

pub mod list;
