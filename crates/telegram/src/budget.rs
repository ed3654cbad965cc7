//! The bot's sending budget as the [`Sender`](crate::Sender) sees it: wait for a slot, and
//! say when Telegram answered 429.
//!
//! Telegram's limits hold per **bot**, not per process, so every process that sends as the
//! bot must draw on the same budget. Two implementations exist:
//!
//! - [`crate::Limiter`]: the budget kept in this process — right when one process is the only
//!   sender (tests, benchmarks, a single-process install);
//! - `herald_bus::budget::SharedBudget`: one budget for every process of an installation,
//!   coordinated over NATS (this crate knows nothing of NATS).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;

/// A boxed, sendable future (the same type as `futures::future::BoxFuture`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who is waiting for a send: a trader waiting for an answer, or a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// A reply to a trader's command: takes the next free slot ahead of any bulk backlog.
    Interactive,
    /// Signal deliveries and other broadcasts: use whatever the interactive sends leave.
    Bulk,
}

impl Priority {
    /// `interactive` or `bulk` (wire and metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Bulk => "bulk",
        }
    }

    /// The priority named by [`Priority::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "interactive" => Some(Priority::Interactive),
            "bulk" => Some(Priority::Bulk),
            _ => None,
        }
    }
}

/// The bot's sending budget: Telegram's overall rate, per-chat and per-group limits, and the
/// pause Telegram orders with a 429.
pub trait Budget: Send + Sync + std::fmt::Debug {
    /// Waits until one message may go to `chat_id` now, and takes that slot: send right after
    /// it resolves. Never fails and never bypasses the budget; it may wait a long time (a
    /// pause, a busy chat, lost coordination), so callers bound their work by other means.
    fn acquire(&self, chat_id: i64, priority: Priority) -> BoxFuture<'_, ()>;

    /// Telegram said 429 with `retry_after = wait`: hold back every send of the bot for that
    /// long (extends, never shortens, a pause in force), everywhere this budget reaches.
    fn pause(&self, wait: Duration);

    /// When the pause in force ends, as far as this process knows.
    fn paused_until(&self) -> Option<Instant> {
        None
    }

    /// The overall rate it paces the bot's sends to, in messages per second (`None`: no
    /// overall limit). For the `herald_telegram_budget_rate_limit` gauge.
    fn rate_limit(&self) -> Option<u32> {
        None
    }

    /// Gives up any role this process plays for others (a shared budget's pacing), so that
    /// another process takes it over at once rather than after a timeout. Sends through this
    /// budget keep working afterwards. The default does nothing.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_round_trip_by_name() {
        for p in [Priority::Interactive, Priority::Bulk] {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
        assert_eq!(Priority::parse("urgent"), None);
        assert!(Priority::Interactive < Priority::Bulk);
    }
}
