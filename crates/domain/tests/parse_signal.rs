//! `parse_signal`: every rule broken one at a time, several at once, malformed bodies, exact
//! numbers, hostile text, and the round trip through `Signal::to_json`.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::parse::{MAX_CONTEXT_CHARS, MAX_NOTE_CHARS, MAX_NOTES, field_names};
use herald_domain::{FieldError, Rejection, Signal, SignalId, SignalKind, Timeframe, parse_signal};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

const NOW: &str = "2023-06-15T14:31:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

/// The product spec §3.1 example as a payload.
fn spec_buy() -> Value {
    json!({
        "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90",
        "kind": "buy",
        "asset": "BTC/USD",
        "entry_price": "45250",
        "target_price": "46500",
        "stop_loss": "44500",
        "timeframe": "1H",
        "confidence": 85,
        "generated_at": "2023-06-15T14:30:45Z",
        "notes": [
            "Strong bullish momentum detected",
            "Breaking above key resistance level",
            "Increasing volume supporting the move"
        ]
    })
}

fn spec_sell() -> Value {
    let mut v = spec_buy();
    set(&mut v, "kind", json!("sell"));
    set(&mut v, "target_price", json!("44000"));
    set(&mut v, "stop_loss", json!("46000"));
    v
}

fn close() -> Value {
    json!({
        "kind": "close",
        "asset": "BTC/USD",
        "confidence": 90,
        "generated_at": "2023-06-15T14:30:45Z"
    })
}

fn alert() -> Value {
    json!({
        "kind": "alert",
        "asset": "BTC/USD",
        "confidence": 70,
        "generated_at": "2023-06-15T14:30:45Z",
        "market_context": "CPI release at 12:30 UTC"
    })
}

fn set(v: &mut Value, key: &str, value: Value) {
    v.as_object_mut().unwrap().insert(key.into(), value);
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    set(&mut v, key, value);
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// `v` as JSON text with `key` set to the raw JSON text `raw` (for numbers `json!` would
/// turn into f64).
fn with_raw(v: Value, key: &str, raw: &str) -> String {
    let marker = "\u{1}RAW\u{1}";
    with(v, key, json!(marker))
        .to_string()
        .replace(&json!(marker).to_string(), raw)
}

fn parse(v: &Value) -> Result<Signal, Rejection> {
    parse_signal(v.to_string().as_bytes(), now())
}

fn ok(v: &Value) -> Signal {
    parse(v).unwrap_or_else(|e| panic!("expected a signal, got {e}"))
}

fn errors_of(result: Result<Signal, Rejection>) -> Vec<FieldError> {
    match result {
        Err(Rejection::Invalid(errors)) => errors,
        other => panic!("expected Rejection::Invalid, got {other:?}"),
    }
}

fn errors(v: &Value) -> Vec<FieldError> {
    errors_of(parse(v))
}

/// The one error `v` has, as (field, code, message).
fn only_error(v: &Value) -> (String, &'static str, String) {
    only_of(errors(v))
}

fn only_of(errors: Vec<FieldError>) -> (String, &'static str, String) {
    assert_eq!(
        errors.len(),
        1,
        "expected exactly one error, got {errors:#?}"
    );
    let e = errors.into_iter().next().unwrap();
    (e.field, e.code, e.message)
}

fn assert_one(v: &Value, field: &str, code: &str) -> String {
    let (f, c, message) = only_error(v);
    assert_eq!((f.as_str(), c), (field, code), "message: {message}");
    message
}

fn malformed(body: &[u8]) -> String {
    match parse_signal(body, now()) {
        Err(Rejection::Malformed(why)) => why,
        other => panic!("expected Rejection::Malformed for {body:?}, got {other:?}"),
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

// ---- well-formed signals -------------------------------------------------------------------

#[test]
fn the_spec_example_parses_into_the_expected_signal() {
    let s = ok(&spec_buy());
    assert_eq!(
        s.id,
        SignalId(Uuid::parse_str("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90").unwrap())
    );
    assert_eq!(s.kind, SignalKind::Buy);
    assert_eq!(s.asset.as_str(), "BTC/USD");
    assert_eq!(s.entry_price.unwrap().value(), dec("45250"));
    assert_eq!(s.target_price.unwrap().value(), dec("46500"));
    assert_eq!(s.stop_loss.unwrap().value(), dec("44500"));
    assert_eq!(s.timeframe, Some(Timeframe::H1));
    assert_eq!(s.confidence.get(), 85);
    assert_eq!(
        s.generated_at,
        "2023-06-15T14:30:45Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(s.notes.len(), 3);
    assert_eq!(s.source_model, None);
    assert_eq!(s.closes_signal_id, None);
}

#[test]
fn a_missing_or_null_id_gets_a_fresh_v7_id() {
    for v in [
        without(spec_buy(), "id"),
        with(spec_buy(), "id", Value::Null),
    ] {
        let a = ok(&v);
        let b = ok(&v);
        assert_eq!(a.id.0.get_version_num(), 7);
        assert_ne!(a.id, b.id);
    }
}

#[test]
fn kind_asset_and_timeframe_are_normalised() {
    let s = ok(&with(
        with(spec_buy(), "kind", json!("BUY")),
        "asset",
        json!("btc/usd"),
    ));
    assert_eq!((s.kind, s.asset.as_str()), (SignalKind::Buy, "BTC/USD"));
    assert_eq!(
        ok(&with(spec_buy(), "kind", json!(" Buy "))).kind,
        SignalKind::Buy
    );
    assert_eq!(
        ok(&with(spec_buy(), "timeframe", json!("1h"))).timeframe,
        Some(Timeframe::H1)
    );
    assert_eq!(
        ok(&with(spec_buy(), "timeframe", json!("15m"))).timeframe,
        Some(Timeframe::M15)
    );
}

#[test]
fn every_kind_parses_with_only_what_it_needs() {
    let sell = ok(&spec_sell());
    assert_eq!(sell.kind, SignalKind::Sell);
    let c = ok(&close());
    assert_eq!(
        (c.kind, c.entry_price, c.timeframe),
        (SignalKind::Close, None, None)
    );
    let closing = Uuid::parse_str("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90").unwrap();
    let c = ok(&with(
        with(close(), "entry_price", json!("46100")),
        "closes_signal_id",
        json!(closing.to_string()),
    ));
    assert_eq!(c.entry_price.unwrap().value(), dec("46100"));
    assert_eq!(c.closes_signal_id, Some(SignalId(closing)));
    let a = ok(&alert());
    assert_eq!(a.kind, SignalKind::Alert);
    assert_eq!(
        a.market_context.as_deref(),
        Some("CPI release at 12:30 UTC")
    );
    assert_eq!(
        ok(&with(alert(), "timeframe", json!("4H"))).timeframe,
        Some(Timeframe::H4)
    );
}

#[test]
fn null_on_an_optional_field_means_absent() {
    let mut v = alert();
    for key in [
        "id",
        "timeframe",
        "valid_until",
        "source_model",
        "performance_category",
        "market_context",
        "notes",
        "closes_signal_id",
        "entry_price",
        "target_price",
        "stop_loss",
    ] {
        set(&mut v, key, Value::Null);
    }
    let s = ok(&v);
    assert_eq!(
        (s.market_context, s.notes.len(), s.entry_price),
        (None, 0, None)
    );
}

#[test]
fn optional_text_is_trimmed_and_blank_text_is_absent() {
    let v = with(
        with(
            with(spec_buy(), "source_model", json!("  momentum-v3 ")),
            "performance_category",
            json!("   "),
        ),
        "notes",
        json!(["  first  ", "", "   ", "second"]),
    );
    let s = ok(&with(v, "market_context", json!("")));
    assert_eq!(s.source_model.as_deref(), Some("momentum-v3"));
    assert_eq!(s.performance_category, None);
    assert_eq!(s.market_context, None);
    assert_eq!(s.notes, ["first", "second"]);
}

#[test]
fn market_context_may_span_lines() {
    let s = ok(&with(
        alert(),
        "market_context",
        json!("Line one\nLine two\n\nLine four"),
    ));
    assert_eq!(
        s.market_context.as_deref(),
        Some("Line one\nLine two\n\nLine four")
    );
}

// ---- numbers: exact, never through f64 -------------------------------------------------------

fn entry_of(body: &str) -> Decimal {
    match parse_signal(body.as_bytes(), now()) {
        Ok(s) => s.entry_price.unwrap().value(),
        Err(e) => panic!("{body}: {e}"),
    }
}

#[test]
fn prices_as_strings_and_numbers_are_read_exactly() {
    let base = || {
        with(
            with(spec_buy(), "stop_loss", json!("0.01")),
            "target_price",
            json!("90000"),
        )
    };
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "45250.5")),
        dec("45250.5")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "\"45250.50\"")),
        dec("45250.5")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "0.1")),
        dec("0.1")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "0.1")).to_string(),
        "0.1"
    );
    let many = entry_of(&with_raw(base(), "entry_price", "45250.123456789"));
    assert_eq!(many.to_string(), "45250.123456789");
    // More digits than an f64 holds: still exact.
    let long = entry_of(&with_raw(
        base(),
        "entry_price",
        "45250.1234567890123456789",
    ));
    assert_eq!(long.to_string(), "45250.1234567890123456789");
    let long = entry_of(&with_raw(
        base(),
        "entry_price",
        "\"45250.1234567890123456789\"",
    ));
    assert_eq!(long.to_string(), "45250.1234567890123456789");
}

#[test]
fn prices_in_scientific_notation() {
    let base = || {
        with(
            with(spec_buy(), "stop_loss", json!("0.00000001")),
            "target_price",
            json!("90000"),
        )
    };
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "4.5e4")),
        dec("45000")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "4.5E+4")),
        dec("45000")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "1234e-8")),
        dec("0.00001234")
    );
    assert_eq!(
        entry_of(&with_raw(base(), "entry_price", "\"4.5e4\"")),
        dec("45000")
    );
}

#[test]
fn zero_negative_and_unrepresentable_prices_are_out_of_range() {
    for raw in [
        "0",
        "\"0\"",
        "-5",
        "\"-45250\"",
        "0.0",
        "-0",
        "1e40",
        "1e-40",
        "\"1e29\"",
    ] {
        let body = with_raw(spec_buy(), "entry_price", raw);
        let (field, code, message) = only_of(errors_of(parse_signal(body.as_bytes(), now())));
        assert_eq!(
            (field.as_str(), code),
            ("entry_price", "out_of_range"),
            "{raw}: {message}"
        );
    }
    let body = with_raw(spec_buy(), "entry_price", "-5");
    let (_, _, message) = only_of(errors_of(parse_signal(body.as_bytes(), now())));
    assert_eq!(message, "must be greater than 0, got -5");
}

#[test]
fn prices_that_are_not_numbers_are_rejected_by_type_or_value() {
    for (value, code) in [
        (json!(true), "invalid_type"),
        (json!([]), "invalid_type"),
        (json!({}), "invalid_type"),
        (json!(["45250"]), "invalid_type"),
        (json!("abc"), "invalid_value"),
        (json!("NaN"), "invalid_value"),
        (json!("Infinity"), "invalid_value"),
        (json!("-inf"), "invalid_value"),
        (json!("45,250"), "invalid_value"),
        (json!("$45250"), "invalid_value"),
        (json!(""), "invalid_value"),
    ] {
        let message = assert_one(
            &with(spec_buy(), "entry_price", value.clone()),
            "entry_price",
            code,
        );
        if value == json!(true) {
            assert!(message.ends_with("got a boolean"), "{message}");
        }
    }
}

#[test]
fn confidence_must_be_a_whole_number_from_0_to_100() {
    let conf = |raw: &str| parse_signal(with_raw(spec_buy(), "confidence", raw).as_bytes(), now());
    assert_eq!(conf("0").unwrap().confidence.get(), 0);
    assert_eq!(conf("100").unwrap().confidence.get(), 100);
    assert_eq!(conf("85.0").unwrap().confidence.get(), 85);
    assert_eq!(conf("8.5e1").unwrap().confidence.get(), 85);
    let check = |raw: &str, code: &str, message: &str| {
        let (field, c, m) = only_of(errors_of(conf(raw)));
        assert_eq!(
            (field.as_str(), c, m.as_str()),
            ("confidence", code, message),
            "{raw}"
        );
    };
    check("140", "out_of_range", "must be between 0 and 100, got 140");
    check("101", "out_of_range", "must be between 0 and 100, got 101");
    check("-1", "out_of_range", "must be between 0 and 100, got -1");
    check(
        "1e400",
        "out_of_range",
        "must be between 0 and 100, got 1e400",
    );
    check("85.5", "invalid_type", "must be a whole number, got 85.5");
    check(
        "\"85\"",
        "invalid_type",
        "must be a whole number from 0 to 100, got a string",
    );
    check(
        "true",
        "invalid_type",
        "must be a whole number from 0 to 100, got a boolean",
    );
    check("null", "required", "is required");
}

// ---- one rule broken at a time ----------------------------------------------------------------

#[test]
fn required_fields_for_every_kind() {
    for key in ["kind", "asset", "confidence", "generated_at"] {
        for base in [spec_buy(), spec_sell(), close(), alert()] {
            assert_one(&without(base.clone(), key), key, "required");
            assert_one(&with(base, key, Value::Null), key, "required");
        }
    }
}

#[test]
fn buy_and_sell_need_prices_and_timeframe_but_close_and_alert_do_not() {
    for key in ["entry_price", "target_price", "stop_loss", "timeframe"] {
        let m = assert_one(&without(spec_buy(), key), key, "required");
        assert_eq!(m, "is required for a buy signal");
        let m = assert_one(&with(spec_sell(), key, Value::Null), key, "required");
        assert_eq!(m, "is required for a sell signal");
    }
    assert!(parse(&close()).is_ok());
    assert!(parse(&alert()).is_ok());
}

#[test]
fn wrong_json_types_are_invalid_type() {
    for (key, value) in [
        ("id", json!(5)),
        ("kind", json!(1)),
        ("asset", json!(["BTC"])),
        ("timeframe", json!(60)),
        ("generated_at", json!(1686839445)),
        ("source_model", json!(3)),
        ("performance_category", json!({"grade": "A"})),
        ("market_context", json!(false)),
        ("notes", json!("just one note")),
        ("notes", json!({"0": "a"})),
    ] {
        assert_one(&with(spec_buy(), key, value), key, "invalid_type");
    }
    assert_one(
        &with(spec_buy(), "notes", json!(["fine", 7])),
        "notes[1]",
        "invalid_type",
    );
    assert_one(
        &with(spec_buy(), "notes", json!([null])),
        "notes[0]",
        "invalid_type",
    );
    assert_one(
        &with(spec_buy(), "notes", json!([["nested"]])),
        "notes[0]",
        "invalid_type",
    );
    let m = assert_one(
        &with(spec_buy(), "notes", json!(5)),
        "notes",
        "invalid_type",
    );
    assert_eq!(m, "must be an array of strings, got a number");
}

#[test]
fn unusable_values_are_invalid_value() {
    for (key, value) in [
        ("id", json!("not-a-uuid")),
        ("id", json!("00000000-0000-0000-0000-000000000000")),
        ("kind", json!("hold")),
        ("asset", json!("BTC/USD/EUR")),
        ("asset", json!("BTC USD")),
        ("asset", json!("")),
        ("timeframe", json!("1M")),
        ("timeframe", json!("90m")),
        ("generated_at", json!("yesterday")),
        ("generated_at", json!("2023-06-15 14:30:45")),
    ] {
        assert_one(&with(spec_buy(), key, value), key, "invalid_value");
    }
    let m = assert_one(
        &with(spec_buy(), "kind", json!("hold")),
        "kind",
        "invalid_value",
    );
    assert!(m.contains("expected one of buy, sell, close, alert"), "{m}");
}

#[test]
fn generated_at_may_be_at_most_five_minutes_ahead() {
    let at = |t: DateTime<Utc>| with(spec_buy(), "generated_at", json!(t.to_rfc3339()));
    let five = TimeDelta::minutes(5);
    assert!(parse(&at(now() + five)).is_ok());
    assert!(parse(&at(now() + five - TimeDelta::seconds(1))).is_ok());
    assert!(parse(&at(now() - TimeDelta::days(400))).is_ok());
    let m = assert_one(
        &at(now() + five + TimeDelta::seconds(1)),
        "generated_at",
        "out_of_range",
    );
    assert_eq!(
        m,
        "must not be more than 5 minutes in the future: generated_at is 2023-06-15T14:36:01Z, \
         received at 2023-06-15T14:31:00Z"
    );
    // Just over, by a millisecond.
    let just_over = now() + five + TimeDelta::milliseconds(1);
    assert_one(&at(just_over), "generated_at", "out_of_range");
    // Offsets are honoured: 16:35:59+02:00 is 14:35:59Z, inside the window.
    assert!(
        parse(&with(
            spec_buy(),
            "generated_at",
            json!("2023-06-15T16:35:59+02:00")
        ))
        .is_ok()
    );
}

#[test]
fn generated_at_before_2000_is_out_of_range() {
    let m = assert_one(
        &with(spec_buy(), "generated_at", json!("1999-12-31T23:59:59Z")),
        "generated_at",
        "out_of_range",
    );
    assert_eq!(
        m,
        "must not be before 2000-01-01T00:00:00Z, got 1999-12-31T23:59:59Z"
    );
    assert!(
        parse(&with(
            spec_buy(),
            "generated_at",
            json!("2000-01-01T00:00:00Z")
        ))
        .is_ok()
    );
}

#[test]
fn text_limits_count_characters_not_bytes() {
    for (key, max) in [
        ("source_model", 64),
        ("performance_category", 64),
        ("market_context", 500),
    ] {
        // Multi-byte and astral characters each count once.
        let fits: String = "é😀".repeat(max / 2);
        assert_eq!(
            ok(&with(spec_buy(), key, json!(fits)))
                .source_model
                .is_some(),
            key == "source_model"
        );
        let m = assert_one(
            &with(spec_buy(), key, json!("x".repeat(max + 1))),
            key,
            "too_long",
        );
        assert_eq!(
            m,
            format!("must be at most {max} characters, got {}", max + 1)
        );
    }
    assert_eq!(MAX_CONTEXT_CHARS, 500);
}

#[test]
fn notes_are_limited_in_number_and_length() {
    assert_eq!((MAX_NOTES, MAX_NOTE_CHARS), (10, 280));
    let ten: Vec<String> = (0..10).map(|i| format!("note {i}")).collect();
    assert_eq!(ok(&with(spec_buy(), "notes", json!(ten))).notes.len(), 10);
    // Blank notes do not count.
    let mut padded = ten.clone();
    padded.extend(["".to_string(), "  ".to_string()]);
    assert_eq!(
        ok(&with(spec_buy(), "notes", json!(padded))).notes.len(),
        10
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("note {i}")).collect();
    let m = assert_one(
        &with(spec_buy(), "notes", json!(eleven)),
        "notes",
        "too_long",
    );
    assert_eq!(m, "must hold at most 10 notes, got 11");
    let long = vec!["ok".to_string(), "ok".into(), "ok".into(), "ü".repeat(281)];
    let m = assert_one(
        &with(spec_buy(), "notes", json!(long)),
        "notes[3]",
        "too_long",
    );
    assert_eq!(m, "must be at most 280 characters, got 281");
    assert!(parse(&with(spec_buy(), "notes", json!(["ü".repeat(280)]))).is_ok());
}

#[test]
fn control_characters_are_rejected_but_newlines_are_fine_in_market_context() {
    for key in ["source_model", "performance_category"] {
        for bad in [
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{0}b",
            "a\u{1b}[31mb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{2028}b",
        ] {
            assert_one(&with(spec_buy(), key, json!(bad)), key, "invalid_value");
        }
    }
    let m = assert_one(
        &with(spec_buy(), "notes", json!(["fine", "bad\nline"])),
        "notes[1]",
        "invalid_value",
    );
    assert_eq!(
        m,
        "must be a single line; found a line break U+000A at character 4"
    );
    let m = assert_one(
        &with(spec_buy(), "source_model", json!("nul\u{0}")),
        "source_model",
        "invalid_value",
    );
    assert_eq!(
        m,
        "must not contain control characters; found U+0000 at character 4"
    );
    assert!(parse(&with(alert(), "market_context", json!("one\ntwo"))).is_ok());
    for bad in ["one\r\ntwo", "tab\there", "nul\u{0}", "bell\u{7}"] {
        assert_one(
            &with(alert(), "market_context", json!(bad)),
            "market_context",
            "invalid_value",
        );
    }
}

#[test]
fn hostile_but_printable_text_is_accepted_as_is() {
    let hostile = [
        "<b>bold</b>",
        "Tom & Jerry",
        "</code><script>alert(1)</script>",
        "🚀🌕 to the moon",
        "مرحبا بالعالم",
        "שלום עולם",
        "\u{202E}reversed",
        "zero\u{200B}width",
        "\"quoted\"",
    ];
    let v = with(
        with(spec_buy(), "notes", json!(hostile)),
        "source_model",
        json!("<i>model</i> & co"),
    );
    let s = ok(&v);
    assert_eq!(s.notes, hostile);
    assert_eq!(s.source_model.as_deref(), Some("<i>model</i> & co"));
}

#[test]
fn closes_signal_id_only_on_close_signals() {
    let target = json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90");
    for base in [spec_buy(), spec_sell(), alert()] {
        let kind = base["kind"].as_str().unwrap().to_string();
        let m = assert_one(
            &with(base, "closes_signal_id", target.clone()),
            "closes_signal_id",
            "not_allowed",
        );
        assert_eq!(
            m,
            format!("only close signals name the signal they close, not {kind} signals")
        );
    }
    assert_one(
        &with(close(), "closes_signal_id", json!("nope")),
        "closes_signal_id",
        "invalid_value",
    );
    assert_one(
        &with(close(), "closes_signal_id", json!(42)),
        "closes_signal_id",
        "invalid_type",
    );
}

#[test]
fn close_signals_carry_no_target_or_stop_and_alerts_no_prices() {
    let m = assert_one(
        &with(close(), "target_price", json!("46500")),
        "target_price",
        "not_allowed",
    );
    assert_eq!(m, "close signals carry no target_price");
    let m = assert_one(
        &with(close(), "stop_loss", json!(44500)),
        "stop_loss",
        "not_allowed",
    );
    assert_eq!(m, "close signals carry no stop_loss");
    for key in ["entry_price", "target_price", "stop_loss"] {
        let m = assert_one(&with(alert(), key, json!("1")), key, "not_allowed");
        assert!(m.starts_with("alert signals carry no prices"), "{m}");
    }
    // A forbidden field is reported as not allowed even if its value is also bad.
    assert_one(
        &with(close(), "target_price", json!(true)),
        "target_price",
        "not_allowed",
    );
}

#[test]
fn buy_prices_must_be_ordered_stop_entry_target() {
    let m = assert_one(
        &with(spec_buy(), "stop_loss", json!("45300")),
        "stop_loss",
        "price_order",
    );
    assert_eq!(
        m,
        "must be below entry_price (45250) for a buy signal, got 45300"
    );
    assert_one(
        &with(spec_buy(), "stop_loss", json!("45250")),
        "stop_loss",
        "price_order",
    );
    let m = assert_one(
        &with(spec_buy(), "target_price", json!("45000")),
        "target_price",
        "price_order",
    );
    assert_eq!(
        m,
        "must be above entry_price (45250) for a buy signal, got 45000"
    );
    assert_one(
        &with(spec_buy(), "target_price", json!("45250.0")),
        "target_price",
        "price_order",
    );
    // Just on the right side is fine.
    assert!(parse(&with(spec_buy(), "stop_loss", json!("45249.99999999"))).is_ok());
}

#[test]
fn sell_prices_must_be_ordered_target_entry_stop() {
    let m = assert_one(
        &with(spec_sell(), "stop_loss", json!("45000")),
        "stop_loss",
        "price_order",
    );
    assert_eq!(
        m,
        "must be above entry_price (45250) for a sell signal, got 45000"
    );
    let m = assert_one(
        &with(spec_sell(), "target_price", json!("46500")),
        "target_price",
        "price_order",
    );
    assert_eq!(
        m,
        "must be below entry_price (45250) for a sell signal, got 46500"
    );
    // The buy example's prices, labelled sell: both ends are wrong.
    let wrong: Vec<(String, &str)> = errors(&with(spec_buy(), "kind", json!("sell")))
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect();
    assert_eq!(
        wrong,
        [
            ("target_price".to_string(), "price_order"),
            ("stop_loss".to_string(), "price_order")
        ]
    );
}

#[test]
fn without_a_usable_entry_stop_and_target_are_still_ordered() {
    let v = with(
        with(spec_buy(), "entry_price", json!("abc")),
        "stop_loss",
        json!("47000"),
    );
    let found: Vec<(String, &str)> = errors(&v).into_iter().map(|e| (e.field, e.code)).collect();
    assert_eq!(
        found,
        [
            ("entry_price".to_string(), "invalid_value"),
            ("stop_loss".to_string(), "price_order")
        ]
    );
    let m = errors(&v).pop().unwrap().message;
    assert_eq!(
        m,
        "must be below target_price (46500) for a buy signal, got 47000"
    );
}

#[test]
fn unknown_fields_are_named_with_the_list_and_a_hint() {
    let v = with(without(spec_buy(), "confidence"), "confidnce", json!(85));
    let found = errors(&v);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(
        (found[0].field.as_str(), found[0].code),
        ("confidence", "required")
    );
    assert_eq!(
        (found[1].field.as_str(), found[1].code),
        ("confidnce", "unknown_field")
    );
    assert_eq!(
        found[1].message,
        "unknown field (did you mean confidence?); expected one of id, kind, asset, entry_price, \
         target_price, stop_loss, timeframe, confidence, generated_at, valid_until, \
         source_model, performance_category, market_context, notes, closes_signal_id, reason"
    );
    let m = assert_one(
        &with(spec_buy(), "leverage", json!(10)),
        "leverage",
        "unknown_field",
    );
    assert!(
        m.starts_with("unknown field; expected one of id, kind,"),
        "{m}"
    );
    assert_eq!(field_names().len(), 16);
}

#[test]
fn a_repeated_field_is_rejected_not_silently_overwritten() {
    let body = br#"{"kind":"alert","asset":"BTC","confidence":70,"confidence":5,
        "generated_at":"2023-06-15T14:30:45Z"}"#;
    let (field, code, message) = only_of(errors_of(parse_signal(body, now())));
    assert_eq!((field.as_str(), code), ("confidence", "invalid_value"));
    assert_eq!(message, "appears more than once; send each field once");
}

// ---- many at once ---------------------------------------------------------------------------

#[test]
fn every_problem_is_reported_in_field_order() {
    let v = json!({
        "id": "nope",
        "kind": "buy",
        "asset": "BTC/USD/X",
        "entry_price": "45250",
        "target_price": "45000",
        "stop_loss": true,
        "confidence": 140,
        "generated_at": "2099-01-01T00:00:00Z",
        "valid_until": "soon",
        "source_model": "a\nb",
        "notes": ["ok", 3, "x".repeat(300)],
        "closes_signal_id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90",
        "extra": 1
    });
    let found: Vec<(String, &str)> = errors(&v).into_iter().map(|e| (e.field, e.code)).collect();
    let expected = [
        ("id", "invalid_value"),
        ("asset", "invalid_value"),
        ("target_price", "price_order"),
        ("stop_loss", "invalid_type"),
        ("timeframe", "required"),
        ("confidence", "out_of_range"),
        ("generated_at", "out_of_range"),
        ("valid_until", "invalid_value"),
        ("source_model", "invalid_value"),
        ("notes[1]", "invalid_type"),
        ("notes[2]", "too_long"),
        ("closes_signal_id", "not_allowed"),
        ("extra", "unknown_field"),
    ];
    let expected: Vec<(String, &str)> = expected.iter().map(|(f, c)| (f.to_string(), *c)).collect();
    assert_eq!(found, expected);
}

#[test]
fn an_unknown_kind_still_checks_every_other_field() {
    let v = with(
        with(spec_buy(), "kind", json!("hold")),
        "entry_price",
        json!("abc"),
    );
    let found: Vec<(String, &str)> = errors(&v).into_iter().map(|e| (e.field, e.code)).collect();
    assert_eq!(
        found,
        [
            ("kind".to_string(), "invalid_value"),
            ("entry_price".to_string(), "invalid_value")
        ]
    );
}

#[test]
fn the_rejection_reads_well_as_one_line() {
    let e = parse(&with(
        with(spec_buy(), "confidence", json!(140)),
        "stop_loss",
        json!("45300"),
    ))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid signal: stop_loss: must be below entry_price (45250) for a buy signal, got 45300; \
         confidence: must be between 0 and 100, got 140"
    );
}

// ---- malformed bodies -----------------------------------------------------------------------

#[test]
fn malformed_bodies_say_what_is_wrong() {
    assert_eq!(malformed(b""), "body is empty");
    assert_eq!(malformed(b" \n\t "), "body is empty");
    assert_eq!(
        malformed(b"{"),
        "invalid JSON: EOF while parsing an object at line 1 column 1"
    );
    assert_eq!(malformed(b"[]"), "expected a JSON object, got an array");
    assert_eq!(
        malformed(b"\"str\""),
        "expected a JSON object, got a string"
    );
    assert_eq!(malformed(b"null"), "expected a JSON object, got null");
    assert_eq!(malformed(b"42"), "expected a JSON object, got a number");
    assert_eq!(malformed(b"true"), "expected a JSON object, got a boolean");
    assert!(malformed(b"{} {}").starts_with("invalid JSON: trailing characters at line 1"));
    assert!(malformed(b"{\"kind\": buy}").contains("line 1 column"));
    assert!(malformed(b"{\"a\":\"\xff\"}").starts_with("body is not valid UTF-8"));
    let m = malformed(b"{\n  \"kind\": \"buy\",\n}");
    assert_eq!(m, "invalid JSON: key must be a string at line 3 column 1");
}

#[test]
fn an_empty_object_lists_every_required_field() {
    let found: Vec<(String, &str)> = errors_of(parse_signal(b"{}", now()))
        .into_iter()
        .map(|e| (e.field, e.code))
        .collect();
    let expected: Vec<(String, &str)> = ["kind", "asset", "confidence", "generated_at"]
        .iter()
        .map(|f| (f.to_string(), "required"))
        .collect();
    assert_eq!(found, expected);
}

// ---- round trip -----------------------------------------------------------------------------

#[test]
fn parsing_the_canonical_json_gives_back_the_same_signal() {
    let full = json!({
        "kind": "buy",
        "asset": "eth/usdt",
        "entry_price": 1234.5678,
        "target_price": "1300.000",
        "stop_loss": 1.2e3,
        "timeframe": "4h",
        "confidence": 0,
        "generated_at": "2023-06-15T16:30:45.123456789+02:00",
        "valid_until": "2023-06-15T18:30:45.5+02:00",
        "source_model": " momentum-v3 ",
        "performance_category": "A <top> & \"best\"",
        "market_context": "Line one\nLine two 🌍 مرحبا",
        "notes": ["", "first", "  second  ", "🚀 <b>&</b>"]
    });
    let closing = with(
        with(close(), "entry_price", json!("0.00001234")),
        "closes_signal_id",
        json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90"),
    );
    for v in [spec_buy(), spec_sell(), close(), closing, alert(), full] {
        let signal = ok(&v);
        let json = signal.to_json();
        let again = parse_signal(&json, now())
            .unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&json)));
        assert_eq!(again, signal);
        // Canonical prices are decimal strings.
        let canonical: Value = serde_json::from_slice(&json).unwrap();
        if let Some(p) = canonical.get("entry_price") {
            assert!(p.is_string(), "{canonical}");
        }
    }
}

#[test]
fn messages_quote_at_most_a_short_piece_of_the_input() {
    let huge = "9".repeat(10_000) + "x";
    let m = assert_one(
        &with(spec_buy(), "entry_price", json!(huge)),
        "entry_price",
        "invalid_value",
    );
    assert_eq!(
        m,
        format!(
            "must be a decimal number like \"45250.5\", got \"{}…\"",
            "9".repeat(40)
        )
    );
    let m = assert_one(
        &with(spec_buy(), "id", json!("z".repeat(10_000))),
        "id",
        "invalid_value",
    );
    assert!(m.len() < 200, "{m}");
}

#[test]
fn a_default_id_is_used_only_when_the_signal_names_none() {
    use herald_domain::{SignalId, parse_signal_or_id};
    let now = chrono::Utc::now();
    let fixed = SignalId(uuid::Uuid::from_u128(7));
    let body = |id: Option<&str>| {
        let mut v = serde_json::json!({
            "kind": "alert", "asset": "BTC/USD", "confidence": 50,
            "generated_at": now.to_rfc3339(),
        });
        if let Some(id) = id {
            v["id"] = serde_json::json!(id);
        }
        serde_json::to_vec(&v).unwrap()
    };
    let without = parse_signal_or_id(&body(None), now, || fixed).unwrap();
    assert_eq!(without.id, fixed);
    let given = "0b9f6c2e-7d1a-4c55-9a53-3f1f1c2b8d10";
    let with = parse_signal_or_id(&body(Some(given)), now, || fixed).unwrap();
    assert_eq!(with.id.to_string(), given);
}
