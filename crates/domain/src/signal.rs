//! The validated trading signal and the value types it is made of.
//!
//! Each value type can only be built through its `parse` constructor, so holding one is proof
//! that it passed its rule. [`Signal`] itself is built only by [`crate::parse_signal`], which
//! also checks the rules that span fields (price order, what each kind requires).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};
use uuid::Uuid;

/// The identity of a signal: a UUID chosen by the Signal Engine, or assigned by Herald.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalId(pub Uuid);

impl SignalId {
    /// A fresh, time-ordered id (UUID v7) for a signal that arrived without one.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl SignalId {
    /// The id of a signal that names none, derived from its raw content (UUID v5): the same
    /// bytes sent twice — an engine retrying — get the same id and are delivered once.
    pub fn from_content(raw: &[u8]) -> Self {
        const NAMESPACE: Uuid = Uuid::from_u128(0x6865_7261_6c64_4000_8000_7369_676e_616c);
        Self(Uuid::new_v5(&NAMESPACE, raw))
    }
}

impl Default for SignalId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the signal recommends.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SignalKind {
    /// Enter a long position.
    Buy,
    /// Enter a short position.
    Sell,
    /// Exit an existing position.
    Close,
    /// A note about market conditions, with no trade recommendation.
    Alert,
}

impl SignalKind {
    /// Every kind, in display order.
    pub const ALL: [SignalKind; 4] = [Self::Buy, Self::Sell, Self::Close, Self::Alert];

    /// The wire name: `buy`, `sell`, `close` or `alert`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
            Self::Close => "close",
            Self::Alert => "alert",
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalKind {
    type Err = String;

    /// Case-insensitive: `BUY`, `Buy` and `buy` are the same kind.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "buy" => Ok(Self::Buy),
            "sell" => Ok(Self::Sell),
            "close" => Ok(Self::Close),
            "alert" => Ok(Self::Alert),
            _ => Err(format!(
                "unknown signal kind {s:?}; expected one of buy, sell, close, alert"
            )),
        }
    }
}

/// Why a position ended, as a close signal may say (`reason`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CloseReason {
    /// The take-profit price was reached.
    Target,
    /// The stop-loss price was reached.
    Stop,
    /// Closed by decision (the model's or a person's).
    Manual,
    /// The position's time ran out.
    Expired,
}

impl CloseReason {
    /// Every reason.
    pub const ALL: [CloseReason; 4] = [Self::Target, Self::Stop, Self::Manual, Self::Expired];

    /// The wire name: `target`, `stop`, `manual` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Stop => "stop",
            Self::Manual => "manual",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CloseReason {
    type Err = String;

    /// Case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "target" => Ok(Self::Target),
            "stop" => Ok(Self::Stop),
            "manual" => Ok(Self::Manual),
            "expired" => Ok(Self::Expired),
            _ => Err(format!(
                "unknown close reason {s:?}; expected one of target, stop, manual, expired"
            )),
        }
    }
}

/// A traded instrument such as `BTC/USD` or `AAPL`: one or two symbols of `A-Z 0-9 _`,
/// 1–16 characters each, joined by `/`. Stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Asset(String);

/// Deserialising goes through [`Asset::parse`], so a deserialised asset is valid too.
impl<'de> Deserialize<'de> for Asset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Asset {
    /// Parses and normalises (upper-cases) an asset symbol.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let upper = raw.trim().to_ascii_uppercase();
        if upper.is_empty() {
            return Err("must not be empty".into());
        }
        let parts: Vec<&str> = upper.split('/').collect();
        if parts.len() > 2 {
            return Err(format!(
                "{raw:?} has more than one '/'; expected e.g. BTC/USD"
            ));
        }
        for part in &parts {
            if part.is_empty() || part.len() > 16 {
                return Err(format!(
                    "{raw:?}: each symbol must be 1-16 characters; expected e.g. BTC/USD"
                ));
            }
            if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "{raw:?} may contain only letters, digits, '_' and one '/'; expected e.g. BTC/USD"
                ));
            }
        }
        Ok(Self(upper))
    }

    /// The symbol as given, e.g. `BTC/USD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base symbol, e.g. `BTC` for `BTC/USD`: used for the message's hashtag.
    pub fn base(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// The NATS subject token: `/` replaced by `-`, e.g. `BTC-USD`.
    pub fn subject_token(&self) -> String {
        self.0.replace('/', "-")
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A strictly positive price, kept exact as a decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Price(#[serde(with = "rust_decimal::serde::str")] Decimal);

/// Deserialising goes through [`Price::new`], so a deserialised price is positive too.
impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(rust_decimal::serde::str::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

impl Price {
    /// Accepts any decimal greater than zero.
    pub fn new(value: Decimal) -> Result<Self, String> {
        if value <= Decimal::ZERO {
            return Err(format!("must be greater than 0, got {value}"));
        }
        Ok(Self(value.normalize()))
    }

    /// The exact value.
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The model's confidence in the signal, 0–100 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Confidence(u8);

/// Deserialising goes through [`Confidence::new`], so 101–255 are refused.
impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(i64::from(u8::deserialize(deserializer)?)).map_err(D::Error::custom)
    }
}

impl Confidence {
    /// Accepts 0 through 100.
    pub fn new(value: i64) -> Result<Self, String> {
        if (0..=100).contains(&value) {
            Ok(Self(value as u8))
        } else {
            Err(format!("must be between 0 and 100, got {value}"))
        }
    }

    /// The percentage.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// The chart timeframe the signal was computed on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum Timeframe {
    /// One minute.
    #[serde(rename = "1m")]
    M1,
    /// Three minutes.
    #[serde(rename = "3m")]
    M3,
    /// Five minutes.
    #[serde(rename = "5m")]
    M5,
    /// Fifteen minutes.
    #[serde(rename = "15m")]
    M15,
    /// Thirty minutes.
    #[serde(rename = "30m")]
    M30,
    /// One hour.
    #[serde(rename = "1H")]
    H1,
    /// Two hours.
    #[serde(rename = "2H")]
    H2,
    /// Four hours.
    #[serde(rename = "4H")]
    H4,
    /// Six hours.
    #[serde(rename = "6H")]
    H6,
    /// Twelve hours.
    #[serde(rename = "12H")]
    H12,
    /// One day.
    #[serde(rename = "1D")]
    D1,
    /// One week.
    #[serde(rename = "1W")]
    W1,
}

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 12] = [
        Self::M1,
        Self::M3,
        Self::M5,
        Self::M15,
        Self::M30,
        Self::H1,
        Self::H2,
        Self::H4,
        Self::H6,
        Self::H12,
        Self::D1,
        Self::W1,
    ];

    /// The canonical label: minutes lower-case (`15m`), hours, days and weeks upper-case (`1H`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "1m",
            Self::M3 => "3m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1H",
            Self::H2 => "2H",
            Self::H4 => "4H",
            Self::H6 => "6H",
            Self::H12 => "12H",
            Self::D1 => "1D",
            Self::W1 => "1W",
        }
    }

    /// The length of one bar: a signal computed on this timeframe is stale one bar after it
    /// was generated, when the next bar has closed.
    pub fn bar(self) -> TimeDelta {
        match self {
            Self::M1 => TimeDelta::minutes(1),
            Self::M3 => TimeDelta::minutes(3),
            Self::M5 => TimeDelta::minutes(5),
            Self::M15 => TimeDelta::minutes(15),
            Self::M30 => TimeDelta::minutes(30),
            Self::H1 => TimeDelta::hours(1),
            Self::H2 => TimeDelta::hours(2),
            Self::H4 => TimeDelta::hours(4),
            Self::H6 => TimeDelta::hours(6),
            Self::H12 => TimeDelta::hours(12),
            Self::D1 => TimeDelta::days(1),
            Self::W1 => TimeDelta::weeks(1),
        }
    }

    /// Parses a label. Minutes must be lower-case `m` (an upper-case `M` would read as months);
    /// `h`, `d` and `w` are accepted in either case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let canonical = match raw.char_indices().last() {
            Some((i, unit)) if matches!(unit, 'h' | 'd' | 'w') => {
                format!("{}{}", &raw[..i], unit.to_ascii_uppercase())
            }
            _ => raw.to_string(),
        };
        Self::ALL
            .into_iter()
            .find(|tf| tf.as_str() == canonical)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|tf| tf.as_str()).collect();
                format!(
                    "unknown timeframe {raw:?}; expected one of {}",
                    known.join(", ")
                )
            })
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid trading signal. Built only by [`crate::parse_signal`].
///
/// Which fields are present depends on the kind:
///
/// | kind  | entry | target | stop | timeframe |
/// |-------|-------|--------|------|-----------|
/// | buy   | required, stop < entry < target |||  required |
/// | sell  | required, target < entry < stop |||  required |
/// | close | optional (the exit price) | — | — | optional |
/// | alert | — | — | — | optional |
///
/// A close may also say which signal it closes (`closes_signal_id`) and why (`reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The signal's id (from the engine, or assigned on receipt).
    pub id: SignalId,
    /// Buy, sell, close or alert.
    pub kind: SignalKind,
    /// The instrument.
    pub asset: Asset,
    /// Entry price (buy/sell), or exit price (close, optional).
    pub entry_price: Option<Price>,
    /// Take-profit price (buy/sell).
    pub target_price: Option<Price>,
    /// Stop-loss price (buy/sell).
    pub stop_loss: Option<Price>,
    /// Chart timeframe.
    pub timeframe: Option<Timeframe>,
    /// Model confidence, 0–100.
    pub confidence: Confidence,
    /// When the engine generated the signal (UTC).
    pub generated_at: DateTime<Utc>,
    /// The engine's own deadline, after `generated_at` and at most 30 days after it; when
    /// absent, the deadline follows from the timeframe (see [`Signal::deadline`]).
    pub valid_until: Option<DateTime<Utc>>,
    /// Which model produced it, e.g. `momentum-v3`.
    pub source_model: Option<String>,
    /// Historical performance of similar signals, e.g. `A` or `high-win-rate`.
    pub performance_category: Option<String>,
    /// A short description of current market conditions.
    pub market_context: Option<String>,
    /// Free-text notes, one line each.
    pub notes: Vec<String>,
    /// For a close signal: the signal whose position it closes.
    pub closes_signal_id: Option<SignalId>,
    /// For a close signal: why the position ended.
    pub reason: Option<CloseReason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialising_value_types_enforces_their_rules() {
        let asset: Asset = serde_json::from_str("\"btc/usd\"").unwrap();
        assert_eq!(asset.as_str(), "BTC/USD");
        assert!(serde_json::from_str::<Asset>("\"<b>\"").is_err());
        let price: Price = serde_json::from_str("\"45250.50\"").unwrap();
        assert_eq!(price.to_string(), "45250.5");
        assert!(serde_json::from_str::<Price>("\"0\"").is_err());
        assert!(serde_json::from_str::<Price>("\"-1\"").is_err());
        assert_eq!(
            serde_json::from_str::<Confidence>("100").unwrap().get(),
            100
        );
        assert!(serde_json::from_str::<Confidence>("101").is_err());
        // Serialising is unchanged: transparent values, prices as strings.
        assert_eq!(serde_json::to_string(&asset).unwrap(), "\"BTC/USD\"");
        assert_eq!(serde_json::to_string(&price).unwrap(), "\"45250.5\"");
    }
}
