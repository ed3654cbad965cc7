//! Herald's NATS JetStream bus: every hand-off between services goes through here.
//!
//! - [`subjects`]: every subject, stream and consumer name, all under `HERALD_NATS_PREFIX`.
//! - [`streams`]: creating (or updating) the streams and the shared durable pull consumers.
//! - [`Bus`]: a connected JetStream context with typed publishes — a signal with its id as
//!   `Nats-Msg-Id`, delivery jobs in pipelined batches, dead letters with their reason.
//! - [`budget`]: the Telegram budget shared by every process of the installation
//!   ([`budget::SharedBudget`]): one pacer elected through a key-value lease hands out
//!   slots over request/reply; 429s are announced to all.
//!
//! Streams (file storage):
//!
//! | stream | subjects | retention | consumer |
//! |---|---|---|---|
//! | `<prefix>_signals` | `<prefix>.signals.v1.>` | work queue, dedupe window | `dispatcher` |
//! | `<prefix>_deliveries` | `<prefix>.deliveries.v1` | work queue, dedupe window | `dispatcher` |
//! | `<prefix>_dead_letters` | `<prefix>.signals.dlq` | 30 days | (operators) |
//! | `KV_<prefix>_budget` | key-value bucket `<prefix>_budget` | memory, 3 s | (the budget's lease) |

pub mod budget;
mod bus;
pub mod streams;
pub mod subjects;

pub use bus::{Bus, BusError, PublishOutcome, connect};
pub use streams::StreamSettings;
pub use subjects::Subjects;

/// Header on a dead letter: why it was rejected.
pub const HEADER_REJECTION: &str = "Herald-Rejection";
/// Header on a dead letter: the subject it was first published on.
pub const HEADER_ORIGINAL_SUBJECT: &str = "Herald-Original-Subject";
