//! A per-trader limit on commands: over it, one polite "slow down", then silence until the
//! trader's minute has passed. Each replica counts its own traders' messages (with a webhook
//! behind a load balancer, a trader's messages may be spread over replicas: the limit then
//! applies per replica).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    windows: Mutex<HashMap<i64, Window>>,
}

impl RateLimiter {
    /// At most `per_window` messages per trader per [`WINDOW`]; 0 turns the limit off.
    pub fn new(per_window: u32) -> Self {
        Self {
            per_window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a message from `trader` at `now`.
    pub fn check(&self, trader: i64, now: Instant) -> Verdict {
        if self.per_window == 0 {
            return Verdict::Allow;
        }
        let mut windows = self.windows.lock().expect("rate limiter lock");
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
        }
        let window = windows.entry(trader).or_insert(Window {
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
        assert_eq!(limiter.windows.lock().unwrap().len(), 1);
    }
}
