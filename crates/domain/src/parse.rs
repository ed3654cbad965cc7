//! The one signal parser, used by both the HTTP path (ingest-api) and the NATS path
//! (dispatcher): raw JSON bytes in, a valid [`Signal`] or a [`Rejection`] out.
//!
//! The body must be one JSON object shaped like [`crate::SignalV1`]. It is read as a map of
//! field name → raw JSON text, so prices and confidence are never turned into `f64`; then
//! every field is checked and *every* problem is reported, each as a [`FieldError`] naming the
//! field (`notes[3]` for one note) and a stable code:
//!
//! | code            | meaning                                                             |
//! |-----------------|---------------------------------------------------------------------|
//! | `required`      | missing or `null` (for `buy`/`sell`, the prices and `timeframe` too) |
//! | `invalid_type`  | wrong JSON type: `confidence: "85"`, `confidence: 85.5`, `notes: "x"` |
//! | `invalid_value` | right type, unusable value: unknown kind, bad UUID, control chars…  |
//! | `out_of_range`  | price ≤ 0 or not exactly representable, confidence outside 0–100, `generated_at` before 2000 or > 5 min ahead, `valid_until` not after `generated_at` or > 30 days after it |
//! | `too_long`      | text over its limit (in Unicode scalar values), more than 10 notes  |
//! | `unknown_field` | a key that is not a field (the message lists the fields)           |
//! | `not_allowed`   | a field this kind does not carry (target on a close, any price on an alert, `closes_signal_id` on anything but a close) |
//! | `price_order`   | buy needs stop < entry < target; sell needs target < entry < stop  |
//! | `stale`         | past its deadline on arrival: only from [`crate::check_fresh`], never from the parser |
//!
//! Leniency: `kind` is case-insensitive; `id` may be left out (one is assigned); prices may be
//! decimal strings (`"45250.50"`) or JSON numbers (`45250.5`, `4.5e4`), both read exactly (a
//! value that cannot be held exactly is rejected, never rounded); `null` on an optional field
//! means absent; optional text is trimmed and becomes absent when empty; empty notes are
//! dropped. A field that appears twice in the object is rejected (`invalid_value`) rather than
//! silently taking one of the two values.

mod body;
mod number;
mod value;

pub use value::{MAX_FUTURE_SKEW, MAX_VALIDITY};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::signal::{Price, Signal, SignalId, SignalKind, Timeframe};
use body::JsonType;
use value::{Lines, Read};

/// One problem with one field of a signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON field, e.g. `stop_loss` or `notes[3]`.
    #[schema(examples("stop_loss", "notes[3]"))]
    pub field: String,
    /// A stable machine-readable code: `required`, `invalid_type`, `invalid_value`,
    /// `out_of_range`, `too_long`, `unknown_field`, `not_allowed`, `price_order`, `stale`
    /// (the signal is past its deadline; nothing else is wrong with it), or for a close that
    /// cannot end the position it names `unknown_signal`, `not_a_position`,
    /// `asset_mismatch`, `already_closed` or `out_of_order` (see `herald_domain::lifecycle`).
    /// Treat an unknown code like `invalid_value`: more may be added.
    pub code: &'static str,
    /// What is wrong, for a person: `must be below entry_price (45250) for a buy signal`.
    pub message: String,
}

/// Why a payload is not a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a JSON object at all (syntax error, empty body, an array…).
    Malformed(String),
    /// A JSON object whose fields break one or more rules; every problem is listed.
    Invalid(Vec<FieldError>),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed signal: {why}"),
            Self::Invalid(errors) => {
                f.write_str("invalid signal: ")?;
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{}: {}", e.field, e.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// Longest `source_model` or `performance_category`, in characters.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest `market_context`, in characters.
pub const MAX_CONTEXT_CHARS: usize = 500;
/// Most notes a signal may carry.
pub const MAX_NOTES: usize = 10;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 280;

const FIELD_NAMES: [&str; 16] = [
    "id",
    "kind",
    "asset",
    "entry_price",
    "target_price",
    "stop_loss",
    "timeframe",
    "confidence",
    "generated_at",
    "valid_until",
    "source_model",
    "performance_category",
    "market_context",
    "notes",
    "closes_signal_id",
    "reason",
];

/// Every field a signal may carry, in the order errors are reported.
pub fn field_names() -> &'static [&'static str] {
    &FIELD_NAMES
}

/// Parses and validates a signal. `now` is the receipt time: a signal without an `id` gets a
/// fresh one, and `generated_at` may not be more than 5 minutes after `now`.
///
/// Freshness is not judged here, so that a stored signal can be read again at any time;
/// where a signal arrives, call [`crate::check_fresh`] too.
pub fn parse_signal(bytes: &[u8], now: DateTime<Utc>) -> Result<Signal, Rejection> {
    parse_signal_or_id(bytes, now, SignalId::new)
}

/// [`parse_signal`], with the id for a signal that names none chosen by `default_id`.
///
/// The dispatcher derives it from the message's place in the stream, so that a redelivered
/// id-less message is recognised as the same signal rather than delivered twice.
pub fn parse_signal_or_id(
    bytes: &[u8],
    now: DateTime<Utc>,
    default_id: impl FnOnce() -> SignalId,
) -> Result<Signal, Rejection> {
    let body = body::read(bytes)?;
    let given = |name: &str| {
        body.fields
            .get(name)
            .copied()
            .filter(|raw| JsonType::of(raw) != JsonType::Null)
    };
    let mut problems = Problems::default();

    let id = given("id").and_then(|raw| problems.read("id", value::uuid(raw)));
    let kind = problems.required("kind", given("kind"), value::kind);
    let asset = problems.required("asset", given("asset"), value::asset);
    let trade = read_trade(&given, kind, &mut problems);
    let confidence = problems.required("confidence", given("confidence"), value::confidence);
    let generated_at = problems.required("generated_at", given("generated_at"), |raw| {
        value::timestamp(raw, now)
    });
    let valid_until = given("valid_until")
        .and_then(|raw| problems.read("valid_until", value::valid_until(raw, generated_at)));
    let texts = read_texts(&given, &mut problems);
    let closes_signal_id = match (given("closes_signal_id"), kind) {
        (Some(_), Some(k)) if k != SignalKind::Close => {
            let why = format!("only close signals name the signal they close, not {k} signals");
            problems.push("closes_signal_id", "not_allowed", why);
            None
        }
        (Some(raw), _) => problems.read("closes_signal_id", value::uuid(raw)),
        (None, _) => None,
    };
    let reason = match (given("reason"), kind) {
        (Some(_), Some(k)) if k != SignalKind::Close => {
            let why = format!("only close signals give a reason, not {k} signals");
            problems.push("reason", "not_allowed", why);
            None
        }
        (Some(raw), _) => problems.read("reason", value::close_reason(raw)),
        (None, _) => None,
    };
    check_keys(&body, &mut problems);

    let (Some(kind), Some(asset), Some(confidence), Some(generated_at), true) =
        (kind, asset, confidence, generated_at, problems.0.is_empty())
    else {
        debug_assert!(!problems.0.is_empty(), "a missing value was not reported");
        return Err(problems.into_rejection());
    };
    Ok(Signal {
        id: id.map(SignalId).unwrap_or_else(default_id),
        kind,
        asset,
        entry_price: trade.entry,
        target_price: trade.target,
        stop_loss: trade.stop,
        timeframe: trade.timeframe,
        confidence,
        generated_at,
        valid_until,
        source_model: texts.source_model,
        performance_category: texts.performance_category,
        market_context: texts.market_context,
        notes: texts.notes,
        closes_signal_id: closes_signal_id.map(SignalId),
        reason,
    })
}

/// A field's raw value by name, `None` when absent or `null`.
type Given<'a> = dyn Fn(&str) -> Option<&'a RawValue> + 'a;

/// The fields that make a trade: prices and timeframe.
struct Trade {
    entry: Option<Price>,
    target: Option<Price>,
    stop: Option<Price>,
    timeframe: Option<Timeframe>,
}

/// Reads the prices and timeframe and checks what `kind` requires of them (when `kind` is
/// known): presence, absence and price order.
fn read_trade(given: &Given<'_>, kind: Option<SignalKind>, problems: &mut Problems) -> Trade {
    let trading = kind.filter(|k| matches!(k, SignalKind::Buy | SignalKind::Sell));
    let missing = |problems: &mut Problems, name: &str| {
        if let Some(kind) = trading {
            problems.push(name, "required", format!("is required for a {kind} signal"));
        }
    };
    let [entry, target, stop] = ["entry_price", "target_price", "stop_loss"].map(|name| {
        let not_allowed = kind.and_then(|k| price_not_allowed(k, name));
        match (given(name), not_allowed) {
            (Some(_), Some(why)) => {
                problems.push(name, "not_allowed", why);
                None
            }
            (Some(raw), None) => problems.read(name, value::price(raw)),
            (None, _) => {
                missing(problems, name);
                None
            }
        }
    });
    let timeframe = match given("timeframe") {
        Some(raw) => problems.read("timeframe", value::timeframe(raw)),
        None => {
            missing(problems, "timeframe");
            None
        }
    };
    if let Some(kind) = kind {
        check_price_order(problems, kind, entry, target, stop);
    }
    Trade {
        entry,
        target,
        stop,
        timeframe,
    }
}

/// The free-text fields.
struct Texts {
    source_model: Option<String>,
    performance_category: Option<String>,
    market_context: Option<String>,
    notes: Vec<String>,
}

fn read_texts(given: &Given<'_>, problems: &mut Problems) -> Texts {
    let mut text = |name, max, lines| {
        given(name).and_then(|raw| problems.read(name, value::text(raw, max, lines)).flatten())
    };
    let source_model = text("source_model", MAX_LABEL_CHARS, Lines::One);
    let performance_category = text("performance_category", MAX_LABEL_CHARS, Lines::One);
    let market_context = text("market_context", MAX_CONTEXT_CHARS, Lines::Many);
    let notes = match given("notes").map(value::notes) {
        Some(Ok(notes)) => notes,
        Some(Err(errors)) => {
            problems.0.extend(errors);
            Vec::new()
        }
        None => Vec::new(),
    };
    Texts {
        source_model,
        performance_category,
        market_context,
        notes,
    }
}

/// Reports repeated and unknown keys.
fn check_keys(body: &body::Body<'_>, problems: &mut Problems) {
    for name in &body.duplicates {
        let why = "appears more than once; send each field once";
        problems.push(name, "invalid_value", why);
    }
    let unknown = body
        .fields
        .keys()
        .filter(|k| !FIELD_NAMES.contains(&k.as_ref()));
    for name in unknown {
        problems.push(name, "unknown_field", unknown_field_message(name));
    }
}

/// Why `kind` may not carry the price field `name`, if it may not.
fn price_not_allowed(kind: SignalKind, name: &str) -> Option<String> {
    match kind {
        SignalKind::Buy | SignalKind::Sell => None,
        SignalKind::Close if name == "entry_price" => None,
        SignalKind::Close => Some(format!("close signals carry no {name}")),
        SignalKind::Alert => Some(format!(
            "alert signals carry no prices (no entry_price, target_price or stop_loss), got {name}"
        )),
    }
}

/// Which side of a reference price a price must be on.
#[derive(Clone, Copy)]
enum Side {
    Above,
    Below,
}

/// Buy: stop_loss < entry_price < target_price. Sell: target_price < entry_price < stop_loss.
/// Without a usable entry price, stop_loss and target_price are still checked against each
/// other.
fn check_price_order(
    problems: &mut Problems,
    kind: SignalKind,
    entry: Option<Price>,
    target: Option<Price>,
    stop: Option<Price>,
) {
    let (target_side, stop_side) = match kind {
        SignalKind::Buy => (Side::Above, Side::Below),
        SignalKind::Sell => (Side::Below, Side::Above),
        SignalKind::Close | SignalKind::Alert => return,
    };
    let mut check = |name: &str, price: Option<Price>, reference: (&str, Price), side: Side| {
        let Some(price) = price else { return };
        let (ref_name, ref_price) = reference;
        let (ok, word) = match side {
            Side::Above => (price > ref_price, "above"),
            Side::Below => (price < ref_price, "below"),
        };
        if !ok {
            let why =
                format!("must be {word} {ref_name} ({ref_price}) for a {kind} signal, got {price}");
            problems.push(name, "price_order", why);
        }
    };
    match (entry, target) {
        (Some(entry), _) => {
            check("target_price", target, ("entry_price", entry), target_side);
            check("stop_loss", stop, ("entry_price", entry), stop_side);
        }
        (None, Some(target)) => check("stop_loss", stop, ("target_price", target), stop_side),
        (None, None) => {}
    }
}

fn unknown_field_message(name: &str) -> String {
    let expected = FIELD_NAMES.join(", ");
    let closest = FIELD_NAMES
        .iter()
        .map(|known| (edit_distance(name, known), known))
        .min()
        .filter(|(distance, _)| *distance <= 2);
    match closest {
        Some((_, known)) => {
            format!("unknown field (did you mean {known}?); expected one of {expected}")
        }
        None => format!("unknown field; expected one of {expected}"),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The problems found so far.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            code,
            message: message.into(),
        });
    }

    /// The value, or `None` with its problem recorded against `field`.
    fn read<T>(&mut self, field: &str, read: Read<T>) -> Option<T> {
        read.map_err(|p| self.push(field, p.code, p.message)).ok()
    }

    /// Reads a field every signal must have.
    fn required<T>(
        &mut self,
        field: &str,
        raw: Option<&RawValue>,
        reader: impl FnOnce(&RawValue) -> Read<T>,
    ) -> Option<T> {
        match raw {
            Some(raw) => self.read(field, reader(raw)),
            None => {
                self.push(field, "required", "is required");
                None
            }
        }
    }

    /// All problems, ordered by field as in [`field_names`] (unknown fields last).
    fn into_rejection(mut self) -> Rejection {
        let rank = |field: &str| {
            let base = field.split('[').next().unwrap_or(field);
            FIELD_NAMES
                .iter()
                .position(|known| *known == base)
                .unwrap_or(FIELD_NAMES.len())
        };
        self.0.sort_by_key(|e| rank(&e.field));
        Rejection::Invalid(self.0)
    }
}
