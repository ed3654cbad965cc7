//! Herald's NATS JetStream bus: every hand-off between services goes through here.
//!
//! - [`connect`]: where NATS is and how Herald proves who it is ([`NatsOptions`]: a user
//!   and password or a token in the URL, a `.creds` file, or an nkey seed).
//! - [`subjects`]: every subject, stream and consumer name, all under `HERALD_NATS_PREFIX`.
//! - [`streams`]: creating (or updating) the streams and the shared durable pull consumers.
//! - [`Bus`]: a connected JetStream context with typed publishes — a signal with its id as
//!   `Nats-Msg-Id`, dead letters with their reason — and the core NATS nudge that wakes
//!   dispatchers when deliveries wait in the database queue.
//! - [`consume`]: typed jobs ([`Job`]) with ack, retry-after, terminate and keep-alive, and
//!   the consume loop every consumer shares.
//! - [`lease`]: leader election through a JetStream KV lease ([`Bus::campaign`]), for work
//!   one replica must do (the dispatcher's reconciler).
//! - [`budget`]: the Telegram budget shared by every process of the installation
//!   ([`budget::SharedBudget`]): one pacer elected through a key-value lease hands out
//!   slots over request/reply; 429s are announced to all.
//!
//! Streams (file storage unless said otherwise):
//!
//! | stream | subjects | retention | consumer |
//! |---|---|---|---|
//! | `<prefix>_signals` | `<prefix>.signals.v1.>` | work queue, dedupe window | `dispatcher` |
//! | `<prefix>_dead_letters` | `<prefix>.signals.dlq` | 30 days | (operators) |
//! | `KV_<prefix>_budget` | key-value bucket `<prefix>_budget` | 3 s | (the budget's lease) |
//! | `KV_<prefix>_lease_reconciler` | key-value bucket `<prefix>_lease_reconciler` | 15 s | (the reconciler's lease) |
//!
//! Deliveries do not travel on the bus: their rows in the database are the dispatcher's work
//! queue (see `herald_store`'s `queue` module), and `<prefix>.deliveries.v1.ready` (core
//! NATS, not stored) only wakes the replicas.

pub mod budget;
mod bus;
pub mod connect;
pub mod consume;
pub mod lease;
pub mod streams;
pub mod subjects;

pub use bus::{Bus, BusError, PublishOutcome};
pub use connect::{NatsOptions, client as connect, redact_url};
pub use consume::{Decode, Job, Json, Raw, consume};
pub use lease::Leadership;
pub use streams::StreamSettings;
pub use subjects::Subjects;

/// Header on a dead letter: why it was rejected.
pub const HEADER_REJECTION: &str = "Herald-Rejection";
/// Header on a dead letter: the subject it was first published on.
pub const HEADER_ORIGINAL_SUBJECT: &str = "Herald-Original-Subject";
