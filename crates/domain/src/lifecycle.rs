//! How a position ends: a buy or sell opens one, a close that names it
//! (`closes_signal_id`) ends it, and the close's [`PositionOutcome`] records how — exit
//! price, return and reason.
//!
//! [`judge_close`] is the one rule both ingest paths apply (HTTP answers 422, NATS parks the
//! close on the dead-letter subject), with the stored signal the close names and whatever
//! outcome that signal already has. Its refusals are [`FieldError`]s of `closes_signal_id`
//! (or `asset`, `generated_at`) with these codes:
//!
//! | code             | meaning                                                      |
//! |------------------|--------------------------------------------------------------|
//! | `unknown_signal` | no signal with that id was ever accepted                     |
//! | `not_a_position` | the named signal is a close or an alert: it opened nothing   |
//! | `asset_mismatch` | the named signal is for another asset                        |
//! | `already_closed` | another close ended that position already                    |
//! | `out_of_order`   | the close was generated before the signal it closes          |

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;

use crate::parse::{FieldError, Rejection};
use crate::signal::{CloseReason, Signal, SignalId, SignalKind};

/// How a position ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionOutcome {
    /// The buy or sell whose position ended.
    pub signal_id: SignalId,
    /// The close that ended it.
    pub close_signal_id: SignalId,
    /// Buy or sell.
    pub kind: SignalKind,
    /// The asset.
    pub asset: String,
    /// The model that produced the position's signal.
    pub source_model: Option<String>,
    /// Where the position was entered.
    pub entry_price: Option<Decimal>,
    /// Where it was left: the close's price, else the target or stop its reason names, else
    /// unknown.
    pub exit_price: Option<Decimal>,
    /// The return in percent ([`return_pct`]); unknown without both prices.
    pub return_pct: Option<Decimal>,
    /// Why it ended, as the close says.
    pub reason: Option<CloseReason>,
    /// When the position's signal was generated.
    pub opened_at: DateTime<Utc>,
    /// When the close was generated.
    pub closed_at: DateTime<Utc>,
}

impl PositionOutcome {
    /// How long the position was open.
    pub fn open_for(&self) -> TimeDelta {
        self.closed_at - self.opened_at
    }
}

/// The return of a position in percent: `(exit − entry) / entry × 100` for a buy, `(entry −
/// exit) / entry × 100` for a sell, in exact decimal arithmetic (rounded only where a
/// decimal cannot hold the quotient: past 28 significant digits). `None` for a close or an
/// alert, a non-positive entry, or arithmetic that overflows.
pub fn return_pct(kind: SignalKind, entry: Decimal, exit: Decimal) -> Option<Decimal> {
    if entry <= Decimal::ZERO {
        return None;
    }
    let moved = match kind {
        SignalKind::Buy => exit.checked_sub(entry)?,
        SignalKind::Sell => entry.checked_sub(exit)?,
        SignalKind::Close | SignalKind::Alert => return None,
    };
    moved
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(entry)
        .map(|r| r.normalize())
}

/// What is already recorded about the position a close names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// No signal with that id is stored.
    Unknown,
    /// The stored signal, and the close that already ended its position, if one did.
    Known {
        /// The signal the close names.
        signal: Box<Signal>,
        /// The close already recorded for it.
        closed_by: Option<SignalId>,
    },
}

/// Judges `close` against the position it names: the outcome to record, or why the close is
/// refused (see the module docs). A close that names no signal has no outcome (`Ok(None)`).
/// The same close judged again after its outcome was recorded (a redelivery) gets the same
/// outcome back, not a refusal.
pub fn judge_close(
    close: &Signal,
    position: &Position,
) -> Result<Option<PositionOutcome>, Rejection> {
    let Some(named) = close
        .closes_signal_id
        .filter(|_| close.kind == SignalKind::Close)
    else {
        return Ok(None);
    };
    let refuse = |field: &str, code: &'static str, message: String| {
        Err(Rejection::Invalid(vec![FieldError {
            field: field.to_string(),
            code,
            message,
        }]))
    };
    let (original, closed_by) = match position {
        Position::Unknown => {
            return refuse(
                "closes_signal_id",
                "unknown_signal",
                format!(
                    "names no signal that was ever accepted ({}): there is no position to close",
                    named.0
                ),
            );
        }
        Position::Known { signal, closed_by } => (signal.as_ref(), *closed_by),
    };
    if !matches!(original.kind, SignalKind::Buy | SignalKind::Sell) {
        return refuse(
            "closes_signal_id",
            "not_a_position",
            format!(
                "names a {} signal ({}), which opened no position: only a buy or a sell can \
                 be closed",
                original.kind, named.0
            ),
        );
    }
    if original.asset != close.asset {
        return refuse(
            "asset",
            "asset_mismatch",
            format!(
                "is {}, but the signal it closes ({}) is for {}",
                close.asset.as_str(),
                named.0,
                original.asset.as_str()
            ),
        );
    }
    if let Some(by) = closed_by.filter(|by| *by != close.id) {
        return refuse(
            "closes_signal_id",
            "already_closed",
            format!(
                "names a position already closed by signal {} ({})",
                by.0, named.0
            ),
        );
    }
    if close.generated_at < original.generated_at {
        return refuse(
            "generated_at",
            "out_of_order",
            format!(
                "is before the generated_at of the signal it closes ({})",
                original.generated_at.to_rfc3339()
            ),
        );
    }
    let entry = original.entry_price.map(|p| p.value());
    let exit = close.entry_price.map(|p| p.value()).or(match close.reason {
        Some(CloseReason::Target) => original.target_price.map(|p| p.value()),
        Some(CloseReason::Stop) => original.stop_loss.map(|p| p.value()),
        _ => None,
    });
    let return_pct = entry
        .zip(exit)
        .and_then(|(entry, exit)| return_pct(original.kind, entry, exit));
    Ok(Some(PositionOutcome {
        signal_id: original.id,
        close_signal_id: close.id,
        kind: original.kind,
        asset: original.asset.as_str().to_string(),
        source_model: original.source_model.clone(),
        entry_price: entry,
        exit_price: exit,
        return_pct,
        reason: close.reason,
        opened_at: original.generated_at,
        closed_at: close.generated_at,
    }))
}
