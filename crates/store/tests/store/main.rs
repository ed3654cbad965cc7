//! `herald-store` against real databases: every case runs on SQLite and on PostgreSQL, each
//! in a database of its own.

mod common;

mod api_keys;
mod connect;
mod deliveries;
mod heartbeats;
mod migrate;
mod preferences;
mod queue;
mod recipients;
mod signals;
mod subscriptions;
mod traders;
mod users;
