//! Freshness: `valid_until` as the parser reads it, each signal's deadline (the engine's
//! `valid_until`, else one bar of its timeframe, else the default lifetime), and
//! `check_fresh`, which refuses a signal already past its deadline on arrival.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{
    DeadlineBasis, FieldError, MAX_VALIDITY, Rejection, Signal, Timeframe, check_fresh,
    parse_signal,
};
use serde_json::{Value, json};

/// When every test signal was generated.
const GENERATED: &str = "2026-11-30T09:00:00Z";

fn generated() -> DateTime<Utc> {
    GENERATED.parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The default lifetime of a signal without a timeframe, as the tests configure it.
const TTL: Duration = Duration::from_secs(900);

fn buy(timeframe: &str) -> Value {
    json!({
        "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": timeframe, "confidence": 85, "generated_at": GENERATED
    })
}

fn close() -> Value {
    json!({"kind": "close", "asset": "BTC/USD", "confidence": 90, "generated_at": GENERATED})
}

fn alert() -> Value {
    json!({"kind": "alert", "asset": "BTC/USD", "confidence": 70, "generated_at": GENERATED,
           "market_context": "CPI at 12:30 UTC"})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.into(), value);
    v
}

/// Parsed as received right after it was generated.
fn parse(v: &Value) -> Result<Signal, Rejection> {
    parse_signal(
        v.to_string().as_bytes(),
        generated() + TimeDelta::seconds(1),
    )
}

fn ok(v: &Value) -> Signal {
    parse(v).unwrap_or_else(|e| panic!("expected a signal, got {e}"))
}

/// The one field error of a rejection.
fn only(rejection: Rejection) -> FieldError {
    match rejection {
        Rejection::Invalid(mut errors) if errors.len() == 1 => errors.remove(0),
        other => panic!("expected exactly one field error, got {other:?}"),
    }
}

// ---- valid_until as parsed -------------------------------------------------------------------

#[test]
fn valid_until_is_optional_and_read_as_rfc_3339() {
    assert_eq!(ok(&buy("1H")).valid_until, None);
    assert_eq!(
        ok(&with(buy("1H"), "valid_until", Value::Null)).valid_until,
        None
    );
    let s = ok(&with(
        buy("1H"),
        "valid_until",
        json!("2026-11-30T09:20:00Z"),
    ));
    assert_eq!(s.valid_until, Some(at("2026-11-30T09:20:00Z")));
    // Offsets are honoured, and surrounding spaces forgiven as for generated_at.
    let s = ok(&with(
        close(),
        "valid_until",
        json!(" 2026-11-30T11:20:00+02:00 "),
    ));
    assert_eq!(s.valid_until, Some(at("2026-11-30T09:20:00Z")));
}

#[test]
fn valid_until_that_is_not_a_timestamp_is_refused() {
    for (value, code) in [
        (json!("tomorrow"), "invalid_value"),
        (json!("2026-11-30 09:20:00"), "invalid_value"),
        (json!(1_796_029_200), "invalid_type"),
        (json!(true), "invalid_type"),
    ] {
        let e = only(parse(&with(buy("1H"), "valid_until", value.clone())).unwrap_err());
        assert_eq!((e.field.as_str(), e.code), ("valid_until", code), "{value}");
        assert!(e.message.contains("RFC 3339"), "{}", e.message);
    }
}

#[test]
fn valid_until_must_be_after_generated_at() {
    for before in ["2026-11-30T08:59:59Z", GENERATED] {
        let e = only(parse(&with(buy("1H"), "valid_until", json!(before))).unwrap_err());
        assert_eq!((e.field.as_str(), e.code), ("valid_until", "out_of_range"));
        assert_eq!(
            e.message,
            format!("must be after generated_at (2026-11-30T09:00:00Z), got {before}")
        );
    }
    let just_after = with(buy("1H"), "valid_until", json!("2026-11-30T09:00:00.001Z"));
    assert!(parse(&just_after).is_ok());
}

#[test]
fn valid_until_may_be_at_most_thirty_days_after_generated_at() {
    assert_eq!(MAX_VALIDITY, TimeDelta::days(30));
    let limit = generated() + MAX_VALIDITY;
    assert!(parse(&with(buy("1W"), "valid_until", json!(limit.to_rfc3339()))).is_ok());
    for over in [
        "2026-12-30T09:00:01Z",
        "2027-11-30T09:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let e = only(parse(&with(buy("1W"), "valid_until", json!(over))).unwrap_err());
        assert_eq!((e.field.as_str(), e.code), ("valid_until", "out_of_range"));
        assert_eq!(
            e.message,
            format!(
                "must be at most 30 days after generated_at (2026-11-30T09:00:00Z), got {over}"
            )
        );
    }
}

#[test]
fn valid_until_is_checked_alone_when_generated_at_is_unusable() {
    let v = with(
        with(close(), "generated_at", json!("yesterday")),
        "valid_until",
        json!("2026-11-30T09:20:00Z"),
    );
    let e = only(parse(&v).unwrap_err());
    assert_eq!(e.field, "generated_at");
    let v = with(
        with(close(), "generated_at", json!("yesterday")),
        "valid_until",
        json!("soon"),
    );
    let fields: Vec<String> = match parse(&v) {
        Err(Rejection::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fields, ["generated_at", "valid_until"]);
}

#[test]
fn valid_until_survives_the_round_trip_through_canonical_json() {
    let s = ok(&with(
        alert(),
        "valid_until",
        json!("2026-11-30T10:30:00+01:00"),
    ));
    let json: Value = serde_json::from_slice(&s.to_json()).unwrap();
    assert_eq!(json["valid_until"], "2026-11-30T09:30:00Z");
    let again = parse_signal(&s.to_json(), generated()).unwrap();
    assert_eq!(again, s);
    // Without one, the canonical JSON carries none.
    let json: Value = serde_json::from_slice(&ok(&alert()).to_json()).unwrap();
    assert!(json.get("valid_until").is_none(), "{json}");
}

#[test]
fn a_stored_signal_long_past_its_deadline_still_parses() {
    // The dispatcher re-reads stored signals long after they arrived: the plain parser never
    // judges freshness by itself.
    let s = ok(&with(
        buy("1m"),
        "valid_until",
        json!("2026-11-30T09:00:30Z"),
    ));
    let years_later = at("2030-01-01T00:00:00Z");
    assert_eq!(parse_signal(&s.to_json(), years_later).unwrap(), s);
}

// ---- deadlines -------------------------------------------------------------------------------

#[test]
fn each_timeframe_is_one_bar_long() {
    let expected = [
        ("1m", 60),
        ("3m", 3 * 60),
        ("5m", 5 * 60),
        ("15m", 15 * 60),
        ("30m", 30 * 60),
        ("1H", 3600),
        ("2H", 2 * 3600),
        ("4H", 4 * 3600),
        ("6H", 6 * 3600),
        ("12H", 12 * 3600),
        ("1D", 24 * 3600),
        ("1W", 7 * 24 * 3600),
    ];
    assert_eq!(expected.len(), Timeframe::ALL.len());
    for (tf, (label, secs)) in Timeframe::ALL.into_iter().zip(expected) {
        assert_eq!(tf.as_str(), label);
        assert_eq!(tf.bar(), TimeDelta::seconds(secs), "{label}");
    }
}

#[test]
fn a_signal_with_a_timeframe_is_due_one_bar_after_it_was_generated() {
    for tf in Timeframe::ALL {
        let s = ok(&buy(tf.as_str()));
        assert_eq!(s.deadline(TTL), generated() + tf.bar(), "{tf}");
        assert_eq!(s.expiry(TTL).basis, DeadlineBasis::Timeframe(tf));
    }
    // An alert may carry a timeframe too, and then it counts.
    let s = ok(&with(alert(), "timeframe", json!("4H")));
    assert_eq!(s.deadline(TTL), at("2026-11-30T13:00:00Z"));
}

#[test]
fn closes_and_alerts_without_a_timeframe_get_the_default_lifetime() {
    for v in [close(), alert()] {
        let s = ok(&v);
        assert_eq!(s.deadline(TTL), at("2026-11-30T09:15:00Z"));
        assert_eq!(
            s.deadline(Duration::from_secs(60)),
            at("2026-11-30T09:01:00Z")
        );
        assert_eq!(s.expiry(TTL).basis, DeadlineBasis::DefaultTtl(TTL));
    }
}

#[test]
fn valid_until_overrides_the_timeframe_both_ways() {
    // Shorter than the bar.
    let s = ok(&with(
        buy("1D"),
        "valid_until",
        json!("2026-11-30T09:05:00Z"),
    ));
    assert_eq!(s.deadline(TTL), at("2026-11-30T09:05:00Z"));
    assert_eq!(s.expiry(TTL).basis, DeadlineBasis::ValidUntil);
    // Longer than the bar.
    let s = ok(&with(
        buy("1m"),
        "valid_until",
        json!("2026-11-30T12:00:00Z"),
    ));
    assert_eq!(s.deadline(TTL), at("2026-11-30T12:00:00Z"));
    // And the default lifetime of a close.
    let s = ok(&with(close(), "valid_until", json!("2026-12-01T09:00:00Z")));
    assert_eq!(s.deadline(TTL), at("2026-12-01T09:00:00Z"));
}

#[test]
fn a_huge_default_lifetime_saturates_instead_of_overflowing() {
    let s = ok(&close());
    assert_eq!(s.deadline(Duration::MAX), DateTime::<Utc>::MAX_UTC);
    assert!(check_fresh(&s, at("9000-01-01T00:00:00Z"), Duration::MAX).is_ok());
}

// ---- check_fresh -----------------------------------------------------------------------------

#[test]
fn fresh_until_the_deadline_and_stale_from_it_on() {
    let s = ok(&buy("1H"));
    let deadline = at("2026-11-30T10:00:00Z");
    assert!(check_fresh(&s, generated(), TTL).is_ok());
    assert!(check_fresh(&s, deadline - TimeDelta::milliseconds(1), TTL).is_ok());
    assert!(
        check_fresh(&s, deadline, TTL).is_err(),
        "due exactly at the deadline"
    );
    assert!(check_fresh(&s, deadline + TimeDelta::days(3), TTL).is_err());
}

#[test]
fn stale_by_timeframe_names_generated_at_and_says_why() {
    let s = ok(&buy("1H"));
    let e = only(check_fresh(&s, at("2026-11-30T10:02:13Z"), TTL).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("generated_at", "stale"));
    assert_eq!(
        e.message,
        "expired at 2026-11-30T10:00:00Z, one 1H bar after generated_at; received at \
         2026-11-30T10:02:13Z, it would reach traders too late"
    );
    let e = only(check_fresh(&ok(&buy("15m")), at("2026-11-30T09:15:00Z"), TTL).unwrap_err());
    assert!(
        e.message
            .starts_with("expired at 2026-11-30T09:15:00Z, one 15m bar after generated_at;"),
        "{}",
        e.message
    );
}

#[test]
fn stale_by_valid_until_names_valid_until() {
    let s = ok(&with(
        buy("1D"),
        "valid_until",
        json!("2026-11-30T09:05:00Z"),
    ));
    assert!(check_fresh(&s, at("2026-11-30T09:04:59Z"), TTL).is_ok());
    let e = only(check_fresh(&s, at("2026-11-30T09:06:00Z"), TTL).unwrap_err());
    assert_eq!((e.field.as_str(), e.code), ("valid_until", "stale"));
    assert_eq!(
        e.message,
        "expired at 2026-11-30T09:05:00Z, its valid_until; received at 2026-11-30T09:06:00Z, \
         it would reach traders too late"
    );
    // A later valid_until keeps a short-timeframe signal fresh past its bar.
    let s = ok(&with(
        buy("1m"),
        "valid_until",
        json!("2026-11-30T12:00:00Z"),
    ));
    assert!(check_fresh(&s, at("2026-11-30T11:59:00Z"), TTL).is_ok());
}

#[test]
fn stale_close_and_alert_with_the_default_lifetime() {
    for (v, kind) in [(close(), "close"), (alert(), "alert")] {
        let s = ok(&v);
        assert!(check_fresh(&s, at("2026-11-30T09:14:59Z"), TTL).is_ok());
        let e = only(check_fresh(&s, at("2026-11-30T09:15:00Z"), TTL).unwrap_err());
        assert_eq!((e.field.as_str(), e.code), ("generated_at", "stale"));
        assert_eq!(
            e.message,
            format!(
                "expired at 2026-11-30T09:15:00Z, 900 s after generated_at (the lifetime of a \
                 {kind} signal without a timeframe); received at 2026-11-30T09:15:00Z, it \
                 would reach traders too late"
            )
        );
    }
}

#[test]
fn the_stale_rejection_reads_well_as_one_line() {
    // The dispatcher dead-letters with this text as the reason.
    let s = ok(&buy("1H"));
    let reason = check_fresh(&s, at("2026-11-30T10:00:00Z"), TTL)
        .unwrap_err()
        .to_string();
    assert_eq!(
        reason,
        "invalid signal: generated_at: expired at 2026-11-30T10:00:00Z, one 1H bar after \
         generated_at; received at 2026-11-30T10:00:00Z, it would reach traders too late"
    );
}
