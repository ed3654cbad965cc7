//! The JSON Schemas in `proto/` are generated from the wire types in `herald_domain::wire`;
//! this test regenerates them and fails when the committed files differ (drift), then checks
//! real payloads against them with a JSON Schema validator, and holds the signal schema to the
//! parser: what each kind carries is the same in both, and what only the parser refuses of a
//! payload the schema allows is exactly [`PARSER_ONLY_RULES`], which ingest-api's OpenAPI
//! document publishes as `x-parser-only-rules` (`proto/ingest-api.openapi.json`, checked here
//! too) and `scripts/fuzz-api` holds the running service to.
//!
//! To refresh the files after changing a wire type:
//! `UPDATE_PROTO=1 cargo test -p herald-domain --test proto`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_domain::wire::{PARSER_ONLY_RULES, signal_json_schema};
use herald_domain::{Rejection, SignalKind, check_fresh, parse_signal};
use jsonschema::Validator;
use serde_json::{Value, json};

const REFRESH: &str = "run `UPDATE_PROTO=1 cargo test -p herald-domain --test proto` to refresh";

/// The fields whose presence depends on the kind: the ones the per-kind rules of
/// [`signal_json_schema`] speak of.
const KIND_FIELDS: [&str; 6] = [
    "entry_price",
    "target_price",
    "stop_loss",
    "timeframe",
    "closes_signal_id",
    "reason",
];

/// One schema file and how it is generated.
struct SchemaFile {
    file: &'static str,
    generate: fn() -> Value,
}

const SCHEMAS: [SchemaFile; 1] = [SchemaFile {
    file: "signal.v1.schema.json",
    generate: signal_json_schema,
}];

fn proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

/// The text a schema file must hold: pretty JSON and a final newline.
fn file_text(schema: &Value) -> String {
    serde_json::to_string_pretty(schema).expect("a schema serialises") + "\n"
}

#[test]
fn committed_schemas_match_the_wire_types() {
    let update = std::env::var_os("UPDATE_PROTO").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for schema in &SCHEMAS {
        let path = proto_dir().join(schema.file);
        let expected = file_text(&(schema.generate)());
        let committed = std::fs::read_to_string(&path).ok();
        if committed.as_deref() == Some(expected.as_str()) {
            continue;
        }
        if update {
            std::fs::write(&path, &expected)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            eprintln!("refreshed proto/{}", schema.file);
            continue;
        }
        let why = match committed {
            None => "is missing".to_string(),
            Some(text) => first_difference(&text, &expected),
        };
        stale.push(format!("proto/{} {why}", schema.file));
    }
    assert!(
        stale.is_empty(),
        "the JSON Schemas in proto/ no longer match the Rust wire types:\n  {}\n{REFRESH}",
        stale.join("\n  ")
    );
}

/// "differs at line N: committed `…`, generated `…`".
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for line in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return "differs only in line endings or the final newline".into(),
            (a, b) => {
                return format!(
                    "differs at line {line}: committed `{}`, generated `{}`",
                    a.unwrap_or("<end of file>").trim(),
                    b.unwrap_or("<end of file>").trim()
                );
            }
        }
    }
    unreachable!("the loop returns")
}

/// A validator for the schema in `file`, as generated (the drift test holds the committed file
/// to the same text, and reading the generation avoids racing a refresh).
fn validator(file: &str) -> Validator {
    let schema = generated(file);
    jsonschema::meta::validate(&schema)
        .unwrap_or_else(|e| panic!("proto/{file} is not a valid JSON Schema: {e}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("proto/{file}: {e}"))
}

fn generated(file: &str) -> Value {
    let schema = SCHEMAS
        .iter()
        .find(|s| s.file == file)
        .expect("a known file");
    (schema.generate)()
}

/// The validator's complaints about `instance`, one per line (empty when it is valid).
fn problems(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The product spec §3.1 example: buy BTC/USD 45250 → 46500, stop 44500, 1H, 85 %.
fn spec_example() -> Value {
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

fn receipt_time() -> DateTime<Utc> {
    "2023-06-15T14:31:00Z".parse().unwrap()
}

/// The smallest valid signal of each kind, generated a few seconds before [`receipt_time`].
fn minimal(kind: SignalKind) -> Value {
    let mut payload = json!({
        "kind": kind.as_str(),
        "asset": "BTC/USD",
        "confidence": 70,
        "generated_at": "2023-06-15T14:30:45Z",
    });
    let trade = match kind {
        SignalKind::Buy => Some(("45250", "46500", "44500")),
        SignalKind::Sell => Some(("45250", "44000", "45900")),
        SignalKind::Close | SignalKind::Alert => None,
    };
    if let Some((entry, target, stop)) = trade {
        payload["entry_price"] = json!(entry);
        payload["target_price"] = json!(target);
        payload["stop_loss"] = json!(stop);
        payload["timeframe"] = json!("1H");
    }
    payload
}

/// What ingest-api does with a body received at `now`: parse it, then refuse it if stale
/// (with the default `HERALD_SIGNAL_TTL_SECS`). The problems, as `(field, code)`.
fn judge(payload: &Value, now: DateTime<Utc>) -> Vec<(String, String)> {
    let refused = parse_signal(payload.to_string().as_bytes(), now)
        .and_then(|signal| check_fresh(&signal, now, Duration::from_secs(900)));
    match refused {
        Ok(()) => Vec::new(),
        Err(Rejection::Invalid(errors)) => errors
            .into_iter()
            .map(|e| (e.field, e.code.to_string()))
            .collect(),
        Err(Rejection::Malformed(why)) => panic!("{payload} is not even JSON: {why}"),
    }
}

#[test]
fn the_spec_example_is_valid_and_so_is_what_herald_publishes() {
    let schema = validator("signal.v1.schema.json");
    let example = spec_example();
    assert_eq!(problems(&schema, &example), Vec::<String>::new());

    // The canonical JSON Herald puts on the bus conforms too.
    let signal = parse_signal(example.to_string().as_bytes(), receipt_time())
        .expect("the spec example is a valid signal");
    let published: Value = serde_json::from_slice(&signal.to_json()).unwrap();
    assert_eq!(problems(&schema, &published), Vec::<String>::new());

    // So is the engine's own deadline.
    let mut deadline = example.clone();
    deadline["valid_until"] = json!("2023-06-15T15:00:00Z");
    assert_eq!(problems(&schema, &deadline), Vec::<String>::new());
    let signal = parse_signal(deadline.to_string().as_bytes(), receipt_time())
        .expect("a valid_until after generated_at is fine");
    let published: Value = serde_json::from_slice(&signal.to_json()).unwrap();
    assert_eq!(published["valid_until"], "2023-06-15T15:00:00Z");
    assert_eq!(problems(&schema, &published), Vec::<String>::new());

    // Prices as JSON numbers are in the schema as well as in the parser.
    let mut numbers = example.clone();
    numbers["entry_price"] = json!(45250.5);
    assert_eq!(problems(&schema, &numbers), Vec::<String>::new());

    // The richer signals of the other kinds.
    for other in [
        json!({"kind": "close", "asset": "BTC/USD", "entry_price": "46400", "confidence": 90,
               "generated_at": "2023-06-15T14:30:45Z", "timeframe": "1H",
               "closes_signal_id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90"}),
        json!({"kind": "alert", "asset": "ETH/USD", "confidence": 70,
               "generated_at": "2023-06-15T14:30:45Z",
               "market_context": "CPI at 12:30 UTC\nexpect volatility"}),
    ] {
        assert_eq!(problems(&schema, &other), Vec::<String>::new(), "{other}");
        assert_eq!(judge(&other, receipt_time()), Vec::new(), "{other}");
    }
}

#[test]
fn the_smallest_signal_of_each_kind_is_valid_in_both() {
    let schema = validator("signal.v1.schema.json");
    for kind in SignalKind::ALL {
        let payload = minimal(kind);
        assert_eq!(
            problems(&schema, &payload),
            Vec::<String>::new(),
            "{payload}"
        );
        assert_eq!(judge(&payload, receipt_time()), Vec::new(), "{payload}");
    }
}

#[test]
fn the_signal_schema_refuses_what_is_not_a_signal() {
    let schema = validator("signal.v1.schema.json");
    let broken = [
        ("unknown field", "colour", json!("red")),
        ("unknown kind", "kind", json!("hold")),
        ("confidence over 100", "confidence", json!(101)),
        ("fractional confidence", "confidence", json!(85.5)),
        ("price with a unit", "entry_price", json!("45250 USD")),
        ("zero price", "stop_loss", json!("0.00")),
        ("negative price", "stop_loss", json!(-1)),
        ("unknown timeframe", "timeframe", json!("2D")),
        ("not a UUID", "id", json!("signal-1")),
        (
            "the nil UUID",
            "id",
            json!("00000000-0000-0000-0000-000000000000"),
        ),
        ("not a timestamp", "generated_at", json!("yesterday")),
        ("three symbols", "asset", json!("BTC/USD/EUR")),
        ("a symbol of 17", "asset", json!("ABCDEFGHIJKLMNOPQ")),
        ("a two-line model", "source_model", json!("gpt\nv2")),
        ("a model of 65", "source_model", json!("m".repeat(65))),
        ("a context of 501", "market_context", json!("c".repeat(501))),
        ("a control character", "market_context", json!("tab\there")),
        ("eleven notes", "notes", json!(vec!["n"; 11])),
        ("a note of 281", "notes", json!(["n".repeat(281)])),
        (
            "a deadline that is not a timestamp",
            "valid_until",
            json!("tomorrow"),
        ),
        (
            "a deadline as a number",
            "valid_until",
            json!(1_686_843_045),
        ),
    ];
    for (what, field, value) in broken {
        let mut payload = spec_example();
        payload[field] = value;
        assert!(
            !problems(&schema, &payload).is_empty(),
            "the schema accepted a signal with {what}: {payload}"
        );
        assert!(
            !judge(&payload, receipt_time()).is_empty(),
            "the parser accepted a signal with {what}: {payload}"
        );
    }
    let mut missing = spec_example();
    missing.as_object_mut().unwrap().remove("asset");
    assert!(!problems(&schema, &missing).is_empty(), "asset is required");
}

/// The two payloads schemathesis found that the old schema allowed and the parser refused.
#[test]
fn the_schema_refuses_a_buy_without_timeframe_or_with_closes_signal_id() {
    let schema = validator("signal.v1.schema.json");
    let mut no_timeframe = spec_example();
    no_timeframe.as_object_mut().unwrap().remove("timeframe");
    let mut closing_buy = spec_example();
    closing_buy["closes_signal_id"] = json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a91");
    let mut null_stop = spec_example();
    null_stop["stop_loss"] = Value::Null;
    for refused in [no_timeframe, closing_buy, null_stop] {
        assert!(!problems(&schema, &refused).is_empty(), "{refused}");
        assert!(!judge(&refused, receipt_time()).is_empty(), "{refused}");
    }
}

/// Every combination of the kind-dependent fields, for every kind: the schema allows it
/// exactly when the parser does. The values themselves are valid (and in price order), so
/// only presence decides.
#[test]
fn each_kind_carries_in_the_schema_what_the_parser_demands() {
    let schema = validator("signal.v1.schema.json");
    let mut disagreements = Vec::new();
    for kind in SignalKind::ALL {
        let (entry, target, stop) = match kind {
            SignalKind::Sell => ("45250", "44000", "45900"),
            _ => ("45250", "46500", "44500"),
        };
        let values = [
            json!(entry),
            json!(target),
            json!(stop),
            json!("1H"),
            json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90"),
            json!("target"),
        ];
        for present in 0..1u32 << KIND_FIELDS.len() {
            let mut payload = minimal(kind);
            let object = payload.as_object_mut().unwrap();
            for (i, field) in KIND_FIELDS.iter().enumerate() {
                if present & (1 << i) == 0 {
                    object.remove(*field);
                } else {
                    object.insert(field.to_string(), values[i].clone());
                }
            }
            let schema_says = problems(&schema, &payload).is_empty();
            let parser_says = judge(&payload, receipt_time()).is_empty();
            if schema_says != parser_says {
                disagreements.push(format!(
                    "{payload}: the schema {}, the parser {}",
                    if schema_says { "allows" } else { "refuses" },
                    if parser_says { "accepts" } else { "refuses" },
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "the kind rules in the schema are not the parser's:\n  {}",
        disagreements.join("\n  ")
    );
}

#[test]
fn the_parser_is_more_lenient_than_the_schema_and_the_schema_says_so() {
    let schema = validator("signal.v1.schema.json");
    let lenient = [
        ("kind", json!("BUY")),
        ("kind", json!(" buy ")),
        ("asset", json!("btc/usd")),
        ("timeframe", json!("1h")),
        ("entry_price", json!(" 45250 ")),
        ("entry_price", json!("4.525e4")),
        ("generated_at", json!("2023-06-15 14:30:45Z")),
        ("generated_at", json!("2023-06-15T14:30:59.5Z ")),
        ("generated_at", json!("2023-06-15T14:30:60Z")),
        ("id", json!("0189c3a27b1e7d3f9a4c2f5e8d1b6a90")),
        ("id", json!("{0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90}")),
        ("source_model", json!("trend-v2\n")),
        ("notes", Value::Null),
        ("closes_signal_id", Value::Null),
        ("reason", Value::Null),
    ];
    for (field, value) in lenient {
        let mut payload = spec_example();
        payload[field] = value;
        assert!(!problems(&schema, &payload).is_empty(), "{payload}");
        assert_eq!(judge(&payload, receipt_time()), Vec::new(), "{payload}");
    }
    let mut whole = spec_example();
    whole["confidence"] = json!(85.0);
    assert_eq!(problems(&schema, &whole), Vec::<String>::new(), "{whole}");
    assert_eq!(judge(&whole, receipt_time()), Vec::new(), "{whole}");

    let description = generated("signal.v1.schema.json")["description"]
        .as_str()
        .unwrap()
        .to_string();
    for phrase in [
        "more lenient",
        "any case",
        "JSON numbers",
        "stricter",
        "x-parser-only-rules",
    ] {
        assert!(description.contains(phrase), "description lacks {phrase:?}");
    }
}

/// Payloads the schema allows and the parser (or the freshness check) refuses, each for one
/// reason: one per rule no schema can state. Received at [`receipt_time`].
fn parser_only_examples() -> Vec<(&'static str, Value)> {
    let with = |changes: Value| {
        let mut payload = spec_example();
        for (field, value) in changes.as_object().unwrap() {
            payload[field] = value.clone();
        }
        payload
    };
    let too_precise = "0.00000000000000000000000000001";
    let mut close = minimal(SignalKind::Close);
    close["entry_price"] = json!(too_precise);
    vec![
        (
            "a target below the entry",
            with(json!({"target_price": "45000"})),
        ),
        (
            "a stop above the entry",
            with(json!({"stop_loss": "45300"})),
        ),
        ("a sell's stop below its entry", {
            let mut sell = minimal(SignalKind::Sell);
            sell["stop_loss"] = json!("45000");
            sell
        }),
        (
            "an entry of 29 decimal places",
            with(json!({"entry_price": too_precise})),
        ),
        ("an exit of 29 decimal places", close),
        ("a target of 1e30", with(json!({"target_price": 1e30}))),
        (
            "a stop of 30 significant digits",
            with(json!({"stop_loss": "4450.00000000000000000000000001"})),
        ),
        (
            "a signal from the last century",
            with(json!({"generated_at": "1999-12-31T23:59:59Z"})),
        ),
        (
            "a signal from 9 minutes ahead",
            with(json!({"generated_at": "2023-06-15T14:40:00Z"})),
        ),
        (
            "a deadline before generation",
            with(json!({"valid_until": "2023-06-15T14:30:00Z"})),
        ),
        (
            "a deadline 31 days on",
            with(json!({"valid_until": "2023-07-16T14:30:45Z"})),
        ),
        (
            "a 1H signal two hours old",
            with(json!({"generated_at": "2023-06-15T12:30:45Z"})),
        ),
        (
            "a signal past its own deadline",
            with(json!({"valid_until": "2023-06-15T14:30:50Z"})),
        ),
    ]
}

#[test]
fn what_only_the_parser_refuses_is_what_the_openapi_document_lists() {
    let schema = validator("signal.v1.schema.json");
    let listed = parser_only_rules();
    assert_eq!(
        documented_parser_only_rules(),
        listed,
        "proto/ingest-api.openapi.json's x-parser-only-rules are not herald_domain's \
         PARSER_ONLY_RULES (run `UPDATE_PROTO=1 cargo test -p herald-ingest-api --test openapi`)"
    );
    let mut shown = BTreeSet::new();
    for (what, payload) in parser_only_examples() {
        assert_eq!(
            problems(&schema, &payload),
            Vec::<String>::new(),
            "the schema refuses {what}: {payload}"
        );
        let refused = judge(&payload, receipt_time());
        assert_eq!(refused.len(), 1, "{what}: {refused:?}");
        assert!(
            listed.contains(&refused[0]),
            "{what} is refused with {:?}, which PARSER_ONLY_RULES does not list",
            refused[0]
        );
        shown.insert(refused[0].clone());
    }
    let unshown: Vec<_> = listed.difference(&shown).collect();
    assert!(
        unshown.is_empty(),
        "PARSER_ONLY_RULES lists rules no example here shows: {unshown:?}"
    );
}

/// `(field, code)` for every field of every rule in [`PARSER_ONLY_RULES`].
fn parser_only_rules() -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for rule in PARSER_ONLY_RULES {
        assert!(
            !rule.rule.is_empty(),
            "the rule for {} says what it is",
            rule.code
        );
        for field in rule.fields {
            pairs.insert((field.to_string(), rule.code.to_string()));
        }
    }
    pairs
}

/// `(field, code)` for every field of every rule in the checked-in OpenAPI document's
/// `x-parser-only-rules`: what `scripts/fuzz_api_hooks.py` reads.
fn documented_parser_only_rules() -> BTreeSet<(String, String)> {
    let path = proto_dir().join("ingest-api.openapi.json");
    let text = std::fs::read_to_string(&path).expect("reading ingest-api.openapi.json");
    let document: Value = serde_json::from_str(&text).expect("ingest-api.openapi.json is JSON");
    let rules = &document["paths"]["/api/signals"]["post"]["requestBody"]["x-parser-only-rules"];
    let rules = rules
        .as_array()
        .expect("requestBody has a list x-parser-only-rules");
    let mut pairs = BTreeSet::new();
    for rule in rules {
        let code = rule["code"].as_str().expect("a rule has a code");
        assert!(
            rule["rule"].as_str().is_some_and(|r| !r.is_empty()),
            "the rule for {code} says what it is"
        );
        for field in rule["fields"].as_array().expect("a rule has fields") {
            let field = field.as_str().expect("a field name");
            pairs.insert((field.to_string(), code.to_string()));
        }
    }
    pairs
}
