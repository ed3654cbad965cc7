//! The JSON Schemas in `proto/` are generated from the wire types in `herald_domain::wire`;
//! this test regenerates them and fails when the committed files differ (drift), then checks
//! real payloads against them with a JSON Schema validator.
//!
//! To refresh the files after changing a wire type:
//! `UPDATE_PROTO=1 cargo test -p herald-domain --test proto`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use herald_domain::{SignalV1, parse_signal};
use jsonschema::Validator;
use serde_json::{Value, json};

const REFRESH: &str = "run `UPDATE_PROTO=1 cargo test -p herald-domain --test proto` to refresh";

/// What the generated description of `SignalV1` does not say: how the schema relates to the
/// parser, which is the one judge of a signal.
const SIGNAL_SCHEMA_NOTE: &str = "\n\nThis schema gives the shape; the parser \
(`herald_domain::parse_signal`, the one judge on both the HTTP and the NATS path) decides. \
The parser is more lenient than the schema: it takes `kind` in any case (`\"BUY\"`) and \
`null` for any optional field, `notes` included. Prices may be decimal strings or JSON \
numbers in both; the parser reads either exactly, never through a float, and Herald itself \
always writes strings. The parser is also stricter, with rules a schema does not carry: \
`buy` and `sell` need `entry_price`, `target_price`, `stop_loss` and `timeframe`; a buy \
needs stop_loss < entry_price < target_price and a sell the reverse; `close` carries no \
target or stop and `alert` no price at all; prices are positive; `asset` is one or two \
symbols of `A-Z 0-9 _` joined by `/`; `generated_at` lies between 2000 and 5 minutes after \
receipt; `valid_until` lies after `generated_at` and at most 30 days after it; text fields have the limits given on each field; `closes_signal_id` only on a \
close; no field twice. And a signal that arrives at or after its deadline (`valid_until`, \
else one bar of its `timeframe` after `generated_at`, else `HERALD_SIGNAL_TTL_SECS` after \
it) is refused as `stale`. A payload that breaks a rule is answered with 422 \
`invalid_signal` on HTTP, or parked on `<prefix>.signals.dlq` on NATS.";

/// One schema file and how it is generated.
struct SchemaFile {
    file: &'static str,
    generate: fn() -> Value,
}

const SCHEMAS: [SchemaFile; 1] = [SchemaFile {
    file: "signal.v1.schema.json",
    generate: signal_schema,
}];

fn signal_schema() -> Value {
    let mut schema = schemars::schema_for!(SignalV1).to_value();
    let description = schema["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    schema["description"] = Value::String(description + SIGNAL_SCHEMA_NOTE);
    schema
}

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

    // The smallest signals of the other kinds.
    for minimal in [
        json!({"kind": "close", "asset": "BTC/USD", "confidence": 90,
               "generated_at": "2023-06-15T14:30:45Z"}),
        json!({"kind": "alert", "asset": "ETH/USD", "confidence": 70,
               "generated_at": "2023-06-15T14:30:45Z", "market_context": "CPI at 12:30 UTC"}),
    ] {
        assert_eq!(
            problems(&schema, &minimal),
            Vec::<String>::new(),
            "{minimal}"
        );
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
        ("unknown timeframe", "timeframe", json!("2D")),
        ("not a UUID", "id", json!("signal-1")),
        ("not a timestamp", "generated_at", json!("yesterday")),
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
    }
    let mut missing = spec_example();
    missing.as_object_mut().unwrap().remove("asset");
    assert!(!problems(&schema, &missing).is_empty(), "asset is required");
}

#[test]
fn the_parser_is_more_lenient_than_the_schema_and_the_schema_says_so() {
    let schema = validator("signal.v1.schema.json");
    let mut shouted = spec_example();
    shouted["kind"] = json!("BUY");
    let mut null_notes = spec_example();
    null_notes["notes"] = Value::Null;
    for lenient in [shouted, null_notes] {
        assert!(!problems(&schema, &lenient).is_empty(), "{lenient}");
        assert!(
            parse_signal(lenient.to_string().as_bytes(), receipt_time()).is_ok(),
            "{lenient}"
        );
    }
    // And stricter: a buy without its prices has the right shape but is no signal.
    let mut bare_buy = spec_example();
    for field in ["entry_price", "target_price", "stop_loss"] {
        bare_buy.as_object_mut().unwrap().remove(field);
    }
    assert_eq!(problems(&schema, &bare_buy), Vec::<String>::new());
    assert!(parse_signal(bare_buy.to_string().as_bytes(), receipt_time()).is_err());

    let description = generated("signal.v1.schema.json")["description"]
        .as_str()
        .unwrap()
        .to_string();
    for phrase in ["more lenient", "any case", "JSON numbers", "stricter"] {
        assert!(description.contains(phrase), "description lacks {phrase:?}");
    }
}
