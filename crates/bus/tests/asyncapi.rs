//! The contracts in `proto/` held against the code:
//!
//! - `asyncapi.yaml` (hand-written) names exactly the subjects [`Subjects`] produces, the
//!   headers the bus sets ([`HEADER_REJECTION`], [`HEADER_ORIGINAL_SUBJECT`], `Nats-Msg-Id`),
//!   the stream and consumer names, and the generated payload schemas;
//! - `ingest-api.openapi.json` (generated from ingest-api's code, and held to it by
//!   `services/ingest-api/tests/openapi.rs`) documents every error code ingest-api's sources
//!   answer with, under the HTTP status it is sent with, and no other: its own
//!   (`services/ingest-api/src/error.rs`), the API key checks' (`herald_auth::AuthError`, in
//!   `crates/auth/src/extract.rs`) and the router's (`herald_runtime::http::with_json_errors`);
//!   the codes answered for no route at all (404, 405) in the document's description;
//! - every `$ref` in `proto/` points at a file there (and at a part of it that exists).
//!
//! The documents are read as YAML 1.2 or JSON and looked at as JSON values.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use herald_bus::{HEADER_ORIGINAL_SUBJECT, HEADER_REJECTION, Subjects};
use herald_domain::Asset;
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

const MSG_ID: &str = "Nats-Msg-Id";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn proto_dir() -> PathBuf {
    repo_root().join("proto")
}

/// A YAML or JSON file as a JSON value.
fn load(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    }
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{} holds one YAML document", path.display());
    to_json(&docs[0], path)
}

fn to_json(yaml: &Yaml, path: &Path) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(r) => Value::from(r.parse::<f64>().expect("YAML checked the float")),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(|y| to_json(y, path)).collect()),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (key, value) in hash {
                let key = match key {
                    Yaml::String(s) | Yaml::Real(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => panic!("{}: a mapping key {other:?}", path.display()),
                };
                let previous = map.insert(key.clone(), to_json(value, path));
                assert!(previous.is_none(), "{}: key {key:?} twice", path.display());
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            panic!("{}: aliases are not used in proto/", path.display())
        }
    }
}

fn asyncapi() -> Value {
    load(&proto_dir().join("asyncapi.yaml"))
}

/// Follows a local `{"$ref": "#/…"}`; any other value is returned as it is.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with('#') => doc
            .pointer(&r[1..])
            .unwrap_or_else(|| panic!("$ref {r} points at nothing")),
        _ => value,
    }
}

/// The message of `operation` (`publish` or `subscribe`) on `channel`.
fn message<'a>(doc: &'a Value, channel: &str, operation: &str) -> &'a Value {
    assert!(
        doc["channels"][channel].is_object(),
        "asyncapi.yaml has no channel {channel:?}"
    );
    let op = &doc["channels"][channel][operation];
    assert!(
        op.is_object(),
        "channel {channel:?} has no {operation} operation"
    );
    resolve(doc, &op["message"])
}

fn header_names(doc: &Value, message: &Value) -> BTreeSet<String> {
    let headers = resolve(doc, &message["headers"]);
    headers["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn required(value: &Value) -> BTreeSet<String> {
    value["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The documented channel of the signals of one asset.
fn signal_channel(doc: &Value) -> String {
    let token = Asset::parse("BTC/USD").unwrap().subject_token();
    let with_param = Subjects::new("{prefix}")
        .signal(&Asset::parse("BTC/USD").unwrap())
        .replace(&token, "{asset}");
    assert!(
        doc["channels"].get(&with_param).is_some(),
        "asyncapi.yaml has no channel {with_param:?}"
    );
    with_param
}

#[test]
fn channels_are_exactly_the_subjects_the_bus_uses() {
    let doc = asyncapi();
    let documented: Vec<&String> = doc["channels"]
        .as_object()
        .expect("asyncapi.yaml has channels")
        .keys()
        .collect();
    for prefix in ["{prefix}", "herald", "test-42_a"] {
        let subjects = Subjects::new(prefix);
        for raw in ["BTC/USD", "eth/usdt", "AAPL", "US_500"] {
            let asset = Asset::parse(raw).unwrap();
            let expected = set(&[
                &subjects.signal(&asset),
                &subjects.signals_dlq(),
                &subjects.deliveries_ready(),
                &subjects.budget_acquire(),
                &subjects.budget_pause(),
            ]);
            let filled: BTreeSet<String> = documented
                .iter()
                .map(|c| {
                    c.replace("{prefix}", prefix)
                        .replace("{asset}", &asset.subject_token())
                })
                .collect();
            assert_eq!(
                filled, expected,
                "asyncapi.yaml's channels, filled with prefix {prefix:?} and asset {raw:?}, \
                 are not what herald_bus::Subjects produces"
            );
        }
    }
    // Each parameter in a channel name is declared on that channel.
    for channel in documented {
        for param in ["prefix", "asset"] {
            if channel.contains(&format!("{{{param}}}")) {
                let declared = &doc["channels"][channel]["parameters"][param];
                assert!(
                    declared.is_object(),
                    "{channel}: parameter {param} undeclared"
                );
            }
        }
    }
}

#[test]
fn streams_and_consumer_are_named_as_the_bus_names_them() {
    let doc = asyncapi();
    let description = doc["info"]["description"].as_str().unwrap();
    let s = Subjects::new("{prefix}");
    for name in [
        s.signals_all(),
        s.signals_stream(),
        s.legacy_deliveries_stream(),
        s.dead_letter_stream(),
        s.dispatcher_consumer().to_string(),
        s.budget_bucket(),
    ] {
        assert!(
            description.contains(&format!("`{name}`")),
            "asyncapi.yaml's description does not name `{name}`"
        );
    }
}

#[test]
fn headers_and_payloads_are_the_ones_the_bus_uses() {
    let doc = asyncapi();
    let s = Subjects::new("{prefix}");

    let signal = message(&doc, &signal_channel(&doc), "publish");
    assert_eq!(header_names(&doc, signal), set(&[MSG_ID]));
    assert_eq!(signal["payload"]["$ref"], "./signal.v1.schema.json");

    let dead_letter = message(&doc, &s.signals_dlq(), "subscribe");
    let dlq_headers = set(&[HEADER_REJECTION, HEADER_ORIGINAL_SUBJECT]);
    assert_eq!(header_names(&doc, dead_letter), dlq_headers);
    assert_eq!(
        required(resolve(&doc, &dead_letter["headers"])),
        dlq_headers
    );

    for operation in ["publish", "subscribe"] {
        let nudge = message(&doc, &s.deliveries_ready(), operation);
        assert_eq!(header_names(&doc, nudge), set(&[]));
        assert!(
            nudge["payload"].get("$ref").is_none(),
            "a nudge has no payload"
        );
    }
}

/// Every `$ref` string in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_ref_in_proto_points_at_something_in_proto() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(proto_dir())
        .expect("proto/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .collect();
    files.sort();
    for expected in [
        "signal.v1.schema.json",
        "asyncapi.yaml",
        "ingest-api.openapi.json",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(expected)),
            "proto/{expected} is missing"
        );
    }
    let mut external = 0;
    for file in &files {
        let doc = load(file);
        let mut found = Vec::new();
        refs(&doc, &mut found);
        for r in found {
            let (target_file, fragment) = r.split_once('#').unwrap_or((r.as_str(), ""));
            let target = if target_file.is_empty() {
                doc.clone()
            } else {
                external += 1;
                assert!(
                    !target_file.contains("://") && !target_file.starts_with('/'),
                    "{}: $ref {r} must be a relative path within proto/",
                    file.display()
                );
                let path = file.parent().unwrap().join(target_file);
                assert!(
                    path.is_file(),
                    "{}: $ref {r} names a file that does not exist",
                    file.display()
                );
                load(&path)
            };
            assert!(
                fragment.is_empty() || target.pointer(fragment).is_some(),
                "{}: $ref {r} points at nothing",
                file.display()
            );
        }
    }
    assert!(
        external >= 1,
        "asyncapi.yaml refers to the generated signal schema"
    );
}

/// `(status, code)` of every error answer built in the source file `path` (relative to the
/// repository): `ErrorBody::response(StatusCode::X, "code", …)` calls and
/// `status: StatusCode::X, code: "code"` fields (of `herald_auth::AuthError`).
fn error_codes(path: &str) -> Vec<(u16, String)> {
    let source = std::fs::read_to_string(repo_root().join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut found = Vec::new();
    for (at, _) in source.match_indices("ErrorBody::response(") {
        let rest = &source[at + "ErrorBody::response(".len()..];
        let (status, rest) = rest.split_once(',').expect("a status argument");
        if !status.trim().starts_with("StatusCode::") {
            continue; // passing on an error built elsewhere (AuthError's answer)
        }
        found.push(status_and_code(path, &source, at, status, rest));
    }
    for (at, _) in source.match_indices("status: StatusCode::") {
        let rest = &source[at + "status: ".len()..];
        let (status, rest) = rest.split_once(',').expect("a status field");
        let Some(rest) = rest.trim_start().strip_prefix("code:") else {
            continue; // a status on its own, not an error's
        };
        found.push(status_and_code(path, &source, at, status, rest));
    }
    found
}

/// The status named in `status` and the string literal `rest` starts with.
fn status_and_code(path: &str, source: &str, at: usize, status: &str, rest: &str) -> (u16, String) {
    let line = source[..at].lines().count();
    let status = status.trim().trim_start_matches("StatusCode::");
    let code = rest
        .trim_start()
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .map(|(code, _)| code.to_string())
        .unwrap_or_else(|| {
            panic!("{path}:{line}: the error code is not a string literal; update this test")
        });
    (status_number(status, path, line), code)
}

fn status_number(name: &str, path: &str, line: usize) -> u16 {
    match name {
        "BAD_REQUEST" => 400,
        "UNAUTHORIZED" => 401,
        "FORBIDDEN" => 403,
        "NOT_FOUND" => 404,
        "METHOD_NOT_ALLOWED" => 405,
        "CONFLICT" => 409,
        "PAYLOAD_TOO_LARGE" => 413,
        "UNSUPPORTED_MEDIA_TYPE" => 415,
        "UNPROCESSABLE_ENTITY" => 422,
        "TOO_MANY_REQUESTS" => 429,
        "INTERNAL_SERVER_ERROR" => 500,
        "SERVICE_UNAVAILABLE" => 503,
        other => panic!("{path}:{line}: status {other} is not in this test's table; add it"),
    }
}

/// Every `code` pinned by `const` or `enum` in an error response.
fn documented_codes(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "code" {
                    if let Some(c) = v.get("const").and_then(Value::as_str) {
                        out.insert(c.to_string());
                    }
                    for c in v
                        .get("enum")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        out.extend(c.as_str().map(String::from));
                    }
                }
                documented_codes(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| documented_codes(v, out)),
        _ => {}
    }
}

#[test]
fn ingest_api_errors_are_documented_under_their_status() {
    // What POST /api/signals answers: its own errors, the API key checks', and 500 for a
    // handler that panicked (with_json_errors). 404 and 405 are for requests no route takes.
    let own = error_codes("services/ingest-api/src/error.rs");
    assert!(
        own.len() >= 6,
        "found only {own:?} in error.rs; has ErrorBody::response changed shape?"
    );
    let auth = error_codes("crates/auth/src/extract.rs");
    let auth_statuses: BTreeSet<u16> = auth.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        auth_statuses,
        BTreeSet::from([401, 403, 429, 503]),
        "found {auth:?} in herald_auth's extractors; has AuthError changed shape?"
    );
    let (unrouted, routed): (Vec<_>, Vec<_>) = error_codes("crates/runtime/src/http.rs")
        .into_iter()
        .partition(|(status, _)| matches!(status, 404 | 405));
    assert!(
        unrouted.len() == 2 && routed == [(500, "internal".to_string())],
        "with_json_errors answers {unrouted:?} and {routed:?}; update this test"
    );
    let codes: Vec<(u16, String)> = own.into_iter().chain(auth).chain(routed).collect();

    let openapi = load(&proto_dir().join("ingest-api.openapi.json"));
    let responses = &openapi["paths"]["/api/signals"]["post"]["responses"];
    for (status, code) in &codes {
        let response = &responses[status.to_string()];
        assert!(
            response.is_object(),
            "ingest-api.openapi.json: POST /api/signals has no {status} response (for {code})"
        );
        let mut documented = BTreeSet::new();
        documented_codes(response, &mut documented);
        assert!(
            documented.contains(code),
            "ingest-api.openapi.json: POST /api/signals {status} does not list the error code \
             {code:?} that ingest-api answers with"
        );
    }
    let mut documented = BTreeSet::new();
    for (status, response) in responses.as_object().unwrap() {
        if status.starts_with('4') || status.starts_with('5') {
            documented_codes(response, &mut documented);
        }
    }
    let used: BTreeSet<String> = codes.into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        documented, used,
        "ingest-api.openapi.json documents error codes that ingest-api does not use, or misses \
         some"
    );
    let description = openapi["info"]["description"].as_str().unwrap_or_default();
    for (status, code) in unrouted {
        assert!(
            description.contains(&format!("{status} `{code}`")),
            "ingest-api.openapi.json's description does not say that a request no route takes \
             is answered {status} `{code}`"
        );
    }
}
