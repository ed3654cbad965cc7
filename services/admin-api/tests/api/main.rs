//! admin-api end to end: the real service on port 0, against its own database (SQLite or
//! PostgreSQL), its own NATS prefix and a Telegram Bot API double, called over HTTP.
//!
//! One test binary, so that the suite links once.

mod common;

mod audit;
mod auth;
mod destinations;
mod keys;
mod performance;
mod signals;
mod stats;
mod users;
