//! `herald-store` against real databases: every case runs on SQLite and on PostgreSQL, each
//! in a database of its own.

mod common;

mod admin_migration;
mod api_key_scopes;
mod api_keys;
mod audit;
mod connect;
mod deliveries;
mod directory;
mod gauges;
mod heartbeats;
mod lifecycle;
mod migrate;
mod preferences;
mod queue;
mod recipients;
mod reports;
mod secrets;
mod signals;
mod staff;
mod subscriptions;
mod traders;
mod users;
