//! The pacer: the one process that holds the lease hands out slots from its own
//! [`Limiter`] to every process's requests, renews the lease, and stops granting the moment
//! it cannot renew.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt as _;
use herald_telegram::{Limiter, Priority};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::wire::{AcquireReply, AcquireRequest, MAX_BATCH};
use super::{BudgetConfig, LEASE_KEY};

/// A running pacer, as the rest of its process sees it.
#[derive(Debug, Clone)]
pub(super) struct Pacer {
    /// Its limiter: the bot's budget while this process leads.
    pub limiter: Limiter,
    /// Cancel to step down (the lease is released after the last grant has run out).
    pub stop: CancellationToken,
    /// Cancelled once the pacer has stopped granting and given up its lease.
    pub done: CancellationToken,
}

impl Pacer {
    /// Whether it still grants (neither asked to stop nor stopped on its own).
    pub fn is_active(&self) -> bool {
        !self.stop.is_cancelled() && !self.done.is_cancelled()
    }
}

/// Everything the pacer task needs.
pub(super) struct PacerTask {
    pub client: async_nats::Client,
    pub kv: kv::Store,
    pub subject: String,
    pub id: Bytes,
    pub revision: u64,
    pub config: BudgetConfig,
    /// When the lease was taken (the request's start: the server stored it later).
    pub taken_at: Instant,
    /// A pause this process already knows of.
    pub paused_until: Option<Instant>,
}

impl PacerTask {
    /// Subscribes to the acquire subject and starts serving; `None` if the subscription
    /// failed (the lease is left to expire).
    pub async fn start(self) -> Option<Pacer> {
        let subscriber = match self.client.subscribe(self.subject.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "budget pacer could not subscribe; not leading");
                return None;
            }
        };
        let limiter = Limiter::new(self.config.limits);
        // A slot handed out by the previous pacer can start up to `valid + horizon` after
        // its last renewal; the lease outlives that renewal by `lease_ttl`. Wait out the rest
        // (and the chat spacing), so that two pacers' slots never meet.
        let overlap = (self.config.valid() + self.config.horizon + self.config.chat_spacing())
            .saturating_sub(self.config.lease_ttl);
        let start_at = self.taken_at + overlap;
        let hold = self
            .paused_until
            .map_or(start_at, |p| p.max(start_at))
            .saturating_duration_since(Instant::now());
        if !hold.is_zero() {
            limiter.pause_for(hold);
        }
        let pacer = Pacer {
            limiter: limiter.clone(),
            stop: CancellationToken::new(),
            done: CancellationToken::new(),
        };
        tokio::spawn(self.run(subscriber, pacer.clone()));
        Some(pacer)
    }

    async fn run(self, mut subscriber: async_nats::Subscriber, pacer: Pacer) {
        tracing::info!("pacing the Telegram budget for all processes");
        let valid_until = Arc::new(Mutex::new(self.taken_at + self.config.valid()));
        let granting = CancellationToken::new();
        let mut revision = self.revision;
        let renew_every = self.config.lease_ttl / 3;
        let mut renew = tokio::time::interval_at(self.taken_at + renew_every, renew_every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let release = loop {
            tokio::select! {
                () = pacer.stop.cancelled() => break true,
                message = subscriber.next() => {
                    let Some(message) = message else { break false };
                    tokio::spawn(serve(
                        self.client.clone(),
                        message,
                        pacer.limiter.clone(),
                        self.config,
                        valid_until.clone(),
                        granting.clone(),
                    ));
                }
                _ = renew.tick() => {
                    let started = Instant::now();
                    let renewed = tokio::time::timeout(
                        renew_every,
                        self.kv.update(LEASE_KEY, self.id.clone(), revision),
                    )
                    .await;
                    match renewed {
                        Ok(Ok(next)) => {
                            revision = next;
                            *lock(&valid_until) = started + self.config.valid();
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "budget lease lost; no longer pacing");
                            break false;
                        }
                        Err(_) => {
                            tracing::warn!("budget lease renewal timed out; no longer pacing");
                            break false;
                        }
                    }
                }
            }
        };
        // Stop granting at once: requests now find no pacer and elect another.
        *lock(&valid_until) = Instant::now();
        granting.cancel();
        let _ = subscriber.unsubscribe().await;
        if release {
            // Hand over only once the slots already granted (and their chats' spacing) have
            // run out; the next pacer may then grant at once.
            tokio::time::sleep(self.config.horizon + self.config.chat_spacing()).await;
            if let Err(e) = self
                .kv
                .delete_expect_revision(LEASE_KEY, Some(revision))
                .await
            {
                tracing::debug!(error = %e, "budget lease not released; it will expire");
            }
        }
        tracing::info!(released = release, "stopped pacing the Telegram budget");
        pacer.done.cancel();
    }
}

/// Answers one acquire request: a slot within the horizon, or "ask again".
async fn serve(
    client: async_nats::Client,
    message: async_nats::Message,
    limiter: Limiter,
    config: BudgetConfig,
    valid_until: Arc<Mutex<Instant>>,
    granting: CancellationToken,
) {
    let received = Instant::now();
    let Some(reply_to) = message.reply else {
        return;
    };
    let request: AcquireRequest = match serde_json::from_slice(&message.payload) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "malformed budget request; ignored");
            return;
        }
    };
    let priority = request.priority();
    let valid = || Instant::now() < *lock(&valid_until);
    let chats: Vec<i64> = std::iter::once(request.chat_id)
        .chain(request.more.iter().copied())
        .take(MAX_BATCH)
        .collect();
    let batch = !request.more.is_empty();
    let answer = tokio::select! {
        slots = slots_for(&limiter, &chats, priority, config, &valid) => match slots {
            Slots::Granted(slots) => {
                let now = Instant::now();
                let after = |slot: Instant| slot.saturating_duration_since(now);
                match (batch, slots.first()) {
                    (false, Some(Some(slot))) => AcquireReply::grant(after(*slot), now - received),
                    (false, _) => AcquireReply::retry(Duration::ZERO),
                    (true, _) => AcquireReply::slots(
                        slots.into_iter().map(|s| s.map(after)).collect(),
                        now - received,
                    ),
                }
            }
            Slots::AskAgain(after) => AcquireReply::retry(after),
        },
        () = granting.cancelled() => AcquireReply::retry(NOT_GRANTING),
    };
    let payload = serde_json::to_vec(&answer).expect("a reply always serialises");
    if let Err(e) = client.publish(reply_to, payload.into()).await {
        tracing::debug!(error = %e, "could not answer a budget request");
    }
}

/// What a request gets.
enum Slots {
    /// One entry per chat: its slot, or none yet (at least one has a slot).
    Granted(Vec<Option<Instant>>),
    /// Nothing yet: ask again after this long.
    AskAgain(Duration),
}

/// The shortest "ask again" a broadcast is told: it cannot have a slot sooner (a reply took
/// it), and a shorter one would only spin.
const MIN_ASK_AGAIN: Duration = Duration::from_millis(5);

/// "Ask again" while this pacer cannot grant (its lease is being renewed late, or it is
/// stepping down): soon, but not at once — every waiting send of every process would ask
/// again each round trip, loading NATS just when it is slow.
const NOT_GRANTING: Duration = Duration::from_millis(25);

/// The slots for a request's `chats`: every chat whose slot lies within the horizon now
/// (never one a waiting reply needs).
///
/// When none does, a reply waits in line (at most `max_hold`) for the chat the budget
/// frees first, then takes what else is free: replies queue here, so that they take the
/// next slot ahead of any broadcast. A broadcast is not held: it is told when to ask again
/// (when its first slot could come within the horizon), so that a batch whose chats must
/// wait — a trader's second message within a second, a busy group — never holds up its
/// process's other sends. Nothing is granted once the lease has lapsed (a slot taken on a
/// dead budget goes unused).
async fn slots_for(
    limiter: &Limiter,
    chats: &[i64],
    priority: Priority,
    config: BudgetConfig,
    valid: &impl Fn() -> bool,
) -> Slots {
    // The chats that can go soonest first: a chat whose own spacing puts its slot later
    // would otherwise push the overall cursor past it, ahead of chats free now.
    let starts = limiter.next_starts(chats);
    let mut order: Vec<usize> = (0..chats.len()).collect();
    order.sort_by_key(|&i| starts[i]);
    let take_free = |slots: &mut Vec<Option<Instant>>| {
        for &i in &order {
            if slots[i].is_none() {
                slots[i] = limiter.try_grant(chats[i], priority, config.horizon);
            }
        }
    };
    if !valid() {
        return Slots::AskAgain(NOT_GRANTING);
    }
    let mut slots = vec![None; chats.len()];
    take_free(&mut slots);
    if slots.iter().all(Option::is_none) {
        // `order` begins with the chat that could go soonest (as of this request).
        let Some(&first) = order.first() else {
            return Slots::AskAgain(Duration::ZERO);
        };
        let next = starts[first];
        // Holding a reply keeps its place ahead of broadcasts for the next overall slot. But
        // a reply whose own chat must wait (Telegram's second between two messages to one
        // chat) would keep one of the few reply requests on the wire busy, so that replies
        // free to go now queue behind it: it asks again when its chat is free, like a
        // broadcast, and its chat is reserved for it meanwhile.
        let own_chat_waits = next > limiter.next_global_start() + config.horizon;
        if priority == Priority::Interactive && own_chat_waits {
            // Their chats are kept for them until they are back, so that a broadcast to the
            // same chat cannot take the slot they were told to come back for.
            for (&chat, &start) in chats.iter().zip(&starts) {
                limiter.reserve_for_reply(chat, start + config.max_hold);
            }
        }
        if priority == Priority::Bulk || own_chat_waits {
            let when = next
                .checked_sub(config.horizon)
                .map_or(Duration::ZERO, |at| {
                    at.saturating_duration_since(Instant::now())
                });
            return Slots::AskAgain(when.min(config.max_hold).max(MIN_ASK_AGAIN));
        }
        let wait = limiter.grant(chats[first], priority, config.horizon);
        match tokio::time::timeout(config.max_hold, wait).await {
            Ok(slot) => slots[first] = Some(slot),
            Err(_) => return Slots::AskAgain(Duration::ZERO),
        }
        take_free(&mut slots);
    }
    if valid() {
        Slots::Granted(slots)
    } else {
        Slots::AskAgain(NOT_GRANTING)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
