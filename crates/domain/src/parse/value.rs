//! Readers for one raw JSON value each: a typed value, or the one [`Problem`] with it.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::prelude::ToPrimitive;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::body::JsonType;
use super::number::{NumberError, exact_decimal};
use super::{FieldError, MAX_NOTE_CHARS, MAX_NOTES};
use crate::signal::{Asset, CloseReason, Confidence, Price, SignalKind, Timeframe};

/// What is wrong with one value; the caller knows which field it came from.
#[derive(Debug)]
pub(super) struct Problem {
    pub code: &'static str,
    pub message: String,
}

pub(super) type Read<T> = Result<T, Problem>;

fn problem(code: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        code,
        message: message.into(),
    }
}

fn wrong_type(expected: &str, raw: &RawValue) -> Problem {
    let got = JsonType::of(raw).described();
    problem("invalid_type", format!("must be {expected}, got {got}"))
}

/// A value for a message, cut short so that a huge input cannot flood a log line.
fn short(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        s.chars().take(MAX).chain(['…']).collect()
    }
}

/// A string value for a message: quoted, and cut short.
fn shown(s: &str) -> String {
    format!("{:?}", short(s))
}

/// A JSON string, unescaped.
pub(super) fn string(raw: &RawValue) -> Read<String> {
    if JsonType::of(raw) != JsonType::String {
        return Err(wrong_type("a string", raw));
    }
    serde_json::from_str(raw.get())
        .map_err(|e| problem("invalid_value", format!("is not valid text: {e}")))
}

/// `kind`: case-insensitive.
pub(super) fn kind(raw: &RawValue) -> Read<SignalKind> {
    SignalKind::from_str(string(raw)?.trim()).map_err(|e| problem("invalid_value", e))
}

/// `reason` (of a close): `target`, `stop`, `manual` or `expired`, in any case.
pub(super) fn close_reason(raw: &RawValue) -> Read<CloseReason> {
    CloseReason::from_str(string(raw)?.trim()).map_err(|e| problem("invalid_value", e))
}

/// `asset`: normalised to upper case.
pub(super) fn asset(raw: &RawValue) -> Read<Asset> {
    Asset::parse(&string(raw)?).map_err(|e| problem("invalid_value", e))
}

/// `timeframe`: `1H`, `1h`, `15m`, …
pub(super) fn timeframe(raw: &RawValue) -> Read<Timeframe> {
    Timeframe::parse(string(raw)?.trim()).map_err(|e| problem("invalid_value", e))
}

/// `id` and `closes_signal_id`: any UUID but the nil one.
pub(super) fn uuid(raw: &RawValue) -> Read<Uuid> {
    let text = string(raw)?;
    let id = Uuid::parse_str(text.trim()).map_err(|_| {
        problem(
            "invalid_value",
            format!(
                "must be a UUID like 0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90, got {}",
                shown(&text)
            ),
        )
    })?;
    if id.is_nil() {
        return Err(problem("invalid_value", "must not be the nil UUID"));
    }
    Ok(id)
}

/// A price: a decimal string (`"45250.50"`) or a JSON number (`45250.5`, `4.5e4`), read
/// exactly, greater than zero.
pub(super) fn price(raw: &RawValue) -> Read<Price> {
    let (text, echo) = match JsonType::of(raw) {
        JsonType::String => {
            let text = string(raw)?;
            let echo = shown(&text);
            (text, echo)
        }
        JsonType::Number => (raw.get().to_string(), short(raw.get())),
        _ => {
            return Err(wrong_type(
                "a decimal number, as a string like \"45250.5\" or a JSON number",
                raw,
            ));
        }
    };
    let value = exact_decimal(text.trim()).map_err(|e| match e {
        NumberError::Syntax => problem(
            "invalid_value",
            format!("must be a decimal number like \"45250.5\", got {echo}"),
        ),
        NumberError::Unrepresentable => problem(
            "out_of_range",
            format!(
                "cannot be held exactly (at most 28 decimal places and 28 significant \
                 digits), got {echo}"
            ),
        ),
    })?;
    Price::new(value).map_err(|e| problem("out_of_range", e))
}

/// `confidence`: a JSON integer 0–100 (`85.0` counts as whole; `85.5` and `"85"` do not).
pub(super) fn confidence(raw: &RawValue) -> Read<Confidence> {
    if JsonType::of(raw) != JsonType::Number {
        return Err(wrong_type("a whole number from 0 to 100", raw));
    }
    let text = raw.get();
    let out_of_range = || {
        problem(
            "out_of_range",
            format!("must be between 0 and 100, got {}", short(text)),
        )
    };
    let value = exact_decimal(text).map_err(|_| out_of_range())?;
    if !value.fract().is_zero() {
        return Err(problem(
            "invalid_type",
            format!("must be a whole number, got {text}"),
        ));
    }
    let whole = value.to_i64().ok_or_else(out_of_range)?;
    Confidence::new(whole).map_err(|e| problem("out_of_range", e))
}

/// How far ahead of the receipt time a signal's `generated_at` may be (clock skew).
pub const MAX_FUTURE_SKEW: TimeDelta = TimeDelta::minutes(5);

/// How far after `generated_at` a signal's `valid_until` may be.
pub const MAX_VALIDITY: TimeDelta = TimeDelta::days(30);

/// A timestamp as messages show it: RFC 3339 in UTC, with only the fraction it has.
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// An RFC 3339 timestamp string, in UTC.
fn rfc3339(raw: &RawValue) -> Read<DateTime<Utc>> {
    let text = string(raw).map_err(|p| match p.code {
        "invalid_type" => wrong_type("an RFC 3339 timestamp string", raw),
        _ => p,
    })?;
    let at = DateTime::parse_from_rfc3339(text.trim()).map_err(|e| {
        problem(
            "invalid_value",
            format!(
                "must be an RFC 3339 timestamp like 2023-06-15T14:30:45Z, got {} ({e})",
                shown(&text)
            ),
        )
    })?;
    Ok(at.with_timezone(&Utc))
}

/// `generated_at`: RFC 3339, from 2000-01-01 to 5 minutes after `now`.
pub(super) fn timestamp(raw: &RawValue, now: DateTime<Utc>) -> Read<DateTime<Utc>> {
    let at = rfc3339(raw)?;
    let earliest =
        DateTime::<Utc>::from_timestamp(946_684_800, 0).expect("2000-01-01 is a valid time");
    if at < earliest {
        return Err(problem(
            "out_of_range",
            format!("must not be before {}, got {}", rfc(earliest), rfc(at)),
        ));
    }
    if at - now > MAX_FUTURE_SKEW {
        return Err(problem(
            "out_of_range",
            format!(
                "must not be more than 5 minutes in the future: generated_at is {}, \
                 received at {}",
                rfc(at),
                rfc(now)
            ),
        ));
    }
    Ok(at)
}

/// `valid_until`: RFC 3339, after `generated_at` and at most [`MAX_VALIDITY`] after it (when
/// `generated_at` is usable; otherwise only the format is checked). It is never compared with
/// the receipt time here: a stored signal is read again long after its deadline.
pub(super) fn valid_until(
    raw: &RawValue,
    generated_at: Option<DateTime<Utc>>,
) -> Read<DateTime<Utc>> {
    let at = rfc3339(raw)?;
    let Some(generated_at) = generated_at else {
        return Ok(at);
    };
    if at <= generated_at {
        return Err(problem(
            "out_of_range",
            format!(
                "must be after generated_at ({}), got {}",
                rfc(generated_at),
                rfc(at)
            ),
        ));
    }
    if at - generated_at > MAX_VALIDITY {
        return Err(problem(
            "out_of_range",
            format!(
                "must be at most {} days after generated_at ({}), got {}",
                MAX_VALIDITY.num_days(),
                rfc(generated_at),
                rfc(at)
            ),
        ));
    }
    Ok(at)
}

/// Whether a text field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lines {
    /// No line breaks at all.
    One,
    /// `\n` allowed (other control characters still are not).
    Many,
}

/// An optional free-text field: trimmed, `None` when empty, at most `max_chars` characters
/// (Unicode scalar values), no control characters.
pub(super) fn text(raw: &RawValue, max_chars: usize, lines: Lines) -> Read<Option<String>> {
    let value = string(raw)?;
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let forbidden = |c: char| {
        let line_break = c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}';
        match lines {
            Lines::Many => (c.is_control() && c != '\n') || c == '\u{2028}' || c == '\u{2029}',
            Lines::One => c.is_control() || line_break,
        }
    };
    if let Some((at, c)) = value.chars().enumerate().find(|&(_, c)| forbidden(c)) {
        let what = if lines == Lines::One && matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
            "must be a single line; found a line break"
        } else {
            "must not contain control characters; found"
        };
        return Err(problem(
            "invalid_value",
            format!("{what} U+{:04X} at character {}", c as u32, at + 1),
        ));
    }
    let count = value.chars().count();
    if count > max_chars {
        return Err(problem(
            "too_long",
            format!("must be at most {max_chars} characters, got {count}"),
        ));
    }
    Ok(Some(value.to_string()))
}

/// `notes`: an array of one-line strings. Empty notes are dropped; problems are reported per
/// element as `notes[i]` (the index as sent).
pub(super) fn notes(raw: &RawValue) -> Result<Vec<String>, Vec<FieldError>> {
    let field_error = |field: String, p: Problem| FieldError {
        field,
        code: p.code,
        message: p.message,
    };
    if JsonType::of(raw) != JsonType::Array {
        let p = wrong_type("an array of strings", raw);
        return Err(vec![field_error("notes".into(), p)]);
    }
    let items: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|e| {
        let p = problem("invalid_value", format!("is not a valid array: {e}"));
        vec![field_error("notes".into(), p)]
    })?;
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match text(item, MAX_NOTE_CHARS, Lines::One) {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(p) => errors.push(field_error(format!("notes[{i}]"), p)),
        }
    }
    let given = notes.len() + errors.len();
    if given > MAX_NOTES {
        let p = problem(
            "too_long",
            format!("must hold at most {MAX_NOTES} notes, got {given}"),
        );
        errors.insert(0, field_error("notes".into(), p));
    }
    if errors.is_empty() {
        Ok(notes)
    } else {
        Err(errors)
    }
}
