//! The versioned messages Herald puts on the bus. Each NATS subject carries exactly one of
//! these types; `proto/` holds their JSON Schemas, generated from these definitions
//! ([`schema`]).

pub mod schema;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::parse::{MAX_CONTEXT_CHARS, MAX_LABEL_CHARS, MAX_NOTE_CHARS, MAX_NOTES};
use crate::signal::{CloseReason, Signal, SignalKind, Timeframe};

pub use schema::{PARSER_ONLY_RULES, ParserOnlyRule, signal_json_schema};

// The patterns below put into the JSON Schema what the parser checks of a value by itself, so
// that a schema-valid value is one the parser takes (they are never used to parse). Control
// characters are Unicode's `Cc` (`char::is_control`); U+2028 and U+2029 are line breaks too.

/// An asset as Herald writes it: one or two symbols of 1–16 of `A-Z 0-9 _`, joined by `/`.
const ASSET_PATTERN: &str = r"^[A-Z0-9_]{1,16}(/[A-Z0-9_]{1,16})?$";
/// One line of text: no control characters or line breaks.
const ONE_LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029]*$";
/// Lines of text: no control characters but `\n`.
const LINES_PATTERN: &str = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F\u2028\u2029]*$";
/// The one UUID no signal may name (the parser refuses it as `id` and as `closes_signal_id`).
const NIL_UUID: &str = "00000000-0000-0000-0000-000000000000";
/// A decimal greater than zero, as a string (`0.5`, `45250`; not `0`, `0.00`, `.5` or `5.`).
const POSITIVE_DECIMAL_PATTERN: &str =
    r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$";

/// A trading signal as JSON: what `POST /api/signals` takes and what travels on
/// `<prefix>.signals.v1.<ASSET>`.
///
/// This is the canonical form Herald writes (prices as decimal strings, every default filled
/// in). The parser ([`crate::parse_signal`]) is more lenient on input: prices may also be JSON
/// numbers, `kind` is case-insensitive and `id` may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalV1 {
    /// The signal's UUID. Optional on input: Herald assigns one when it is missing. Also used
    /// as the `Nats-Msg-Id` header, so a re-sent signal is delivered once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("not" = { "const": NIL_UUID }))]
    pub id: Option<Uuid>,
    /// `buy`, `sell`, `close` or `alert`.
    pub kind: SignalKind,
    /// The instrument, e.g. `BTC/USD`: one or two symbols of 1–16 of `A-Z 0-9 _` joined by
    /// `/`.
    #[schemars(pattern(ASSET_PATTERN))]
    pub asset: String,
    /// Entry price; for a close signal, the optional exit price. A positive decimal, as a
    /// string (`"45250.5"`) or a JSON number.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schemars(with = "Option<DecimalText>")]
    pub entry_price: Option<Decimal>,
    /// Take-profit price (buy and sell only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schemars(with = "Option<DecimalText>")]
    pub target_price: Option<Decimal>,
    /// Stop-loss price (buy and sell only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_decimal")]
    #[schemars(with = "Option<DecimalText>")]
    pub stop_loss: Option<Decimal>,
    /// Chart timeframe: one of `1m 3m 5m 15m 30m 1H 2H 4H 6H 12H 1D 1W`. Required for buy
    /// and sell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<Timeframe>,
    /// Model confidence in percent, an integer 0–100.
    #[schemars(range(min = 0, max = 100))]
    pub confidence: u8,
    /// When the engine generated the signal, RFC 3339 (e.g. `2023-06-15T14:30:45Z`).
    pub generated_at: DateTime<Utc>,
    /// Optional: the instant from which the signal is stale, RFC 3339; after `generated_at`
    /// and at most 30 days after it. Without it, a signal is stale one bar of its `timeframe`
    /// after `generated_at` (a 1H signal after an hour), or, without a timeframe, a configured
    /// lifetime after it (`HERALD_SIGNAL_TTL_SECS`, 900 s by default). A signal that arrives
    /// at or after its deadline is refused, and a delivery not sent by then is never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Which model produced the signal (one line of at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LABEL_CHARS), pattern(ONE_LINE_PATTERN))]
    pub source_model: Option<String>,
    /// Historical performance of similar signals (one line of at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LABEL_CHARS), pattern(ONE_LINE_PATTERN))]
    pub performance_category: Option<String>,
    /// Current market conditions (at most 500 characters; lines break at `\n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_CONTEXT_CHARS), pattern(LINES_PATTERN))]
    pub market_context: Option<String>,
    /// Notes, one line each (at most 10 notes of 280 characters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = MAX_NOTES),
        inner(length(max = MAX_NOTE_CHARS), pattern(ONE_LINE_PATTERN))
    )]
    pub notes: Vec<String>,
    /// For a close signal: the id of the signal whose position it closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("not" = { "const": NIL_UUID }))]
    pub closes_signal_id: Option<Uuid>,
    /// For a close signal: why the position ended (`target`, `stop`, `manual` or
    /// `expired`). A close that names no exit price but gives `target` or `stop` is taken
    /// to have closed at the closed signal's target or stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<CloseReason>,
}

/// A positive decimal written as a string or a number; only for the JSON Schema.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum DecimalText {
    /// `"45250.50"`
    Text(#[schemars(pattern(POSITIVE_DECIMAL_PATTERN))] String),
    /// `45250.5`
    Number(#[schemars(extend("exclusiveMinimum" = 0))] f64),
}

impl From<&Signal> for SignalV1 {
    fn from(s: &Signal) -> Self {
        Self {
            id: Some(s.id.0),
            kind: s.kind,
            asset: s.asset.as_str().to_string(),
            entry_price: s.entry_price.map(|p| p.value()),
            target_price: s.target_price.map(|p| p.value()),
            stop_loss: s.stop_loss.map(|p| p.value()),
            timeframe: s.timeframe,
            confidence: s.confidence.get(),
            generated_at: s.generated_at,
            valid_until: s.valid_until,
            source_model: s.source_model.clone(),
            performance_category: s.performance_category.clone(),
            market_context: s.market_context.clone(),
            notes: s.notes.clone(),
            closes_signal_id: s.closes_signal_id.map(|id| id.0),
            reason: s.reason,
        }
    }
}

impl Signal {
    /// The canonical JSON of this signal (a [`SignalV1`]), as published on the bus.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&SignalV1::from(self)).expect("a SignalV1 always serialises")
    }
}

mod opt_decimal {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::str_option::serialize(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        rust_decimal::serde::str_option::deserialize(d)
    }
}
