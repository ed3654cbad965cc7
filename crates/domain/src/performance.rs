//! How signals performed: the outcome of a position ([`CloseReason`], [`return_pct`]), the
//! periods traders ask about ([`Window`]) and the figures over one period ([`figures`],
//! [`cumulative_returns`]).
//!
//! A buy or sell opens a position; a later close records its exit price and return. Returns
//! are percentages of the entry price, exact [`Decimal`]s (no floats anywhere), per position
//! and without fees. Aggregates over several positions *add* their returns: a sum of
//! percentages, not a compounded growth.

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

// One definition each, shared with the position lifecycle: re-exported here so that
// everything about performance can be found in one place.
pub use crate::lifecycle::return_pct;
pub use crate::signal::CloseReason;
use crate::signal::SignalKind;

/// The name [`Figures::models`] gives signals that named no `source_model`.
pub const UNNAMED_MODEL: &str = "unnamed";

/// A period to measure over, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// All time.
    All,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 4] = [Self::Day, Self::Week, Self::Month, Self::All];

    /// The window's name: `24h`, `7d`, `30d` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
            Self::All => "all",
        }
    }

    /// How far back the window reaches; `None` for all time.
    pub fn length(self) -> Option<TimeDelta> {
        match self {
            Self::Day => Some(TimeDelta::hours(24)),
            Self::Week => Some(TimeDelta::days(7)),
            Self::Month => Some(TimeDelta::days(30)),
            Self::All => None,
        }
    }

    /// Where the window starts when it ends at `now`; `None` for all time.
    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        now.checked_sub_signed(self.length()?)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Window {
    type Err = String;

    /// `24h`, `7d`, `30d` or `all` in any case; also `day`, `week` and `month`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "24h" | "day" => Ok(Self::Day),
            "7d" | "week" => Ok(Self::Week),
            "30d" | "month" => Ok(Self::Month),
            "all" => Ok(Self::All),
            _ => Err(format!(
                "unknown period {s:?}; expected one of 24h, 7d, 30d, all"
            )),
        }
    }
}

/// One signal of a period, as the store supplies it for [`figures`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfRow {
    /// Buy, sell, close or alert.
    pub kind: SignalKind,
    /// The instrument, e.g. `BTC/USD`.
    pub asset: String,
    /// Which model produced the signal.
    pub source_model: Option<String>,
    /// When the engine generated it: what places the signal in a window.
    pub generated_at: DateTime<Utc>,
    /// How its position ended (a buy or sell that has closed); `None` while open.
    pub outcome: Option<RowOutcome>,
}

/// How a position ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOutcome {
    /// The return in percent ([`return_pct`]); `None` when no exit price is known.
    pub return_pct: Option<Decimal>,
    /// When the position closed.
    pub closed_at: DateTime<Utc>,
    /// Why it closed, if known.
    pub reason: Option<CloseReason>,
}

/// How many signals one asset had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetCount {
    /// The instrument.
    pub asset: String,
    /// Its signals in the period.
    pub signals: usize,
}

/// A position's asset and return: the best or the worst of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetReturn {
    /// The instrument.
    pub asset: String,
    /// Its return in percent.
    pub return_pct: Decimal,
}

/// The figures of one source model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFigures {
    /// The model's name, or [`UNNAMED_MODEL`].
    pub model: String,
    /// Its signals, of every kind.
    pub signals: usize,
    /// Its closed positions.
    pub closed: usize,
    /// Wins in percent of its closed positions with a return.
    pub win_rate: Option<Decimal>,
    /// The mean return of those positions.
    pub average_return: Option<Decimal>,
}

/// What a period's signals add up to. Built by [`figures`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Every signal of the period.
    pub signals: usize,
    /// Signals by kind, every kind in [`SignalKind::ALL`] order (zeros included).
    pub by_kind: [(SignalKind, usize); 4],
    /// Signals by asset, most first, then by name.
    pub by_asset: Vec<AssetCount>,
    /// Buys and sells: the signals that open a position.
    pub positions: usize,
    /// Positions that have closed.
    pub closed: usize,
    /// Positions still open.
    pub open: usize,
    /// Closed positions with a return above zero.
    pub wins: usize,
    /// Closed positions with a return below zero.
    pub losses: usize,
    /// Closed positions with a return of exactly zero.
    pub flat: usize,
    /// Wins in percent of the closed positions with a return; `None` without any.
    pub win_rate: Option<Decimal>,
    /// The sum of the returns (not compounded).
    pub total_return: Option<Decimal>,
    /// The mean return.
    pub average_return: Option<Decimal>,
    /// The median return (of an even count, the mean of the middle two).
    pub median_return: Option<Decimal>,
    /// The highest return (the earliest to close, on a tie).
    pub best: Option<AssetReturn>,
    /// The lowest return (the earliest to close, on a tie).
    pub worst: Option<AssetReturn>,
    /// Per source model, most signals first, then by name.
    pub models: Vec<ModelFigures>,
}

impl Figures {
    /// Whether any position closed with a return: without one there is no return to show.
    pub fn has_enough_data(&self) -> bool {
        self.measured() > 0
    }

    /// Closed positions with a return: wins, losses and flat ones.
    pub fn measured(&self) -> usize {
        self.wins + self.losses + self.flat
    }

    /// The number of signals of `kind`.
    pub fn kind_count(&self, kind: SignalKind) -> usize {
        self.by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

/// A closed position with a return, as the aggregates see it.
struct Measured<'a> {
    asset: &'a str,
    return_pct: Decimal,
    closed_at: DateTime<Utc>,
}

/// The positions of `rows` that closed with a return, in the order they closed.
fn measured<'a>(rows: impl IntoIterator<Item = &'a PerfRow>) -> Vec<Measured<'a>> {
    let mut out: Vec<Measured<'a>> = rows
        .into_iter()
        .filter(|row| opens_position(row.kind))
        .filter_map(|row| {
            let outcome = row.outcome.as_ref()?;
            Some(Measured {
                asset: &row.asset,
                return_pct: outcome.return_pct?,
                closed_at: outcome.closed_at,
            })
        })
        .collect();
    out.sort_by_key(|m| m.closed_at);
    out
}

fn opens_position(kind: SignalKind) -> bool {
    matches!(kind, SignalKind::Buy | SignalKind::Sell)
}

/// The figures of a period's signals (rows already limited to the period by the store).
pub fn figures(rows: &[PerfRow]) -> Figures {
    let positions: Vec<&PerfRow> = rows.iter().filter(|r| opens_position(r.kind)).collect();
    let closed = positions.iter().filter(|r| r.outcome.is_some()).count();
    let measured = measured(rows);
    let returns: Vec<Decimal> = measured.iter().map(|m| m.return_pct).collect();
    let pick = |wanted: Ordering| {
        // `measured` is in closing order, so keeping the first on a tie keeps the earliest.
        measured
            .iter()
            .fold(None::<&Measured<'_>>, |kept, m| match kept {
                Some(k) if m.return_pct.cmp(&k.return_pct) != wanted => Some(k),
                _ => Some(m),
            })
            .map(|m| AssetReturn {
                asset: m.asset.to_string(),
                return_pct: m.return_pct,
            })
    };
    Figures {
        signals: rows.len(),
        by_kind: SignalKind::ALL.map(|k| (k, rows.iter().filter(|r| r.kind == k).count())),
        by_asset: by_asset(rows),
        positions: positions.len(),
        closed,
        open: positions.len() - closed,
        wins: returns.iter().filter(|r| **r > Decimal::ZERO).count(),
        losses: returns.iter().filter(|r| **r < Decimal::ZERO).count(),
        flat: returns.iter().filter(|r| r.is_zero()).count(),
        win_rate: win_rate(&returns),
        total_return: sum(&returns),
        average_return: mean(&returns),
        median_return: median(&returns),
        best: pick(Ordering::Greater),
        worst: pick(Ordering::Less),
        models: by_model(rows),
    }
}

fn by_asset(rows: &[PerfRow]) -> Vec<AssetCount> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *counts.entry(&row.asset).or_default() += 1;
    }
    let mut out: Vec<AssetCount> = counts
        .into_iter()
        .map(|(asset, signals)| AssetCount {
            asset: asset.to_string(),
            signals,
        })
        .collect();
    // Stable: ties stay in name order.
    out.sort_by_key(|entry| Reverse(entry.signals));
    out
}

fn by_model(rows: &[PerfRow]) -> Vec<ModelFigures> {
    let mut groups: BTreeMap<&str, Vec<&PerfRow>> = BTreeMap::new();
    for row in rows {
        let model = row.source_model.as_deref().unwrap_or(UNNAMED_MODEL);
        groups.entry(model).or_default().push(row);
    }
    let mut out: Vec<ModelFigures> = groups
        .into_iter()
        .map(|(model, own)| {
            let returns: Vec<Decimal> = measured(own.iter().copied())
                .iter()
                .map(|m| m.return_pct)
                .collect();
            ModelFigures {
                model: model.to_string(),
                signals: own.len(),
                closed: own
                    .iter()
                    .filter(|r| opens_position(r.kind) && r.outcome.is_some())
                    .count(),
                win_rate: win_rate(&returns),
                average_return: mean(&returns),
            }
        })
        .collect();
    out.sort_by_key(|entry| Reverse(entry.signals));
    out
}

/// The sum, or `None` for no values or on overflow.
fn sum(values: &[Decimal]) -> Option<Decimal> {
    if values.is_empty() {
        return None;
    }
    values
        .iter()
        .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
        .map(|s| s.normalize())
}

fn mean(values: &[Decimal]) -> Option<Decimal> {
    let count = Decimal::from(values.len());
    Some(sum(values)?.checked_div(count)?.normalize())
}

fn median(values: &[Decimal]) -> Option<Decimal> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => mean(&sorted[middle - 1..=middle]),
    }
}

fn win_rate(returns: &[Decimal]) -> Option<Decimal> {
    if returns.is_empty() {
        return None;
    }
    let wins = returns.iter().filter(|r| **r > Decimal::ZERO).count();
    let pct = Decimal::from(wins)
        .checked_mul(Decimal::ONE_HUNDRED)?
        .checked_div(Decimal::from(returns.len()))?;
    Some(pct.normalize())
}

/// The running sum of returns over the positions of `rows` that closed with a return, one
/// point per position at its `closed_at`, in closing order (ties in the order of `rows`).
///
/// A *sum* of percentage returns, as if each position were the same stake — not compounded:
/// `+10 %` then `-10 %` sums to `0 %`. It saturates at `Decimal`'s bounds rather than fail.
pub fn cumulative_returns(rows: &[PerfRow]) -> Vec<(DateTime<Utc>, Decimal)> {
    let mut total = Decimal::ZERO;
    measured(rows)
        .into_iter()
        .map(|m| {
            total = total.saturating_add(m.return_pct);
            (m.closed_at, total.normalize())
        })
        .collect()
}
