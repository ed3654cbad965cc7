//! A per-trader limit on commands and button presses: over it, one polite "slow down", then
//! silence until the trader's minute has passed. Each replica counts its own traders'
//! updates (with a webhook behind a load balancer, a trader's updates may be spread over
//! replicas: the limit then applies per replica).
//!
//! The limit is applied by [`Gated`], around the update listener, before teloxide queues an
//! update for its chat: a trader flooding the bot fills no queue, so the dispatcher's loop
//! never waits on them and every other trader is answered as usual.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::ready;
use futures::stream::{BoxStream, StreamExt as _};
use herald_telegram::Sender;
use teloxide::stop::StopToken;
use teloxide::types::{AllowedUpdate, Update, UpdateKind};
use teloxide::update_listeners::{AsUpdateStream, UpdateListener};

/// The window the limit counts in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Above this many traders tracked, expired windows are dropped (memory stays bounded by
/// the traders active in the last minute).
const PRUNE_ABOVE: usize = 10_000;

/// What to do with a trader's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer it.
    Allow,
    /// The first message over the limit: say "slow down" once.
    SlowDown,
    /// Over the limit, already told: ignore it.
    Ignore,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// Counts each trader's messages in a fixed window from their first one.
#[derive(Debug)]
pub struct RateLimiter {
    per_window: u32,
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_trader: HashMap<i64, Window>,
    /// When expired windows were last dropped: at most once a [`WINDOW`], so that a crowd of
    /// traders costs one sweep a minute, not one per message.
    pruned: Option<Instant>,
}

impl RateLimiter {
    /// At most `per_window` messages per trader per [`WINDOW`]; 0 turns the limit off.
    pub fn new(per_window: u32) -> Self {
        Self {
            per_window,
            windows: Mutex::new(Windows::default()),
        }
    }

    /// Counts a message from `trader` at `now`.
    pub fn check(&self, trader: i64, now: Instant) -> Verdict {
        if self.per_window == 0 {
            return Verdict::Allow;
        }
        let mut windows = self.windows.lock().expect("rate limiter lock");
        let due = windows
            .pruned
            .is_none_or(|at| now.duration_since(at) >= WINDOW);
        if windows.by_trader.len() > PRUNE_ABOVE && due {
            windows
                .by_trader
                .retain(|_, w| now.duration_since(w.started) < WINDOW);
            windows.pruned = Some(now);
        }
        let window = windows.by_trader.entry(trader).or_insert(Window {
            started: now,
            count: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                count: 0,
            };
        }
        window.count = window.count.saturating_add(1);
        if window.count <= self.per_window {
            Verdict::Allow
        } else if window.count == self.per_window + 1 {
            Verdict::SlowDown
        } else {
            Verdict::Ignore
        }
    }
}

/// An update listener that lets through only what the rate limit allows.
pub struct Gated<L> {
    inner: L,
    gate: Arc<Gate>,
}

impl<L> Gated<L> {
    /// Gates `inner` with `limiter`; "slow down" goes out through `sender`.
    pub fn new(inner: L, limiter: Arc<RateLimiter>, sender: Sender) -> Self {
        Self {
            inner,
            gate: Arc::new(Gate { limiter, sender }),
        }
    }
}

impl<'a, L> AsUpdateStream<'a> for Gated<L>
where
    L: UpdateListener + 'a,
    L::Err: Send + 'a,
{
    type StreamErr = L::Err;
    type Stream = BoxStream<'a, Result<Update, L::Err>>;

    fn as_stream(&'a mut self) -> Self::Stream {
        let gate = self.gate.clone();
        self.inner
            .as_stream()
            .filter(move |update| {
                ready(match update {
                    Ok(update) => gate.admit(update),
                    Err(_) => true,
                })
            })
            .boxed()
    }
}

impl<L> UpdateListener for Gated<L>
where
    L: UpdateListener + 'static,
    L::Err: Send + 'static,
{
    type Err = L::Err;

    fn stop_token(&mut self) -> StopToken {
        self.inner.stop_token()
    }

    fn hint_allowed_updates(&mut self, hint: &mut dyn Iterator<Item = AllowedUpdate>) {
        self.inner.hint_allowed_updates(hint);
    }
}

struct Gate {
    limiter: Arc<RateLimiter>,
    sender: Sender,
}

impl Gate {
    /// Whether `update` goes on to the handlers. Counted: a trader's private messages,
    /// their commands in groups, and their button presses; group chatter is not.
    fn admit(&self, update: &Update) -> bool {
        let counted = match &update.kind {
            UpdateKind::Message(msg) => {
                msg.chat.is_private() || msg.text().is_some_and(|t| t.starts_with('/'))
            }
            UpdateKind::CallbackQuery(_) => true,
            _ => false,
        };
        let Some(user) = update.from().filter(|_| counted) else {
            return true;
        };
        let telegram_id = user.id.0 as i64;
        match self.limiter.check(telegram_id, Instant::now()) {
            Verdict::Allow => true,
            Verdict::Ignore => {
                metrics::counter!("herald_command_bot_rate_limited_total").increment(1);
                false
            }
            Verdict::SlowDown => {
                metrics::counter!("herald_command_bot_rate_limited_total").increment(1);
                tracing::warn!(
                    target: "herald::security",
                    telegram_id,
                    event = "command_rate_limited",
                    "a trader went over the command rate limit; their updates are ignored for the rest of the minute"
                );
                let text = crate::words::t(crate::words::telegram_language(user), "slow-down");
                let sender = self.sender.clone();
                match &update.kind {
                    UpdateKind::CallbackQuery(q) => {
                        let id = q.id.0.clone();
                        tokio::spawn(async move {
                            let _ = sender.answer_callback(&id, Some(&text)).await;
                        });
                    }
                    UpdateKind::Message(msg) => {
                        let chat = msg.chat.id.0;
                        tokio::spawn(async move {
                            if let Err(e) = sender.reply_html(chat, &text).await {
                                tracing::debug!(chat_id = chat, error = %e, "could not say slow down");
                            }
                        });
                    }
                    _ => {}
                }
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_one_warning_then_silence_until_the_window_passes() {
        let limiter = RateLimiter::new(3);
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..6).map(|_| limiter.check(7, t0)).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::SlowDown,
                Verdict::Ignore,
                Verdict::Ignore
            ]
        );
        // Another trader is not affected.
        assert_eq!(limiter.check(8, t0), Verdict::Allow);
        // A minute later, the trader is answered again.
        assert_eq!(limiter.check(7, t0 + WINDOW), Verdict::Allow);
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(0);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.check(1, t0) == Verdict::Allow));
    }

    #[test]
    fn expired_windows_are_dropped_when_many_traders_are_tracked() {
        let limiter = RateLimiter::new(5);
        let t0 = Instant::now();
        for trader in 0..=PRUNE_ABOVE as i64 {
            limiter.check(trader, t0);
        }
        limiter.check(-1, t0 + WINDOW);
        assert_eq!(limiter.windows.lock().unwrap().by_trader.len(), 1);
        // Not again within the minute, however many traders come.
        for trader in 0..=PRUNE_ABOVE as i64 {
            limiter.check(trader, t0 + WINDOW);
        }
        limiter.check(-2, t0 + WINDOW + WINDOW / 2);
        assert_eq!(
            limiter.windows.lock().unwrap().by_trader.len(),
            PRUNE_ABOVE + 3
        );
    }
}
