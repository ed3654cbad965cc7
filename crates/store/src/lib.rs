//! Herald's storage: sea-orm over PostgreSQL (production) or a SQLite file (embedded), behind
//! one cheap-to-clone [`Store`].
//!
//! - [`connect`](Store::connect) / [`migrate`](Store::migrate) (in `connect.rs`, `migrate.rs`):
//!   open the pool with the right settings per backend; apply `herald-migrations`, safely
//!   when several processes start at once.
//! - `users.rs`: [`register_user`](Store::register_user) on `/start` (an upsert by Telegram
//!   id), lookups, [`deactivate_user`](Store::deactivate_user) when the bot is blocked.
//! - `subscriptions.rs`, `preferences.rs`: `/subscribe`, `/unsubscribe`, and the trader's
//!   [`Preferences`](herald_domain::Preferences), stored column by column.
//! - `signals.rs`: each signal stored once as its canonical JSON, rebuilt with
//!   [`herald_domain::parse_signal`].
//! - `recipients.rs`: fan-out — who gets a signal ([`Recipient`]), one page at a time.
//! - `deliveries.rs`: one [`Delivery`] row per (signal, user), written a fan-out page at a
//!   time with the fan-out's cursor ([`Fanout`]), so an interrupted fan-out resumes.
//! - `queue.rs`: the deliveries are the dispatcher's work queue — [`Claim`]s taken most
//!   urgent first with a lease, one trader's messages in signal order, and each outcome
//!   (`sent | failed | blocked | expired | unknown`) one conditional `UPDATE`.
//! - `destinations.rs`: channels, groups and forum topics ([`Destination`]) and the chats
//!   the bot is in ([`BotChat`]).
//! - `lifecycle.rs`: how positions end — a close stored with its outcome, the edits of the
//!   traders' copies, the copy a close replies to.
//! - `performance.rs`: how signals performed (rows for `herald_domain::figures`) and the
//!   reports' schedule ([`Store::schedule_reports`]).
//! - `tiers.rs`: subscription tiers ([`Tiers`]) and who is on which.
//! - [`gauges`]: what operators' gauges read — the open deliveries by job and the oldest's
//!   age, the traders signals go to, the connection pool's use.
//! - [`heartbeats`]: services saying they are alive ([`Heartbeat`]), for `/status`, and the
//!   task each runs to do so ([`heartbeats::spawn`]).
//! - `api_keys.rs`: API keys, by SHA-256 hash only, with their scopes, networks and limits.
//! - `staff.rs`: who may use the admin API ([`StaffLogin`]), their authenticator, and the
//!   one-time login codes.
//! - `audit.rs`: the audit log ([`AuditEvent`], [`AuditRecord`]), also what the admin login's
//!   rate limit counts.
//! - `secrets.rs`: secrets generated once and shared by every replica.
//! - `directory.rs`, `reports.rs`: the admin API's reads — users ([`UserFilter`],
//!   [`UserDetail`]), signals, one signal's deliveries, and a window's [`Stats`].
//! - [`entity`]: the sea-orm entities, one file per table.
//!
//! Every operation takes the current time as an argument (`now`) rather than reading a
//! clock, so callers and tests control time. Errors are [`StoreError`].

mod api_keys;
mod audit;
mod connect;
mod deliveries;
mod destinations;
mod directory;
pub mod entity;
mod error;
pub mod gauges;
pub mod heartbeats;
mod lifecycle;
mod migrate;
mod performance;
mod preferences;
mod queue;
mod recipients;
mod reports;
mod secrets;
mod signals;
mod staff;
mod subscriptions;
mod tiers;
mod traders;
mod users;

use sea_orm::DatabaseConnection;

pub use api_keys::{ApiKeyRecord, NewApiKey};
pub use audit::{AuditEvent, AuditFilter, AuditRecord, AuditSubject};
pub use connect::redact_url;
pub use deliveries::{Delivery, DeliveryCounts, QueuedSignal};
pub use destinations::{BOT_REMOVED, BotChat, Destination, NewDestination};
pub use directory::{LastDelivery, UserDetail, UserFilter, UserSummary};
pub use error::StoreError;
pub use gauges::{OpenJobs, PoolUse};
pub use heartbeats::Heartbeat;
pub use lifecycle::{CloseStored, Copy as SignalCopy, EDIT_WINDOW};
pub use performance::{MAX_PERFORMANCE_ROWS, REPORT_GRACE, ScheduledReport};
pub use queue::{
    Claim, ClaimRef, PAST_DEADLINE, PULLED_AHEAD, REQUEUEABLE, Requeued, UNKNOWN_TWICE,
};
pub use recipients::{Recipient, RecipientsPage};
pub use reports::{SignalCursor, Stats, StoredSignal};
pub use signals::{Fanout, priority_of};
pub use staff::{LoginCode, MAX_CODE_ATTEMPTS, StaffLogin};
pub use subscriptions::{SIGNALS_SUBSCRIPTION, Subscription, SubscriptionChange};
pub use tiers::{TierRecord, Tiers};
pub use traders::{MAX_RECENT_SIGNALS, ReadMark};
pub use users::{Registration, TelegramProfile, User};

/// Herald's database. Clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
}
