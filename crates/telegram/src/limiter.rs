//! Pacing sends to Telegram within one process: an overall rate, a minimum spacing per chat
//! and a global pause after a 429.
//!
//! **The budget is per process.** Each replica of the dispatcher has its own `Limiter`, so N
//! replicas together send up to N× the configured rate and Telegram answers the excess with
//! 429s (which then pause each replica in turn). Configure `messages_per_second` as the
//! bot's budget divided by the replica count until a shared budget replaces this.
//!
//! How it waits: each `acquire` computes its slot under a mutex and then sleeps until that
//! slot — no polling, no busy loop. A chat that must wait for its own spacing does not hold
//! a global slot meanwhile, so one busy chat does not slow the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// How fast a [`Limiter`] lets sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Sends per second across all chats (sends are spaced evenly, `1 s / rate` apart; 0 is
    /// taken as 1); `None` for no overall limit (benchmarks against a double). Telegram
    /// allows about 30 per bot — divide by the number of replicas.
    pub messages_per_second: Option<u32>,
    /// Minimum time between two sends to the same chat; `Duration::ZERO` for none.
    /// Telegram allows about one message per second per chat.
    pub per_chat_interval: Duration,
}

impl Default for LimiterConfig {
    /// Telegram's limits for one bot: 30 messages/second overall, 1 per second per chat.
    fn default() -> Self {
        Self {
            messages_per_second: Some(30),
            per_chat_interval: Duration::from_secs(1),
        }
    }
}

impl LimiterConfig {
    /// No pacing at all (a pause after a 429 still applies).
    pub fn unlimited() -> Self {
        Self {
            messages_per_second: None,
            per_chat_interval: Duration::ZERO,
        }
    }
}

/// Process-local pacing of sends (cheap to clone; clones share the budget).
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Mutex<State>>,
    config: LimiterConfig,
}

#[derive(Debug)]
struct State {
    /// Earliest time the next global slot may start (a leaky bucket with no burst).
    next_global: Instant,
    /// Earliest time of the next send per chat.
    next_per_chat: HashMap<i64, Instant>,
    /// Chat entries after the last pruning; prune again once the map doubles.
    pruned_len: usize,
    /// No send starts before this (after a 429).
    paused_until: Option<Instant>,
}

impl Limiter {
    /// A limiter with this configuration.
    pub fn new(config: LimiterConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(State {
                next_global: Instant::now(),
                next_per_chat: HashMap::new(),
                pruned_len: 0,
                paused_until: None,
            })),
            config,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> LimiterConfig {
        self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a message may be sent to `chat_id`, and takes that slot.
    pub async fn acquire(&self, chat_id: i64) {
        loop {
            let (slot, wait_only) = self.reserve(chat_id);
            tokio::time::sleep_until(slot).await;
            if wait_only {
                continue;
            }
            // A pause may have begun while we slept: then this slot is void.
            match self.lock().paused_until {
                Some(until) if until > Instant::now() => continue,
                _ => return,
            }
        }
    }

    /// Either takes a slot (`(slot, false)`) or says how long to wait before asking again
    /// (`(instant, true)`) because of a pause or the chat's spacing.
    fn reserve(&self, chat_id: i64) -> (Instant, bool) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(until) = state.paused_until {
            if until > now {
                return (until, true);
            }
            state.paused_until = None;
        }
        let spacing = !self.config.per_chat_interval.is_zero();
        if spacing
            && let Some(&next) = state.next_per_chat.get(&chat_id)
            && next > now
        {
            return (next, true);
        }
        let slot = match self.config.messages_per_second {
            Some(rate) => {
                let slot = state.next_global.max(now);
                state.next_global = slot + Duration::from_secs(1) / rate.max(1);
                slot
            }
            None => now,
        };
        if spacing {
            state
                .next_per_chat
                .insert(chat_id, slot + self.config.per_chat_interval);
            prune(&mut state, now);
        }
        (slot, false)
    }

    /// Holds every send back for `duration` from now (extends, never shortens, a pause in
    /// force). Call it when Telegram answers 429: sending on during a flood wait makes
    /// Telegram lengthen it.
    pub fn pause_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        let mut state = self.lock();
        let until = state
            .paused_until
            .map_or(until, |current| current.max(until));
        state.paused_until = Some(until);
        state.next_global = state.next_global.max(until);
    }

    /// When the pause in force ends, if one is.
    pub fn paused_until(&self) -> Option<Instant> {
        self.lock()
            .paused_until
            .filter(|until| *until > Instant::now())
    }
}

/// Forgets chats whose spacing has passed, once the map has doubled since the last pruning
/// (amortised O(1) per acquire).
fn prune(state: &mut State, now: Instant) {
    if state.next_per_chat.len() >= (state.pruned_len * 2).max(1024) {
        state.next_per_chat.retain(|_, next| *next > now);
        state.pruned_len = state.next_per_chat.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: Option<u32>, per_chat_ms: u64) -> Limiter {
        Limiter::new(LimiterConfig {
            messages_per_second: per_second,
            per_chat_interval: Duration::from_millis(per_chat_ms),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn overall_rate_spaces_sends_evenly() {
        let limiter = limiter(Some(10), 0);
        let start = Instant::now();
        let mut at = Vec::new();
        for chat in 0..5 {
            limiter.acquire(chat).await;
            at.push(start.elapsed());
        }
        let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 100, 200, 300, 400]);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_does_not_wait() {
        let limiter = Limiter::new(LimiterConfig::unlimited());
        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire(7).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn one_chat_waits_its_spacing_without_holding_others() {
        let limiter = limiter(Some(100), 1000);
        let start = Instant::now();
        limiter.acquire(1).await; // t = 0
        let (second_to_1, other) = tokio::join!(
            async {
                limiter.acquire(1).await;
                start.elapsed()
            },
            async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                limiter.acquire(2).await;
                start.elapsed()
            }
        );
        assert_eq!(second_to_1, Duration::from_secs(1));
        assert_eq!(
            other,
            Duration::from_millis(10),
            "chat 2 takes the next global slot"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_every_send() {
        let limiter = limiter(None, 0);
        let start = Instant::now();
        limiter.pause_for(Duration::from_secs(3));
        assert_eq!(limiter.paused_until(), Some(start + Duration::from_secs(3)));
        limiter.pause_for(Duration::from_secs(1)); // never shortens
        let (a, b) = tokio::join!(
            async {
                limiter.acquire(1).await;
                start.elapsed()
            },
            async {
                limiter.acquire(2).await;
                start.elapsed()
            }
        );
        assert_eq!((a, b), (Duration::from_secs(3), Duration::from_secs(3)));
        assert_eq!(limiter.paused_until(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_voids_slots_taken_before_it() {
        let limiter = limiter(Some(1), 0);
        let start = Instant::now();
        limiter.acquire(1).await; // t = 0; the next slot is t = 1 s
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter.acquire(2).await;
                start.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        limiter.pause_for(Duration::from_secs(5)); // until t = 5.5 s
        assert_eq!(waiter.await.unwrap(), Duration::from_millis(5500));
    }

    #[test]
    fn pruning_forgets_old_chats() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let limiter = limiter(None, 1000);
            for chat in 0..2000 {
                limiter.acquire(chat).await;
            }
            tokio::time::advance(Duration::from_secs(2)).await;
            for chat in 2000..4100 {
                limiter.acquire(chat).await;
            }
            assert!(limiter.lock().next_per_chat.len() < 4100);
        });
    }
}
