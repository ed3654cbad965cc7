//! Names on the bus. Everything is derived from the installation's prefix, so that several
//! installations — and parallel tests — share one NATS server without seeing each other.

use herald_domain::Asset;

/// The subjects, streams and consumers of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Names under `prefix` (already validated by the configuration: `A-Z a-z 0-9 _ -`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where a signal for `asset` is published: `<prefix>.signals.v1.BTC-USD`.
    pub fn signal(&self, asset: &Asset) -> String {
        format!("{}.signals.v1.{}", self.prefix, asset.subject_token())
    }

    /// Every signal subject: `<prefix>.signals.v1.>`.
    pub fn signals_all(&self) -> String {
        format!("{}.signals.v1.>", self.prefix)
    }

    /// Rejected signals, with the reason in a header: `<prefix>.signals.dlq`.
    pub fn signals_dlq(&self) -> String {
        format!("{}.signals.dlq", self.prefix)
    }

    /// Delivery jobs: `<prefix>.deliveries.v1`.
    pub fn deliveries(&self) -> String {
        format!("{}.deliveries.v1", self.prefix)
    }

    /// The signals stream.
    pub fn signals_stream(&self) -> String {
        format!("{}_signals", self.prefix)
    }

    /// The delivery jobs stream.
    pub fn deliveries_stream(&self) -> String {
        format!("{}_deliveries", self.prefix)
    }

    /// The dead-letter stream.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}_dead_letters", self.prefix)
    }

    /// Slot requests to the process pacing the Telegram budget: `<prefix>.budget.v1.acquire`.
    pub fn budget_acquire(&self) -> String {
        format!("{}.budget.v1.acquire", self.prefix)
    }

    /// Telegram's 429s, announced to every process: `<prefix>.budget.v1.pause`.
    pub fn budget_pause(&self) -> String {
        format!("{}.budget.v1.pause", self.prefix)
    }

    /// The key-value bucket holding the pacer's lease: `<prefix>_budget` (its stream is
    /// `KV_<prefix>_budget`).
    pub fn budget_bucket(&self) -> String {
        format!("{}_budget", self.prefix)
    }

    /// The durable consumer every dispatcher replica shares, on both work streams.
    pub fn dispatcher_consumer(&self) -> &'static str {
        "dispatcher"
    }

    /// Every stream of this installation (for cleanup and health checks).
    pub fn all_streams(&self) -> [String; 3] {
        [
            self.signals_stream(),
            self.deliveries_stream(),
            self.dead_letter_stream(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract() {
        let s = Subjects::new("herald");
        let asset = Asset::parse("btc/usd").unwrap();
        assert_eq!(s.signal(&asset), "herald.signals.v1.BTC-USD");
        assert_eq!(s.signals_all(), "herald.signals.v1.>");
        assert_eq!(s.signals_dlq(), "herald.signals.dlq");
        assert_eq!(s.deliveries(), "herald.deliveries.v1");
        assert_eq!(s.signals_stream(), "herald_signals");
        assert_eq!(s.budget_acquire(), "herald.budget.v1.acquire");
        assert_eq!(s.budget_pause(), "herald.budget.v1.pause");
        assert_eq!(s.budget_bucket(), "herald_budget");
        let single = Asset::parse("AAPL").unwrap();
        assert_eq!(s.signal(&single), "herald.signals.v1.AAPL");
    }
}
