//! Herald's NATS JetStream bus: every hand-off between services goes through here.
//!
//! - [`subjects`]: every subject, stream and consumer name, all under `HERALD_NATS_PREFIX`.
//! - [`streams`]: creating (or updating) the streams and the shared durable pull consumers.
//! - [`Bus`]: a connected JetStream context with typed publishes — a signal with its id as
//!   `Nats-Msg-Id`, delivery jobs in pipelined batches, dead letters with their reason.
//!
//! Streams (file storage):
//!
//! | stream | subjects | retention | consumer |
//! |---|---|---|---|
//! | `<prefix>_signals` | `<prefix>.signals.v1.>` | work queue, dedupe window | `dispatcher` |
//! | `<prefix>_deliveries` | `<prefix>.deliveries.v1` | work queue, dedupe window | `dispatcher` |
//! | `<prefix>_dead_letters` | `<prefix>.signals.dlq` | 30 days | (operators) |

mod bus;
pub mod streams;
pub mod subjects;

pub use bus::{Bus, BusError, PublishOutcome};
pub use streams::StreamSettings;
pub use subjects::Subjects;

/// Header on a dead letter: why it was rejected.
pub const HEADER_REJECTION: &str = "Herald-Rejection";
/// Header on a dead letter: the subject it was first published on.
pub const HEADER_ORIGINAL_SUBJECT: &str = "Herald-Original-Subject";
