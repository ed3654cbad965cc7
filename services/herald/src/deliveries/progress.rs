//! The arithmetic of `--watch`: how fast a broadcast's deliveries are finishing over a recent
//! window, and when the last one will be. Pure: the caller says when each sample was taken,
//! so nothing here reads a clock.

use std::collections::VecDeque;
use std::time::Duration;

/// How far back the rate looks: long enough to smooth the pacing's bursts, short enough to
/// follow a dispatcher added or lost.
pub const WINDOW: Duration = Duration::from_secs(30);

/// Samples of "deliveries final so far", over a sliding window.
#[derive(Debug, Clone)]
pub struct Progress {
    window: Duration,
    /// `(time since watching began, deliveries final)`, oldest first.
    samples: VecDeque<(Duration, u64)>,
}

/// When the deliveries will all be final.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Eta {
    /// Nothing is left.
    Done,
    /// Nothing finished during the window (or too little is known yet): no estimate.
    Unknown,
    /// In about this long.
    In(Duration),
}

impl Progress {
    /// No samples yet; the rate looks `window` back.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Records that `done` deliveries were final at `at` (time since watching began).
    ///
    /// Counts that go backwards (an operator requeued some while watching) or a sample out of
    /// time order start the window afresh rather than produce a negative rate.
    pub fn record(&mut self, at: Duration, done: u64) {
        if let Some(&(last_at, last_done)) = self.samples.back()
            && (done < last_done || at < last_at)
        {
            self.samples.clear();
        }
        self.samples.push_back((at, done));
        // Keep one sample at or before the window's start as the base of the rate.
        while self.samples.len() > 2 && at.saturating_sub(self.samples[1].0) >= self.window {
            self.samples.pop_front();
        }
    }

    /// Deliveries finished per second over the window; `None` until two samples span some
    /// time.
    pub fn rate(&self) -> Option<f64> {
        let (&(t0, d0), &(t1, d1)) = (self.samples.front()?, self.samples.back()?);
        let seconds = t1.checked_sub(t0)?.as_secs_f64();
        (seconds > 0.0).then(|| d1.saturating_sub(d0) as f64 / seconds)
    }

    /// When `remaining` more deliveries will be final at the current rate.
    pub fn eta(&self, remaining: u64) -> Eta {
        eta(remaining, self.rate())
    }
}

/// When `remaining` deliveries will be final at `rate` per second.
pub fn eta(remaining: u64, rate: Option<f64>) -> Eta {
    if remaining == 0 {
        return Eta::Done;
    }
    match rate {
        Some(rate) if rate > 0.0 && rate.is_finite() => {
            Duration::try_from_secs_f64((remaining as f64 / rate).ceil())
                .map_or(Eta::Unknown, Eta::In)
        }
        _ => Eta::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rate_over_the_window() {
        let mut p = Progress::new(secs(30));
        assert_eq!(p.rate(), None, "no sample");
        p.record(secs(0), 100);
        assert_eq!(p.rate(), None, "one sample spans no time");
        p.record(secs(0), 100);
        assert_eq!(p.rate(), None, "two samples at one instant");
        p.record(secs(10), 400);
        assert_eq!(p.rate(), Some(30.0));
        // A burst 40 s in is measured against the window, not the start.
        for t in 11..=40 {
            p.record(secs(t), 400 + (t - 10) * 10);
        }
        assert_eq!(p.rate(), Some(10.0));
        assert!(
            p.samples.len() <= 32,
            "the window is bounded: {}",
            p.samples.len()
        );
    }

    #[test]
    fn eta_edge_cases() {
        assert_eq!(eta(0, None), Eta::Done, "all done, rate unknown");
        assert_eq!(eta(0, Some(0.0)), Eta::Done);
        assert_eq!(eta(10, None), Eta::Unknown);
        assert_eq!(eta(10, Some(0.0)), Eta::Unknown, "zero rate");
        assert_eq!(eta(10, Some(-1.0)), Eta::Unknown);
        assert_eq!(eta(10, Some(f64::NAN)), Eta::Unknown);
        assert_eq!(eta(10, Some(f64::INFINITY)), Eta::Unknown);
        assert_eq!(
            eta(u64::MAX, Some(f64::MIN_POSITIVE)),
            Eta::Unknown,
            "no overflow"
        );
        assert_eq!(eta(1, Some(3.0)), Eta::In(secs(1)), "rounded up");
        // A million traders at 30/s.
        assert_eq!(eta(1_000_000, Some(30.0)), Eta::In(secs(33_334)));
    }

    #[test]
    fn counts_going_backwards_never_panic() {
        let mut p = Progress::new(secs(30));
        p.record(secs(0), 500);
        p.record(secs(5), 600);
        // An operator requeued 300 failed deliveries: fewer are final than a moment ago.
        p.record(secs(6), 300);
        assert_eq!(p.rate(), None, "afresh");
        assert_eq!(p.eta(700), Eta::Unknown);
        p.record(secs(8), 340);
        assert_eq!(p.rate(), Some(20.0));
        // A sample out of time order.
        p.record(secs(2), 350);
        assert_eq!(p.rate(), None);
        p.record(secs(3), 350);
        assert_eq!(p.rate(), Some(0.0), "nothing finished");
        assert_eq!(p.eta(1), Eta::Unknown);
        p.record(Duration::MAX, u64::MAX);
        assert!(p.rate().is_some_and(|r| r.is_finite()));
    }
}
