//! What the dispatcher's work functions share, and the delivery policy.

use std::time::Duration;

use chrono::Utc;
use herald_bus::Bus;
use herald_runtime::Settings;
use herald_store::Store;
use herald_telegram::Sender;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::batch::Batcher;
use crate::messages::MessageCache;

/// How deliveries are claimed, retried and given up.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts before a delivery is recorded as failed (429s do not count: they are
    /// Telegram's pacing, not the delivery's fault).
    pub max_attempts: u32,
    /// Sends in flight at once in this replica: claims waiting for the budget or on the wire
    /// to Telegram. An answered send frees its place before its outcome is recorded (records
    /// are batched); answered sends awaiting their record are bounded apart, at four times
    /// this.
    pub concurrency: usize,
    /// Most deliveries claimed from the queue at once (a claim takes at most as many as
    /// there are free send slots).
    pub claim_batch: usize,
    /// First retry delay; doubled each attempt, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long a claim holds a delivery without a sign of life from its replica; renewed
    /// every third of it while the send is in hand. A replica that dies leaves its claims to
    /// the reconciler after this long.
    pub lease: Duration,
    /// How long a trader's newer message waits before it is looked at again, when an older
    /// one of theirs is still on its way.
    pub order_wait: Duration,
    /// How long after a send of unknown outcome (a timeout) the one retry waits: long enough
    /// for a slow answer from Telegram to have settled.
    pub unknown_retry: Duration,
    /// How long an idle replica waits for a nudge before looking at the queue by itself
    /// (retries falling due, nudges missed).
    pub idle_poll: Duration,
    /// Deadline of signals without a timeframe or `valid_until` (closes and alerts), counted
    /// from `generated_at`.
    pub signal_ttl: Duration,
    /// Recipients read and recorded per fan-out page.
    pub fanout_page: u64,
}

impl Policy {
    /// The policy the settings ask for.
    ///
    /// With a paced budget a replica holds no more claims than the whole bot may send in a
    /// second: a claim waiting for the budget is a message a newer signal cannot overtake,
    /// and one a crash would strand until its lease runs out.
    pub fn from_settings(settings: &Settings) -> Self {
        let rate = settings.telegram_rate_limit as usize;
        let concurrency = if rate > 0 {
            settings.dispatcher_concurrency.min(rate.max(4))
        } else {
            settings.dispatcher_concurrency
        };
        Self {
            max_attempts: settings.delivery_max_attempts,
            concurrency,
            lease: Duration::from_secs(settings.ack_wait_secs),
            signal_ttl: Duration::from_secs(settings.signal_ttl_secs),
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
            concurrency: 64,
            claim_batch: 256,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            lease: Duration::from_secs(30),
            order_wait: Duration::from_secs(1),
            unknown_retry: Duration::from_secs(30),
            idle_poll: Duration::from_secs(1),
            signal_ttl: Duration::from_secs(900),
            fanout_page: 1000,
        }
    }
}

/// The dispatcher's shared parts.
pub struct DispatcherContext {
    /// The database (and its delivery queue).
    pub store: Store,
    /// The bus.
    pub bus: Bus,
    /// Telegram.
    pub sender: Sender,
    /// Retry and expiry rules.
    pub policy: Policy,
    /// Recently sent signals, rendered once per format.
    pub messages: MessageCache,
    /// Records sends in batches (see [`Store::record_sent_many`]).
    pub sent: Batcher<(Uuid, i64), ()>,
    /// Wakes this replica's sender when deliveries were queued (by its own fan-out, or by a
    /// nudge from another replica's).
    pub work: Notify,
    /// Cancelled when the replica stops: sends still waiting for the budget give their
    /// claims back instead of waiting on.
    pub stopping: CancellationToken,
    /// The last signals' trace contexts, for their deliveries' spans.
    pub traces: crate::traces::SignalTraces,
}

/// Most calls gathered into one statement.
const WRITE_BATCH: usize = 500;
/// Batched statements running at once.
const WRITES_IN_FLIGHT: usize = 4;

impl DispatcherContext {
    /// Assembles a context.
    pub fn new(store: Store, bus: Bus, sender: Sender, policy: Policy) -> Self {
        let s = store.clone();
        let sent = Batcher::spawn(
            WRITE_BATCH,
            WRITES_IN_FLIGHT,
            move |sends: Vec<(Uuid, i64)>| {
                let s = s.clone();
                async move {
                    s.record_sent_many(&sends, Utc::now()).await?;
                    Ok(vec![(); sends.len()])
                }
            },
        );
        Self {
            store,
            bus,
            sender,
            policy,
            messages: MessageCache::default(),
            sent,
            work: Notify::new(),
            stopping: CancellationToken::new(),
            traces: Default::default(),
        }
    }

    /// The same context, stopping when `stopping` is cancelled.
    pub fn with_stopping(mut self, stopping: CancellationToken) -> Self {
        self.stopping = stopping;
        self
    }

    /// A claim's lease as a database interval.
    pub fn lease(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.policy.lease).unwrap_or(chrono::TimeDelta::MAX)
    }

    /// `d` from now, as a database timestamp.
    pub fn after(&self, d: Duration) -> chrono::DateTime<Utc> {
        chrono::TimeDelta::from_std(d)
            .ok()
            .and_then(|d| Utc::now().checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
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
