//! The limiter's bookkeeping, apart from any waiting: which slots are taken, who waits, and
//! who gets the next slot.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::LimiterConfig;
use crate::budget::Priority;

/// One send waiting for a slot.
pub(super) struct Waiter {
    pub chat_id: i64,
    /// How far ahead of its start the slot may be handed out.
    pub ahead: Duration,
    pub tx: oneshot::Sender<Instant>,
}

/// What one chat has used.
#[derive(Debug, Default)]
struct ChatPace {
    /// The start of this chat's last slot.
    last: Option<Instant>,
    /// The starts of a group chat's most recent slots (at most the per-minute limit).
    recent: VecDeque<Instant>,
}

/// What the driver should do next.
pub(super) enum Pick {
    /// Hand this slot to this waiter.
    Grant(Waiter, Instant),
    /// Nothing can be handed out before this instant (or a new waiter).
    Wait(Instant),
    /// Nobody waits.
    Idle,
}

#[derive(Default)]
pub(super) struct State {
    /// No slot starts before this: the overall spacing and any pause.
    next_global: Option<Instant>,
    chats: HashMap<i64, ChatPace>,
    /// Chat entries after the last pruning; prune again once the map doubles.
    pruned_len: usize,
    /// No send starts before this (after a 429).
    pub paused_until: Option<Instant>,
    /// Waiters by priority: interactive first.
    pub queues: [VecDeque<Waiter>; 2],
    /// Whether a driver task is handing out slots to the queues.
    pub driving: bool,
    /// Chats a reply will ask for again before this instant (it was told to come back when
    /// the chat is free): broadcasts leave those chats' slots to it, as they would to a
    /// reply waiting in the queue.
    reserved: HashMap<i64, Instant>,
}

/// Above this many reservations, expired ones are dropped.
const PRUNE_RESERVATIONS_ABOVE: usize = 1024;

fn queue_index(priority: Priority) -> usize {
    match priority {
        Priority::Interactive => 0,
        Priority::Bulk => 1,
    }
}

impl State {
    pub fn enqueue(&mut self, priority: Priority, waiter: Waiter) {
        self.queues[queue_index(priority)].push_back(waiter);
    }

    pub fn nobody_waits(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// Whether giving `chat_id` its next slot now would delay a queued waiter of a more
    /// urgent priority than `priority`: one for the same chat (it would lose that chat's
    /// slot), or one whose own start comes before the overall slot after the one `chat_id`
    /// would take. (A waiter whose chat must wait longer loses nothing; [`State::pick`] would
    /// hand the slot on as well.)
    pub fn would_delay_more_urgent(
        &self,
        config: &LimiterConfig,
        priority: Priority,
        chat_id: i64,
        now: Instant,
    ) -> bool {
        if priority == Priority::Bulk
            && self
                .reserved
                .get(&chat_id)
                .is_some_and(|&until| until > now)
        {
            return true;
        }
        let taken = self.next_start(config, chat_id, now);
        let after = taken + config.global_spacing().unwrap_or(Duration::ZERO);
        self.queues[..queue_index(priority)]
            .iter()
            .flatten()
            .filter(|w| !w.tx.is_closed())
            .any(|w| w.chat_id == chat_id || self.next_start(config, w.chat_id, now) < after)
    }

    /// Keeps `chat_id`'s slots for a reply until `until` (see `reserved`).
    pub fn reserve(&mut self, chat_id: i64, until: Instant, now: Instant) {
        if self.reserved.len() > PRUNE_RESERVATIONS_ABOVE {
            self.reserved.retain(|_, &mut t| t > now);
        }
        let entry = self.reserved.entry(chat_id).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// A reply got its slot: the chat is no longer kept for it.
    pub fn release(&mut self, chat_id: i64) {
        self.reserved.remove(&chat_id);
    }

    /// The earliest start of a slot for `chat_id`: the next overall slot, or later if the
    /// chat's own limits say so.
    pub fn next_start(&self, config: &LimiterConfig, chat_id: i64, now: Instant) -> Instant {
        let global = self.global_slot(now);
        self.chat_ready(config, chat_id)
            .map_or(global, |r| r.max(global))
    }

    /// The earliest start of the next slot, for any chat.
    pub fn global_slot(&self, now: Instant) -> Instant {
        self.next_global.map_or(now, |next| next.max(now))
    }

    /// The earliest start of a slot for `chat_id` as far as its own limits go.
    fn chat_ready(&self, config: &LimiterConfig, chat_id: i64) -> Option<Instant> {
        let chat = self.chats.get(&chat_id)?;
        let spacing = config
            .chat_spacing()
            .and_then(|spacing| Some(chat.last? + spacing));
        let group = match config.group_limit(chat_id) {
            Some((limit, window)) if chat.recent.len() >= limit => {
                chat.recent.front().map(|oldest| *oldest + window)
            }
            _ => None,
        };
        spacing.max(group)
    }

    /// The slot `chat_id` would get now, if it may start within `ahead`.
    pub fn try_take(
        &mut self,
        config: &LimiterConfig,
        chat_id: i64,
        ahead: Duration,
        now: Instant,
    ) -> Option<Instant> {
        let global = self.global_slot(now);
        let slot = self
            .chat_ready(config, chat_id)
            .map_or(global, |r| r.max(global));
        (slot <= now + ahead).then(|| {
            self.commit(config, chat_id, slot, now);
            slot
        })
    }

    /// Chooses who gets the next slot: interactive waiters before bulk ones, first come first
    /// served within a priority, skipping waiters whose chat must wait (they do not hold up
    /// the others). A waiter that can take the next global slot is preferred over one that
    /// would leave a gap before its own.
    pub fn pick(&mut self, config: &LimiterConfig, now: Instant) -> Pick {
        for queue in &mut self.queues {
            queue.retain(|w| !w.tx.is_closed());
        }
        let global = self.global_slot(now);
        let mut exact: Option<(usize, usize)> = None;
        let mut gap_fill: Option<(usize, usize, Instant)> = None;
        let mut next_due: Option<Instant> = None;
        'scan: for (q, queue) in self.queues.iter().enumerate() {
            for (i, waiter) in queue.iter().enumerate() {
                let start = self
                    .chat_ready(config, waiter.chat_id)
                    .map_or(global, |r| r.max(global));
                let due = start.checked_sub(waiter.ahead).unwrap_or(now);
                if due > now {
                    next_due = Some(next_due.map_or(due, |d| d.min(due)));
                } else if start == global {
                    exact = Some((q, i));
                    break 'scan;
                } else if gap_fill.is_none_or(|(_, _, best)| start < best) {
                    gap_fill = Some((q, i, start));
                }
            }
        }
        let (q, i, start) = match (exact, gap_fill) {
            (Some((q, i)), _) => (q, i, global),
            (None, Some(choice)) => choice,
            (None, None) => {
                return next_due.map_or(Pick::Idle, Pick::Wait);
            }
        };
        let waiter = self.queues[q].remove(i).expect("index from the scan");
        Pick::Grant(waiter, start)
    }

    /// Records that a slot starting at `slot` went to `chat_id`.
    pub fn commit(&mut self, config: &LimiterConfig, chat_id: i64, slot: Instant, now: Instant) {
        let after = slot + config.global_spacing().unwrap_or(Duration::ZERO);
        self.next_global = Some(self.next_global.map_or(after, |next| next.max(after)));
        let spacing = config.chat_spacing();
        let group = config.group_limit(chat_id);
        if spacing.is_none() && group.is_none() {
            return;
        }
        let chat = self.chats.entry(chat_id).or_default();
        chat.last = Some(chat.last.map_or(slot, |last| last.max(slot)));
        if let Some((limit, _)) = group {
            chat.recent.push_back(slot);
            while chat.recent.len() > limit {
                chat.recent.pop_front();
            }
        }
        self.prune(config, now);
    }

    /// Holds every slot back until `until` (never shortens a pause in force).
    pub fn pause_until(&mut self, until: Instant) {
        let until = self
            .paused_until
            .map_or(until, |current| current.max(until));
        self.paused_until = Some(until);
        self.next_global = Some(self.next_global.map_or(until, |next| next.max(until)));
    }

    /// Whether a pause is in force at `now` (and forgets one that is over).
    pub fn paused_at(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(until) if until > now => true,
            Some(_) => {
                self.paused_until = None;
                false
            }
            None => false,
        }
    }

    /// Forgets chats whose limits no longer matter, once the map has doubled since the last
    /// pruning (amortised O(1) per slot).
    fn prune(&mut self, config: &LimiterConfig, now: Instant) {
        if self.chats.len() < (self.pruned_len * 2).max(1024) {
            return;
        }
        let group = config
            .group_messages_per_minute
            .map(|_| config.group_window());
        let memory = config
            .chat_spacing()
            .unwrap_or_default()
            .max(group.unwrap_or_default());
        self.chats.retain(|_, chat| {
            let latest = chat
                .last
                .into_iter()
                .chain(chat.recent.back().copied())
                .max();
            latest.is_some_and(|t| t + memory > now)
        });
        self.pruned_len = self.chats.len();
    }

    #[cfg(test)]
    pub fn chat_count(&self) -> usize {
        self.chats.len()
    }
}
