//! Herald's database schema, as sea-orm migrations that run unchanged on PostgreSQL and SQLite.
//!
//! - [`Migrator`]: the ordered list of migrations; `Migrator::up(&db, None)` brings a database
//!   up to date (`herald migrate`, or `herald_store::Store::migrate`, which also serialises
//!   concurrent callers).
//! - `m20250101_000001_initial`: users, preferences, subscriptions, signals, deliveries and
//!   API keys.
//! - `m20261130_000002_delivery_queue`: `signal_deliveries` as the dispatcher's work queue
//!   (priority, signal time, deadline, next attempt, claim lease) and resumable fan-outs.
//! - `m20261130_000003_open_fanouts`: a partial index of the fan-outs in progress, read by
//!   every claim and by the reconciler.
//! - `m20261130_000004_traders`: the rest of the traders' preferences, subscription tiers and
//!   the services' heartbeats.
//! - `m20261130_000005_admin`: staff roles and their second factor, login codes, scoped API
//!   keys, the audit log and generated server secrets.
//! - `m20261130_000006_lifecycle`: how positions end (`signal_outcomes`), destinations
//!   besides private chats, the bot's groups and channels, report times, and the delivery
//!   queue generalised to every message job (edits, reports, destinations).
//! - `m20261130_000007_trace_context`: the trace a signal's fan-out belongs to, for its
//!   deliveries' spans.
//!
//! Tables are described with the sea-query schema builder (partial indexes, which both
//! backends write alike, and data fills are the only SQL), so each backend gets
//! its own types: `uuid`, `timestamp with time zone` and `json` on PostgreSQL; their text or
//! blob forms on SQLite. Prices never appear as columns: a signal's canonical JSON
//! (`signals.payload`) is the source of truth, with prices as decimal strings inside it.

use sea_orm_migration::prelude::*;

/// Brings `Migrator::up`, `down` and `status` into scope for callers.
pub use sea_orm_migration::MigratorTrait;

mod m20250101_000001_initial;
mod m20261130_000002_delivery_queue;
mod m20261130_000003_open_fanouts;
mod m20261130_000004_traders;
mod m20261130_000005_admin;
mod m20261130_000006_lifecycle;
mod m20261130_000007_trace_context;

/// The migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_initial::Migration),
            Box::new(m20261130_000002_delivery_queue::Migration),
            Box::new(m20261130_000003_open_fanouts::Migration),
            Box::new(m20261130_000004_traders::Migration),
            Box::new(m20261130_000005_admin::Migration),
            Box::new(m20261130_000006_lifecycle::Migration),
            Box::new(m20261130_000007_trace_context::Migration),
        ]
    }
}
