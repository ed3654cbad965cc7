//! Freshness: every signal has a deadline, after which it would reach traders too late.
//!
//! The deadline is the engine's `valid_until` when it sent one; otherwise one bar of the
//! signal's timeframe after `generated_at` (a 1H signal is stale an hour after it was
//! generated, a 1W one after a week); otherwise — closes and alerts usually carry no
//! timeframe — a configured default lifetime after `generated_at`.
//!
//! A signal is fresh strictly before its deadline and stale from the deadline on. Where a
//! signal arrives (ingest-api over HTTP, the dispatcher off NATS), [`check_fresh`] refuses a
//! stale one; the parser itself never does, so that stored signals can be read again later.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::parse::{FieldError, Rejection};
use crate::signal::{Signal, SignalKind, Timeframe};

/// The code of the field error [`check_fresh`] reports.
pub const STALE: &str = "stale";

/// What a signal's deadline was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineBasis {
    /// The engine's `valid_until`.
    ValidUntil,
    /// One bar of this timeframe after `generated_at`.
    Timeframe(Timeframe),
    /// The default lifetime of a signal without a timeframe, after `generated_at`.
    DefaultTtl(Duration),
}

/// When a signal goes stale, and why then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The first instant at which the signal is stale.
    pub at: DateTime<Utc>,
    /// What `at` was taken from.
    pub basis: DeadlineBasis,
    /// The signal's kind, to say which signals the default lifetime applies to.
    kind: SignalKind,
}

impl Deadline {
    /// Whether a signal with this deadline is stale at `now` (it is from the deadline on).
    pub fn is_past(&self, now: DateTime<Utc>) -> bool {
        now >= self.at
    }

    /// The field whose value made the signal stale: `valid_until` when the engine set the
    /// deadline, `generated_at` otherwise.
    pub fn field(&self) -> &'static str {
        match self.basis {
            DeadlineBasis::ValidUntil => "valid_until",
            DeadlineBasis::Timeframe(_) | DeadlineBasis::DefaultTtl(_) => "generated_at",
        }
    }
}

/// `2026-11-30T10:00:00Z, one 1H bar after generated_at`: the instant and where it came from.
impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        match self.basis {
            DeadlineBasis::ValidUntil => write!(f, "{at}, its valid_until"),
            DeadlineBasis::Timeframe(tf) => write!(f, "{at}, one {tf} bar after generated_at"),
            DeadlineBasis::DefaultTtl(ttl) => write!(
                f,
                "{at}, {} s after generated_at (the lifetime of a {} signal without a timeframe)",
                ttl.as_secs(),
                self.kind
            ),
        }
    }
}

impl Signal {
    /// The first instant at which this signal is stale: `valid_until`, else `generated_at` plus
    /// one bar of its timeframe, else `generated_at` plus `default_ttl`. Saturates at the
    /// latest representable time rather than overflowing.
    pub fn deadline(&self, default_ttl: Duration) -> DateTime<Utc> {
        self.expiry(default_ttl).at
    }

    /// [`Signal::deadline`], with what it was taken from (for messages and logs).
    pub fn expiry(&self, default_ttl: Duration) -> Deadline {
        let after_generated = |lifetime: TimeDelta| {
            self.generated_at
                .checked_add_signed(lifetime)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let (at, basis) = match (self.valid_until, self.timeframe) {
            (Some(at), _) => (at, DeadlineBasis::ValidUntil),
            (None, Some(tf)) => (after_generated(tf.bar()), DeadlineBasis::Timeframe(tf)),
            (None, None) => {
                let ttl = TimeDelta::from_std(default_ttl).unwrap_or(TimeDelta::MAX);
                (after_generated(ttl), DeadlineBasis::DefaultTtl(default_ttl))
            }
        };
        Deadline {
            at,
            basis,
            kind: self.kind,
        }
    }
}

/// Refuses a signal that is already past its deadline when it arrives at `now`.
///
/// Call it where a signal arrives, right after parsing it: ingest-api answers the rejection
/// with 422 `invalid_signal`, the dispatcher dead-letters it with `rejection.to_string()` as
/// the reason. The one field error names `valid_until` or `generated_at` (see
/// [`Deadline::field`]) with the code [`STALE`] and a message such as `expired at
/// 2026-11-30T10:00:00Z, one 1H bar after generated_at; received at 2026-11-30T10:02:13Z, it
/// would reach traders too late`.
pub fn check_fresh(
    signal: &Signal,
    now: DateTime<Utc>,
    default_ttl: Duration,
) -> Result<(), Rejection> {
    let deadline = signal.expiry(default_ttl);
    if !deadline.is_past(now) {
        return Ok(());
    }
    let received = now.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    Err(Rejection::Invalid(vec![FieldError {
        field: deadline.field().to_string(),
        code: STALE,
        message: format!(
            "expired at {deadline}; received at {received}, it would reach traders too late"
        ),
    }]))
}
