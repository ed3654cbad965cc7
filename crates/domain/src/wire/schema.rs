//! The JSON Schema of a signal, built once here for everyone who publishes it: the file
//! `proto/signal.v1.schema.json` (written and checked by `crates/domain/tests/proto.rs`) and
//! ingest-api's OpenAPI document, which embeds it as its request body. schemars derives the
//! shape of [`SignalV1`]; what it cannot derive is added here: the per-kind rules (an `allOf`
//! of `if kind … then …`) and a note on how the schema relates to the parser.
//!
//! [`PARSER_ONLY_RULES`] is the other half of that relation: what the parser refuses of a
//! payload the schema allows. ingest-api publishes it as `x-parser-only-rules`; the proto test
//! holds it to the parser and `scripts/fuzz-api` holds the running service to it.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::signal::SignalKind;
use crate::wire::SignalV1;

/// One rule only the parser (or the freshness check) applies to a signal: no JSON Schema can
/// state it, so a payload the schema allows may still be refused for it, with `code` on one of
/// `fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParserOnlyRule {
    /// The detail code of the refusal (`FieldError::code`).
    pub code: &'static str,
    /// The fields the refusal may name.
    pub fields: &'static [&'static str],
    /// The rule, for a person.
    pub rule: &'static str,
}

/// Every rule the parser (with the freshness check) applies that the signal schema cannot
/// state: they compare fields with each other or with the time the signal arrives, or need
/// exact decimal arithmetic.
pub const PARSER_ONLY_RULES: [ParserOnlyRule; 5] = [
    ParserOnlyRule {
        code: "price_order",
        fields: &["target_price", "stop_loss"],
        rule: "a buy needs stop_loss < entry_price < target_price, a sell target_price < \
               entry_price < stop_loss",
    },
    ParserOnlyRule {
        code: "out_of_range",
        fields: &["entry_price", "target_price", "stop_loss"],
        rule: "a price is held exactly (at most 28 decimal places and 28 significant digits)",
    },
    ParserOnlyRule {
        code: "out_of_range",
        fields: &["generated_at"],
        rule: "generated_at lies from 2000-01-01T00:00:00Z to 5 minutes after the signal \
               arrives",
    },
    ParserOnlyRule {
        code: "out_of_range",
        fields: &["valid_until"],
        rule: "valid_until lies after generated_at and at most 30 days after it",
    },
    ParserOnlyRule {
        code: "stale",
        fields: &["valid_until", "generated_at"],
        rule: "the signal arrived at or after its deadline",
    },
];

/// What the generated description of `SignalV1` does not say: how the schema relates to the
/// parser, which is the one judge of a signal.
const SIGNAL_SCHEMA_NOTE: &str = "\n\nThis schema gives the shape of a signal and what each kind \
carries (its `allOf`); the parser (`herald_domain::parse_signal`, the one judge on both the HTTP \
and the NATS path) decides. The parser is more lenient than the schema: it takes `kind` and \
`asset` in any case (`\"BUY\"`, `\"btc/usd\"`), `h`, `d` and `w` for the units of `timeframe` \
(`\"1h\"`), white space around any string value (it trims it), a UUID also without hyphens, in \
braces or as a `urn:uuid:`, a price string in exponent notation (`\"4.5e4\"`), a timestamp with \
a space for its `T` or a leap second at any minute, and `null` wherever a field may be left out \
(`notes` included, and a field the signal's kind does not carry). Prices may be decimal strings \
or JSON numbers in both, and Herald itself always writes strings. The parser reads every number \
exactly, never through a float: `85.0` is a whole confidence, `85.000000000000000001` is not, \
though a validator that reads numbers as floats may take it for 85. The parser is also stricter, \
with rules no schema can state; a payload this schema allows is refused for these alone, each \
reported with its detail code (listed for machines under `x-parser-only-rules` in ingest-api's \
OpenAPI document, `ingest-api.openapi.json`): `price_order`, a buy needs stop_loss < entry_price \
< target_price and a sell the reverse; `out_of_range`, a price must be held exactly (at most 28 \
decimal places and 28 significant digits), `generated_at` lies between 2000 and 5 minutes after \
receipt, `valid_until` after `generated_at` and at most 30 days after it; `invalid_value`, a \
field sent twice in the object. And a signal that arrives at or after its deadline \
(`valid_until`, else one bar of its `timeframe` after `generated_at`, else \
`HERALD_SIGNAL_TTL_SECS` after it) is refused as `stale`. A payload that breaks a rule is \
answered with 422 `invalid_signal` on HTTP, or parked on `<prefix>.signals.dlq` on NATS.";

/// What one group of kinds carries beyond what every signal has: the parser's rules
/// (`read_trade`, `price_not_allowed` and the `closes_signal_id` and `reason` checks in
/// `parse.rs`), which
/// `crates/domain/tests/proto.rs` holds the generated schema to, payload by payload.
struct KindRule {
    kinds: &'static [SignalKind],
    /// Why, for the schema's reader.
    description: &'static str,
    /// Fields these kinds must carry, and not as `null`.
    required: &'static [&'static str],
    /// Fields these kinds do not carry.
    absent: &'static [&'static str],
}

const KIND_RULES: [KindRule; 3] = [
    KindRule {
        kinds: &[SignalKind::Buy, SignalKind::Sell],
        description: "A buy or a sell is a trade: it names its entry_price, target_price, \
                      stop_loss and timeframe, and closes no other signal.",
        required: &["entry_price", "target_price", "stop_loss", "timeframe"],
        absent: &["closes_signal_id", "reason"],
    },
    KindRule {
        kinds: &[SignalKind::Close],
        description: "A close may name its exit price (entry_price), the signal it closes \
                      (closes_signal_id) and why (reason), but no target_price or stop_loss.",
        required: &[],
        absent: &["target_price", "stop_loss"],
    },
    KindRule {
        kinds: &[SignalKind::Alert],
        description: "An alert recommends no trade: it carries no price and closes no signal.",
        required: &[],
        absent: &[
            "entry_price",
            "target_price",
            "stop_loss",
            "closes_signal_id",
            "reason",
        ],
    },
];

/// The JSON Schema (draft 2020-12) of a signal as `POST /api/signals` and
/// `<prefix>.signals.v1.<ASSET>` take it: schemars' schema of [`SignalV1`], with the per-kind
/// rules and the note on the parser added. Its definitions are under `$defs`, referred to as
/// `#/$defs/…`.
pub fn signal_json_schema() -> Value {
    let mut schema = schemars::schema_for!(SignalV1).to_value();
    let description = schema["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    schema["description"] = Value::String(description + SIGNAL_SCHEMA_NOTE);
    let rules = KIND_RULES
        .iter()
        .map(|rule| kind_rule(&schema["properties"], rule))
        .collect();
    schema["allOf"] = Value::Array(rules);
    schema
}

/// `if` the kind is one of `rule.kinds`, `then` the fields it requires (without `null`) and
/// the ones it does not carry (`false`: absent).
fn kind_rule(properties: &Value, rule: &KindRule) -> Value {
    let kinds: Vec<&str> = rule.kinds.iter().map(|k| k.as_str()).collect();
    let kind = match kinds.as_slice() {
        [one] => json!({ "const": one }),
        many => json!({ "enum": many }),
    };
    let mut fields = Map::new();
    for field in rule.required {
        fields.insert(field.to_string(), without_null(&properties[field]));
    }
    for field in rule.absent {
        fields.insert(field.to_string(), Value::Bool(false));
    }
    let mut then = json!({ "description": rule.description, "properties": fields });
    if !rule.required.is_empty() {
        then["required"] = json!(rule.required);
    }
    json!({
        "if": { "properties": { "kind": kind }, "required": ["kind"] },
        "then": then,
    })
}

/// An optional field's schema without its `null` alternative.
fn without_null(property: &Value) -> Value {
    let is_null = |v: &Value| v == &json!({ "type": "null" });
    if let Some(alternatives) = property["anyOf"].as_array() {
        let rest: Vec<&Value> = alternatives.iter().filter(|v| !is_null(v)).collect();
        if let [one] = rest.as_slice() {
            return (*one).clone();
        }
        return json!({ "anyOf": rest });
    }
    panic!("the kind rules expect an optional field as anyOf [schema, null]: {property}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parser_only_rule_names_a_field_of_a_signal() {
        let schema = signal_json_schema();
        for rule in PARSER_ONLY_RULES {
            assert!(!rule.fields.is_empty(), "{rule:?}");
            for field in rule.fields {
                assert!(
                    schema["properties"].get(field).is_some(),
                    "{field} is not a field of a signal"
                );
            }
        }
    }
}
