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

    /// "Deliveries are waiting": `<prefix>.deliveries.v1.ready`, a core NATS nudge (no
    /// payload, not stored) that wakes every dispatcher replica to claim work from the
    /// database queue.
    pub fn deliveries_ready(&self) -> String {
        format!("{}.deliveries.v1.ready", self.prefix)
    }

    /// The signals stream.
    pub fn signals_stream(&self) -> String {
        format!("{}_signals", self.prefix)
    }

    /// The delivery jobs stream of Herald before the database became the delivery queue:
    /// removed at start where it still exists (its jobs' rows are in the queue).
    pub fn legacy_deliveries_stream(&self) -> String {
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

    /// The durable consumer every dispatcher replica shares on the signals stream.
    pub fn dispatcher_consumer(&self) -> &'static str {
        "dispatcher"
    }

    /// The KV bucket holding the lease `name` (see [`crate::lease`]); its stream is
    /// `KV_<bucket>`.
    pub fn lease_bucket(&self, name: &str) -> String {
        format!("{}_lease_{name}", self.prefix)
    }

    /// Every stream of this installation (for cleanup), lease buckets included.
    pub fn all_streams(&self) -> [String; 4] {
        [
            self.signals_stream(),
            self.dead_letter_stream(),
            self.legacy_deliveries_stream(),
            format!("KV_{}", self.lease_bucket(crate::lease::RECONCILER)),
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
        assert_eq!(s.deliveries_ready(), "herald.deliveries.v1.ready");
        assert_eq!(s.signals_stream(), "herald_signals");
        assert_eq!(s.budget_acquire(), "herald.budget.v1.acquire");
        assert_eq!(s.budget_pause(), "herald.budget.v1.pause");
        assert_eq!(s.budget_bucket(), "herald_budget");
        let single = Asset::parse("AAPL").unwrap();
        assert_eq!(s.signal(&single), "herald.signals.v1.AAPL");
    }
}
