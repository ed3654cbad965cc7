//! What the dispatcher's work functions share, and the delivery policy.

use std::time::Duration;

use chrono::Utc;
use herald_bus::Bus;
use herald_runtime::Settings;
use herald_store::{AttemptStart, Store};
use herald_telegram::Sender;
use uuid::Uuid;

use crate::batch::Batcher;
use crate::messages::MessageCache;

/// How deliveries are retried and when they give up.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts before a delivery is recorded as failed (429s do not count: they are
    /// Telegram's pacing, not the delivery's fault).
    pub max_attempts: u32,
    /// A delivery older than this is recorded as expired instead of sent.
    pub max_age: Duration,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// First retry delay; doubled each attempt, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long JetStream waits for an ack; work in progress reports in at a third of it.
    pub ack_wait: Duration,
}

impl Policy {
    /// The policy the settings ask for.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            max_attempts: settings.delivery_max_attempts,
            // Interim, until deliveries expire at their signal's own deadline: the setting
            // that bounded a delivery's age is gone, and the default lifetime of a signal
            // without a timeframe stands in for it.
            max_age: Duration::from_secs(settings.signal_ttl_secs),
            concurrency: settings.dispatcher_concurrency,
            ack_wait: Duration::from_secs(settings.ack_wait_secs),
            ..Self::default()
        }
    }

    /// The delay before retry number `attempt` (1-based), with up to 20 % jitter so that
    /// many failed sends do not come back at the same instant.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let jitter = rand::random_range(0.0..0.2);
        exp.mul_f64(1.0 + jitter).min(self.max_backoff)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
            concurrency: 64,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            ack_wait: Duration::from_secs(30),
        }
    }
}

/// The dispatcher's shared parts.
pub struct DispatcherContext {
    /// The database.
    pub store: Store,
    /// The bus.
    pub bus: Bus,
    /// Telegram.
    pub sender: Sender,
    /// Retry and expiry rules.
    pub policy: Policy,
    /// Recently sent signals, rendered once per format.
    pub messages: MessageCache,
    /// Starts attempts in batches (see [`Store::begin_attempts`]).
    pub attempts: Batcher<Uuid, AttemptStart>,
    /// Records sends in batches (see [`Store::record_sent_many`]).
    pub sent: Batcher<(Uuid, i64), ()>,
}

/// Most calls gathered into one statement.
const WRITE_BATCH: usize = 500;

impl DispatcherContext {
    /// Assembles a context.
    pub fn new(store: Store, bus: Bus, sender: Sender, policy: Policy) -> Self {
        let s = store.clone();
        // An attempt in flight holds its delivery for one ack wait past its last sign of life
        // (JetStream hands a job to another replica only after that long without progress).
        let lease = chrono::TimeDelta::from_std(policy.ack_wait).unwrap_or(chrono::TimeDelta::MAX);
        let attempts = Batcher::spawn(WRITE_BATCH, move |ids: Vec<Uuid>| {
            let s = s.clone();
            async move { Ok(s.begin_attempts(&ids, Utc::now(), lease).await?) }
        });
        let s = store.clone();
        let sent = Batcher::spawn(WRITE_BATCH, move |sends: Vec<(Uuid, i64)>| {
            let s = s.clone();
            async move {
                s.record_sent_many(&sends, Utc::now()).await?;
                Ok(vec![(); sends.len()])
            }
        });
        Self {
            store,
            bus,
            sender,
            policy,
            messages: MessageCache::default(),
            attempts,
            sent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = Policy::default();
        let first = p.backoff(1);
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1200));
        let third = p.backoff(3);
        assert!(third >= Duration::from_secs(4) && third <= Duration::from_millis(4800));
        assert!(p.backoff(30) <= p.max_backoff);
        assert!(p.backoff(30) >= Duration::from_secs(50));
    }
}
