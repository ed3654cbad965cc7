//! ingest-api's OpenAPI 3.1 document, generated from the code rather than kept by hand, so
//! that what the Signal Engine's developers read cannot drift from what the service does.
//!
//! utoipa builds it from `#[utoipa::path]` on the handler (`POST /api/signals`, in
//! `signals.rs`) and on the stand-ins below for the routes of
//! [`herald_runtime::http::ops_router`] and `GET /api/openapi.json`. What it cannot derive is
//! added here:
//!
//! - the request body's schema, `SignalV1`: the very JSON Schema of
//!   [`herald_domain::wire::signal_json_schema`] (also `proto/signal.v1.schema.json`), with its
//!   per-kind rules, which utoipa's own schema model cannot express ([`SignalBody`]);
//! - each answer's schema narrowed to the error codes it is sent with ([`error_with`]);
//! - the `apiKey` security scheme (`X-API-Key`), with a [`Modify`].
//!
//! The document is served at `GET /api/openapi.json` and checked in as
//! `proto/ingest-api.openapi.json`; `tests/openapi.rs` fails when the two differ from
//! [`document`], and `scripts/fuzz-api` fuzzes the running service from the served one.

use std::borrow::Cow;
use std::fmt::Write as _;

use herald_domain::wire::PARSER_ONLY_RULES;
use serde_json::{Map, Value};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

/// What the document says about the service as a whole.
const DESCRIPTION: &str = "Takes trading signals from the Signal Engine. A signal is accepted \
only once NATS JetStream has stored it; from there the dispatcher delivers it to every eligible \
trader.

The same JSON may instead be published straight onto NATS (`{prefix}.signals.v1.{asset}`, see \
`asyncapi.yaml`); both paths use one parser, so a signal is judged the same way on either.

The request schema (`SignalV1`, the same as `signal.v1.schema.json`) says what each kind of \
signal carries. A signal it allows is accepted, or refused (422) only for the rules listed with \
the request body under `x-parser-only-rules`, which no JSON Schema can state: price order, exact \
prices, and times judged against the clock.

Every error is answered with the same body (`ErrorBody`): a stable, machine-readable `code` and a \
`message` for a person. Besides the answers listed with each operation, a path not listed here \
is answered 404 `not_found` and a method a path does not take 405 `method_not_allowed`.

`GET /api/health` is answered on this address, from a report at most 2 s old. The metrics and \
the probes — `GET /metrics`, `GET /livez`, `GET /readyz` (and `GET /api/health` too) — are \
answered on ingest-api's operational address, `HERALD_INGEST_OPS_ADDR` (the server given with \
each of them), and not on this one (404). None needs authentication. This document is \
generated from ingest-api's code and served by it at `GET /api/openapi.json`; \
`proto/ingest-api.openapi.json` in the repository is the same document.";

/// What the request body's description says before the list of parser-only rules.
const REQUEST_BODY: &str = "One signal. `Content-Type` must be `application/json` (or another \
`+json` type) or be left out. The body may be at most `HERALD_INGEST_MAX_BODY_BYTES` (default \
65536) bytes.

The schema says what each kind of signal carries: a buy or a sell names its `entry_price`, \
`target_price`, `stop_loss` and `timeframe`; a close no target or stop; an alert no price; only \
a close names the signal it closes (`closes_signal_id`). A signal the schema allows can still be \
refused with 422 `invalid_signal`, but only for the rules below, which no JSON Schema can state \
(they compare fields with each other or with the time the signal arrives, or need exact decimal \
arithmetic), and only with the detail codes given for them (`x-parser-only-rules`, for \
machines):

";

/// What the request body's description says after the list of parser-only rules.
const REQUEST_BODY_END: &str = "

(The operation's description says how a signal's deadline is set.) One more a schema cannot see: a field sent twice in the object is refused with `invalid_value` \
on that field. And numbers are read exactly, never as floats: a validator that reads \
`\"confidence\": 85.000000000000000001` as the integer 85 allows what the parser refuses \
(`invalid_type`). The parser is in turn more lenient than the schema in a few ways (`kind` in \
any case, `null` for a field left out…); the schema's description lists them.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald ingest-api",
        version = "1.0.0",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "The default `HERALD_INGEST_ADDR`.")),
    tags(
        (name = "signals", description = "Signals from the Signal Engine."),
        (
            name = "operations",
            description = "Probes, metrics and this document: no authentication.",
        ),
    ),
    paths(
        crate::signals::post_signal,
        get_liveness,
        get_readiness,
        get_health,
        get_metrics,
        get_openapi,
    ),
    components(schemas(
        herald_runtime::ErrorBody,
        herald_domain::FieldError,
        crate::signals::Accepted,
    )),
    modifiers(&ApiKeyScheme, &OpsServer),
)]
struct ApiDoc;

/// The document, as served and checked in: utoipa's, as JSON with every object's keys in
/// order (whatever the features of `serde_json`), so that it is the same text on every build.
pub fn document() -> Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("an OpenAPI document serialises");
    document.sort_all_objects();
    document
}

/// The request body's description: the prose around [`PARSER_ONLY_RULES`], one bullet each.
pub(crate) fn request_body_description() -> String {
    let mut text = REQUEST_BODY.to_string();
    for (i, rule) in PARSER_ONLY_RULES.iter().enumerate() {
        let fields: Vec<String> = rule.fields.iter().map(|f| format!("`{f}`")).collect();
        if i > 0 {
            text.push('\n');
        }
        let _ = write!(
            text,
            "- `{}` on {}: {}.",
            rule.code,
            fields.join(" or "),
            rule.rule
        );
    }
    text + REQUEST_BODY_END
}

/// The request body of `POST /api/signals`, for `#[utoipa::path]`: a signal, named `SignalV1`
/// in `components.schemas`, whose schema is the JSON Schema of
/// [`herald_domain::wire::signal_json_schema`] as it is. Its definitions go next to it: the
/// `$defs` of a schema embedded in a document would be looked up at the document's root, so
/// they move to `components.schemas` and the references to them with them. The `$schema`
/// keyword goes too: the document's dialect is OpenAPI's (draft 2020-12 with OpenAPI's
/// vocabulary), which the schema is valid in.
pub(crate) struct SignalBody;

impl PartialSchema for SignalBody {
    fn schema() -> RefOr<Schema> {
        raw_schema(signal_schema().0)
    }
}

impl ToSchema for SignalBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SignalV1")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(
            signal_schema()
                .1
                .into_iter()
                .map(|(name, def)| (name, raw_schema(def))),
        );
    }
}

/// The signal schema with its references into `components.schemas`, and its definitions.
fn signal_schema() -> (Value, Map<String, Value>) {
    let mut schema = herald_domain::wire::signal_json_schema();
    let Value::Object(keywords) = &mut schema else {
        unreachable!("a JSON Schema of an object is an object")
    };
    keywords.remove("$schema");
    let mut defs = match keywords.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    rewrite_refs(&mut schema, "#/$defs/", "#/components/schemas/");
    for def in defs.values_mut() {
        rewrite_refs(def, "#/$defs/", "#/components/schemas/");
    }
    (schema, defs)
}

/// Rewrites every `$ref` in `value` that starts with `from` to start with `to`.
fn rewrite_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" && r.starts_with(from) => {
                        *r = format!("{to}{}", &r[from.len()..]);
                    }
                    v => rewrite_refs(v, from, to),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, from, to)),
        _ => {}
    }
}

/// Any JSON Schema object as utoipa's [`Schema`]: a schema of no fixed type whose keywords all
/// ride in its (flattened) extensions. utoipa's model has no `if`/`then`, `not` or `const`.
fn raw_schema(schema: Value) -> RefOr<Schema> {
    let Value::Object(keywords) = schema else {
        panic!("a schema in components is an object: {schema}")
    };
    let mut object = Object::with_type(SchemaType::AnyValue);
    let mut extensions = Extensions::default();
    extensions.extend(keywords);
    object.extensions = Some(extensions);
    RefOr::T(Schema::Object(object))
}

/// The security scheme `POST /api/signals` requires.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "A key with the scope `signals:write`, created with `herald api-key create \
                 --name NAME`.",
            ))),
        );
    }
}

/// The paths served on the operational address only, with that address as their server.
struct OpsServer;

/// What [`OpsServer`] puts on.
const OPS_PATHS: [&str; 3] = ["/livez", "/readyz", "/metrics"];

impl Modify for OpsServer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for path in OPS_PATHS {
            if let Some(item) = openapi.paths.paths.get_mut(path) {
                item.servers = Some(vec![
                    utoipa::openapi::ServerBuilder::new()
                        .url("http://127.0.0.1:9080")
                        .description(Some(
                            "The default `HERALD_INGEST_OPS_ADDR`: the metrics and probes, \
                             apart from the public API.",
                        ))
                        .build(),
                ]);
            }
        }
    }
}

/// `{"error": {"code": …}}` narrowed to `codes` (and with `details` required when
/// `details`): an error answer's schema for one status, on top of `ErrorBody`.
fn error_with(codes: &[&str], details: bool) -> RefOr<Schema> {
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes.iter().copied()));
    let mut error = ObjectBuilder::new().property("code", code);
    if details {
        let items = Ref::from_schema_name(herald_domain::FieldError::name());
        error = error
            .property("details", ArrayBuilder::new().items(items))
            .required("details");
    }
    AllOfBuilder::new()
        .item(Ref::from_schema_name(herald_runtime::ErrorBody::name()))
        .item(ObjectBuilder::new().property("error", error))
        .into()
}

/// `{"id", "status"}` narrowed to one `status`, on top of `Accepted`.
fn accepted_with(status: &str) -> RefOr<Schema> {
    AllOfBuilder::new()
        .item(Ref::from_schema_name(crate::signals::Accepted::name()))
        .item(
            ObjectBuilder::new().property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([status])),
            ),
        )
        .into()
}

/// Marker types for the answers of `POST /api/signals`, each with its schema: the body of
/// that answer, for `body = inline(…)` in `#[utoipa::path]`.
macro_rules! answers {
    ($($(#[$doc:meta])* $name:ident => $schema:expr;)+) => {$(
        $(#[$doc])*
        #[allow(dead_code, reason = "only its schema is used")]
        pub(crate) struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {}
    )+};
}

answers! {
    /// 202: stored.
    AcceptedAnswer => accepted_with("accepted");
    /// 200: already accepted.
    DuplicateAnswer => accepted_with("duplicate");
    /// 400: not a JSON object, or not readable.
    BadRequestAnswer => error_with(&["malformed_json", "bad_body"], false);
    /// 401: no key, or an unknown one.
    UnauthorizedAnswer => error_with(&["unauthorized"], false);
    /// 403: the key may not do this from here.
    ForbiddenAnswer => error_with(&["forbidden"], false);
    /// 413: too large.
    TooLargeAnswer => error_with(&["body_too_large"], false);
    /// 415: not JSON.
    MediaTypeAnswer => error_with(&["unsupported_media_type"], false);
    /// 422: not a valid signal, or a stale one.
    InvalidAnswer => error_with(&["invalid_signal"], true);
    /// 429: over the key's rate limit.
    RateLimitedAnswer => error_with(&["rate_limited"], false);
    /// 500: a failure on Herald's side.
    InternalAnswer => error_with(&["internal"], false);
    /// 503: a dependency is down.
    UnavailableAnswer => error_with(&["unavailable"], false);
    /// `GET /livez`'s body.
    LiveAnswer => ObjectBuilder::new()
        .property(
            "status",
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["ok"])),
        )
        .required("status")
        .into();
    /// `GET /api/openapi.json`'s body.
    DocumentAnswer => ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("An OpenAPI 3.1 document."))
        .into();
}

/// An example of a ready (degraded) report.
fn ready_example() -> Value {
    serde_json::json!({
        "status": "degraded",
        "service": "ingest-api",
        "version": "0.1.0",
        "checks": [
            {"name": "nats", "status": "ok", "required": true},
            {
                "name": "database",
                "status": "no answer within 1000 ms; accepting the 2 API key(s) confirmed in \
                           the last 86400 s",
                "required": false,
            },
        ],
    })
}

/// An example of an unready report.
fn not_ready_example() -> Value {
    serde_json::json!({
        "status": "unavailable",
        "service": "ingest-api",
        "version": "0.1.0",
        "checks": [
            {"name": "nats", "status": "disconnected", "required": true},
            {"name": "database", "status": "ok", "required": true},
        ],
    })
}

/// Liveness: whether the process serves HTTP.
///
/// For liveness and start-up probes. Runs no checks: an outage of NATS or the database never
/// makes it fail, so a healthy process is never restarted for one. No authentication.
#[utoipa::path(
    get,
    path = "/livez",
    tag = "operations",
    operation_id = "getLiveness",
    responses((status = 200, description = "The process serves.", body = inline(LiveAnswer))),
)]
#[expect(
    dead_code,
    reason = "a stand-in for herald_runtime's route, for its documentation"
)]
fn get_liveness() {}

/// Readiness: whether ingest-api can take signals now.
///
/// For readiness probes: 503 takes the instance out of the load balancer (it is not
/// restarted). NATS is required. The database is required only while there is no API key
/// ingest-api could accept from its cache; with keys cached, a database outage is reported
/// (`degraded`, the `database` check not `required`) with 200. The checks run on every call
/// (this address is the kubelet's and the operators'). No authentication.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "getReadiness",
    responses(
        (
            status = 200,
            description = READY,
            body = herald_runtime::HealthReport,
            example = json!(ready_example()),
        ),
        (
            status = 503,
            description = NOT_READY,
            body = herald_runtime::HealthReport,
            example = json!(not_ready_example()),
        ),
    ),
)]
#[expect(
    dead_code,
    reason = "a stand-in for herald_runtime's route, for its documentation"
)]
fn get_readiness() {}

/// The dependencies' state (NATS, the database), with the status of `/readyz`.
///
/// The same report and status code as `GET /readyz`, from a report at most 2 s old: checks
/// run at most once per 2 s however often it is called, so calling it in a loop cannot load
/// the database. Answered here and on the operational address. No authentication.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "operations",
    operation_id = "getHealth",
    responses(
        (
            status = 200,
            description = READY,
            body = herald_runtime::HealthReport,
            example = json!(ready_example()),
        ),
        (
            status = 503,
            description = NOT_READY,
            body = herald_runtime::HealthReport,
            example = json!(not_ready_example()),
        ),
    ),
)]
#[expect(
    dead_code,
    reason = "a stand-in for herald_runtime's route, for its documentation"
)]
fn get_health() {}

/// A health report's 200.
const READY: &str = "Every required check is `ok` (`status` is `ok`, or `degraded` when a check \
that is not required fails).";
/// A health report's 503.
const NOT_READY: &str = "A required check failed; `status` is `unavailable`.";

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "getMetrics",
    description = metrics_description(),
    responses((
        status = 200,
        description = "The metrics.",
        body = String,
        content_type = "text/plain; version=0.0.4",
    )),
)]
#[expect(
    dead_code,
    reason = "a stand-in for herald_runtime's route, for its documentation"
)]
fn get_metrics() {}

/// `GET /metrics`' description: ingest-api's own metrics, with every outcome counted.
fn metrics_description() -> String {
    let outcomes: Vec<String> = crate::signals::OUTCOMES
        .iter()
        .map(|o| format!("`{o}`"))
        .collect();
    format!(
        "ingest-api's own metrics include `herald_ingest_signals_total{{outcome}}` ({}), \
         `herald_ingest_request_duration_seconds`, `herald_http_requests_total{{service, route, \
         status}}` and `herald_errors_total{{service, kind}}`; the README lists every metric. \
         Served on the operational address only; no authentication: expose it only to the \
         monitoring network.",
        outcomes.join(", ")
    )
}

/// This document.
///
/// The OpenAPI document of ingest-api, generated from its code. No authentication.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "getOpenApi",
    responses((status = 200, description = "The document.", body = inline(DocumentAnswer))),
)]
#[expect(
    dead_code,
    reason = "a stand-in for herald_runtime's route, for its documentation"
)]
fn get_openapi() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_schema_is_embedded_with_its_references_resolving() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        let (signal, defs) = signal_schema();
        assert_eq!(schemas["SignalV1"], signal);
        assert_eq!(
            signal["allOf"].as_array().map(Vec::len),
            Some(3),
            "{signal}"
        );
        assert!(signal.get("$defs").is_none() && signal.get("$schema").is_none());
        assert!(!defs.is_empty());
        // Each definition is there, and no schema of utoipa's took its name.
        for (name, def) in defs {
            assert_eq!(schemas[&name], def, "{name}");
        }
        let text = document.to_string();
        assert!(
            !text.contains("#/$defs/"),
            "a reference still points at $defs"
        );
        let body = &document["paths"]["/api/signals"]["post"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SignalV1"
        );
        assert_eq!(body["required"], true);
        assert_eq!(
            body["x-parser-only-rules"],
            serde_json::to_value(PARSER_ONLY_RULES).unwrap()
        );
    }
}
