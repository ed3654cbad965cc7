//! Pacing sends to Telegram within one process: an overall rate, a minimum spacing per chat,
//! a per-minute limit per group chat, priorities, and a global pause after a 429.
//!
//! The [`Limiter`] is the [`Budget`] of a process that sends alone (tests, benchmarks). Where
//! several processes send as one bot, `herald_bus::budget::SharedBudget` elects one of them
//! to run a `Limiter` for all, through [`Limiter::grant`].
//!
//! How it waits: a send that finds nobody waiting and its slot free takes it at once, under
//! a mutex. Otherwise it joins a queue (interactive or bulk) and one driver task hands out
//! slots as they come due — interactive waiters first, first come first served within a
//! priority, skipping waiters whose chat must wait so that one busy chat holds up nobody.
//! No polling: the driver sleeps until the next slot or the next arrival.
//!
//! **Safety margin.** Telegram (and the Bot API double) count sends over sliding windows
//! with no slack: 30 in any second, 1 per chat in any second, 20 per group in any minute.
//! A slot is where a send *starts*; wake-up and network jitter between that instant and the
//! request's arrival can squeeze 31 arrivals into one second. Every window is therefore
//! widened by [`LimiterConfig::guard`] (default [`DEFAULT_GUARD`]): sends are spaced
//! `(1 s + guard) / rate` apart, a chat's sends `per_chat_interval + guard`, a group's 20
//! within `60 s + guard`. With 25 ms that is 97.6 % of the nominal rate. And a send that
//! wakes more than [`LATE_TOLERANCE`] after its slot started gives the slot up and takes
//! another (up to [`MAX_LATE_SLOTS`] times), so that a stalled process does not release a
//! bunch of late sends at once.

mod pace;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::budget::{BoxFuture, Budget, Priority};
use pace::{Pick, State, Waiter};

/// The default widening of every rate window (see the module docs): enough for the jitter
/// between a slot and the request's arrival measured on loopback (`docs/benchmarks.md`).
pub const DEFAULT_GUARD: Duration = Duration::from_millis(25);

/// How late after its slot's start a send may still go. A send that wakes later than this
/// (a busy CPU) would arrive bunched with the sends after it — squeezing more into one
/// window than the guard covers — so its slot is given up and a new one taken instead.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(15);

/// How many late slots one send gives up before it goes late all the same (so that a
/// starved process still makes progress).
pub const MAX_LATE_SLOTS: u32 = 3;

/// Telegram's window for group chats.
const GROUP_WINDOW: Duration = Duration::from_secs(60);

/// How fast a [`Limiter`] lets sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Sends per second across all chats (sends are spaced evenly, `(1 s + guard) / rate`
    /// apart; 0 is taken as 1); `None` for no overall limit (benchmarks against a double).
    /// Telegram allows about 30 per bot, 1000 with paid broadcasts.
    pub messages_per_second: Option<u32>,
    /// Minimum time between two sends to the same chat (plus the guard); `Duration::ZERO`
    /// for none. Telegram allows about one message per second per chat.
    pub per_chat_interval: Duration,
    /// Most sends to one group chat (a negative chat id: groups, supergroups, channels) in
    /// any minute (plus the guard); `None` for no such limit. Telegram allows 20.
    pub group_messages_per_minute: Option<u32>,
    /// The widening of every window against jitter (see the module docs).
    pub guard: Duration,
}

impl Default for LimiterConfig {
    /// Telegram's limits for one bot: 30 messages/second overall, 1 per second per chat, 20
    /// per minute per group, with the [`DEFAULT_GUARD`].
    fn default() -> Self {
        Self {
            messages_per_second: Some(30),
            per_chat_interval: Duration::from_secs(1),
            group_messages_per_minute: Some(20),
            guard: DEFAULT_GUARD,
        }
    }
}

impl LimiterConfig {
    /// No pacing at all (a pause after a 429 still applies).
    pub fn unlimited() -> Self {
        Self {
            messages_per_second: None,
            per_chat_interval: Duration::ZERO,
            group_messages_per_minute: None,
            guard: Duration::ZERO,
        }
    }

    /// Telegram's limits with an overall rate of `messages_per_second` (the setting
    /// `HERALD_TELEGRAM_RATE_LIMIT`; 0 = no overall limit, the per-chat and group limits
    /// still apply).
    pub fn with_rate(messages_per_second: u32) -> Self {
        Self {
            messages_per_second: (messages_per_second > 0).then_some(messages_per_second),
            ..Self::default()
        }
    }

    /// Time between two slots across all chats.
    pub(crate) fn global_spacing(&self) -> Option<Duration> {
        self.messages_per_second
            .map(|rate| (Duration::from_secs(1) + self.guard) / rate.max(1))
    }

    /// Time between two slots of one chat.
    pub(crate) fn chat_spacing(&self) -> Option<Duration> {
        (!self.per_chat_interval.is_zero()).then_some(self.per_chat_interval + self.guard)
    }

    /// `(most slots, window)` for `chat_id` if it is a group chat under a group limit.
    pub(crate) fn group_limit(&self, chat_id: i64) -> Option<(usize, Duration)> {
        let limit = self.group_messages_per_minute.filter(|_| chat_id < 0)?;
        Some((limit.max(1) as usize, self.group_window()))
    }

    pub(crate) fn group_window(&self) -> Duration {
        GROUP_WINDOW + self.guard
    }
}

/// Process-local pacing of sends (cheap to clone; clones share the budget).
#[derive(Debug, Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    config: LimiterConfig,
    state: Mutex<State>,
    /// Wakes the driver: a new waiter or a pause.
    wake: Notify,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Limiter {
    /// A limiter with this configuration.
    pub fn new(config: LimiterConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                wake: Notify::new(),
            }),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> LimiterConfig {
        self.inner.config
    }

    /// Takes the next slot for `chat_id` that starts at most `ahead` from now — waiting, in
    /// line by `priority`, until there is one — and returns when that slot starts.
    ///
    /// The slot is taken: the caller must send at that instant, not before, and must not
    /// send at all if a pause begins before it (then the slot is void; ask again).
    /// [`Budget::acquire`] is `grant` with no lookahead, followed by that wait. A coordinator
    /// that hands slots to other processes uses a lookahead as long as the round trip, so
    /// the grant arrives before the slot starts. Use one lookahead per limiter: a waiter with
    /// a longer one may take a slot ahead of a higher-priority waiter with a shorter one.
    pub async fn grant(&self, chat_id: i64, priority: Priority, ahead: Duration) -> Instant {
        let rx = {
            let mut state = self.inner.lock();
            let now = Instant::now();
            if state.nobody_waits()
                && let Some(slot) = state.try_take(&self.inner.config, chat_id, ahead, now)
            {
                if priority == Priority::Interactive {
                    state.release(chat_id);
                }
                return slot;
            }
            let (tx, rx) = oneshot::channel();
            state.enqueue(priority, Waiter { chat_id, ahead, tx });
            if state.driving {
                self.inner.wake.notify_one();
            } else {
                state.driving = true;
                tokio::spawn(drive(self.inner.clone()));
            }
            rx
        };
        // The driver answers every waiter it does not drop for a closed channel; if it is
        // gone (the runtime is shutting down), there is nobody left to pace against.
        let slot = rx.await.unwrap_or_else(|_| Instant::now());
        if priority == Priority::Interactive {
            self.inner.lock().release(chat_id);
        }
        slot
    }

    /// Takes a slot for `chat_id` that starts at most `ahead` from now if there is one,
    /// without waiting: `None` if there is none, or if taking it would delay a queued waiter
    /// of a more urgent priority (never overtaken; waiters of the same priority may be). A
    /// coordinator granting a batch of sends uses it, so that one round trip can carry many
    /// slots when the budget has them. The same rules as for `grant`'s slots apply.
    pub fn try_grant(&self, chat_id: i64, priority: Priority, ahead: Duration) -> Option<Instant> {
        let mut state = self.inner.lock();
        let now = Instant::now();
        if state.would_delay_more_urgent(&self.inner.config, priority, chat_id, now) {
            return None;
        }
        let slot = state.try_take(&self.inner.config, chat_id, ahead, now);
        if slot.is_some() && priority == Priority::Interactive {
            state.release(chat_id);
        }
        slot
    }

    /// Keeps `chat_id`'s slots from broadcasts until `until`: a reply to it was told to ask
    /// again when the chat is free, and must not find its slot taken by a broadcast then. A
    /// reply's grant ends the reservation; otherwise it lapses at `until`.
    pub fn reserve_for_reply(&self, chat_id: i64, until: Instant) {
        self.inner.lock().reserve(chat_id, until, Instant::now());
    }

    /// The earliest a slot could start for each of `chats`, as things stand: a coordinator
    /// grants a batch the chats that can go soonest first, and tells a batch it cannot serve
    /// now when to ask again.
    pub fn next_starts(&self, chats: &[i64]) -> Vec<Instant> {
        let state = self.inner.lock();
        let now = Instant::now();
        chats
            .iter()
            .map(|&chat| state.next_start(&self.inner.config, chat, now))
            .collect()
    }

    /// The earliest a slot could start for any chat (the overall pace and pauses alone).
    pub fn next_global_start(&self) -> Instant {
        self.inner.lock().global_slot(Instant::now())
    }

    /// Holds every send back for `duration` from now (extends, never shortens, a pause in
    /// force). Call it when Telegram answers 429: sending on during a flood wait makes
    /// Telegram lengthen it. Slots already granted that start before the end are void.
    pub fn pause_for(&self, duration: Duration) {
        self.inner.lock().pause_until(Instant::now() + duration);
        self.inner.wake.notify_one();
    }

    /// When the pause in force ends, if one is.
    pub fn paused_until(&self) -> Option<Instant> {
        self.inner
            .lock()
            .paused_until
            .filter(|until| *until > Instant::now())
    }

    /// Whether a pause is in force now (a slot starting now is void).
    fn is_paused(&self) -> bool {
        self.inner.lock().paused_at(Instant::now())
    }
}

/// Hands out slots to the queued waiters as they come due; ends when nobody waits.
async fn drive(inner: Arc<Inner>) {
    loop {
        let next = {
            let mut state = inner.lock();
            loop {
                let now = Instant::now();
                match state.pick(&inner.config, now) {
                    Pick::Grant(waiter, slot) => {
                        state.commit(&inner.config, waiter.chat_id, slot, now);
                        // A waiter that gave up just now wastes its slot: rare and harmless.
                        let _ = waiter.tx.send(slot);
                    }
                    Pick::Wait(at) => break at,
                    Pick::Idle => {
                        state.driving = false;
                        return;
                    }
                }
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = inner.wake.notified() => {}
        }
    }
}

impl Budget for Limiter {
    fn acquire(&self, chat_id: i64, priority: Priority) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut late = 0;
            loop {
                let slot = self.grant(chat_id, priority, Duration::ZERO).await;
                tokio::time::sleep_until(slot).await;
                // A pause may have begun while we waited: then this slot is void.
                if self.is_paused() {
                    continue;
                }
                if slot.elapsed() > LATE_TOLERANCE && late < MAX_LATE_SLOTS {
                    late += 1;
                    continue;
                }
                return;
            }
        })
    }

    fn pause(&self, wait: Duration) {
        self.pause_for(wait);
    }

    fn paused_until(&self) -> Option<Instant> {
        Limiter::paused_until(self)
    }

    fn rate_limit(&self) -> Option<u32> {
        self.inner.config.messages_per_second
    }
}

#[cfg(test)]
mod tests;
