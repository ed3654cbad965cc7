//! Traces: one OpenTelemetry trace per signal, from the HTTP request (or the Signal Engine's
//! own publish) through the fan-out to every delivery and its Telegram call.
//!
//! **Off unless `HERALD_OTLP_ENDPOINT` is set.** Then `tracing` spans of Herald's own crates
//! become OpenTelemetry spans, exported in batches over OTLP, and every log line inside a
//! span carries `trace_id` and `span_id`. Unset, nothing is recorded, exported or
//! propagated beyond what the logs already do.
//!
//! **The standard variables apply:**
//!
//! - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `…_TRACES_PROTOCOL`): `http/protobuf` (the default;
//!   `/v1/traces` is appended to `HERALD_OTLP_ENDPOINT`) or `grpc` (the endpoint as it is);
//! - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, overrides the endpoint),
//!   `OTEL_EXPORTER_OTLP_HEADERS` / `…_TRACES_HEADERS` (e.g. a collector's API key),
//!   `OTEL_EXPORTER_OTLP_TIMEOUT` / `…_TRACES_TIMEOUT`;
//! - `OTEL_SERVICE_NAME` (default: the executable's name, e.g. `herald-dispatcher`) and
//!   `OTEL_RESOURCE_ATTRIBUTES`;
//! - `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`: `always_on`, `always_off`,
//!   `traceidratio`, `parentbased_always_on`, `parentbased_always_off`,
//!   `parentbased_traceidratio`, applied to every span (`always_on` keeps every delivery's);
//! - `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`:
//!   the batching (a full queue drops spans, never blocks a delivery).
//!
//! **Sampling by default** (no `OTEL_TRACES_SAMPLER`): a signal's own spans — the HTTP
//! request, the publish, the fan-out — are always kept (unless the trace's parent, e.g. the
//! Signal Engine's span, was not sampled). A fan-out to 100,000 traders would otherwise add
//! 200,000 spans, so each delivery's spans (`deliver` and its Telegram call) are kept for
//! the share `HERALD_TRACE_DELIVERY_RATIO` of deliveries (1 % by default), picked by the
//! delivery's id: the same delivery is kept or dropped on every replica and every attempt.
//!
//! **Across hops** the context travels as W3C trace context (`traceparent`, `tracestate`):
//! in the HTTP request's headers, in the NATS message's headers (so an engine publishing
//! straight onto NATS can start the trace), and, from the fan-out to the deliveries, in the
//! stored signal (`signals.trace_context`), because deliveries leave the database queue,
//! not a message.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use opentelemetry::trace::{
    Link, SpanKind, TraceContextExt, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
};
use secrecy::ExposeSecret;
use tracing::Instrument;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::Settings;

/// The attribute naming a delivery on its span; the default sampler keeps the span by it.
pub const DELIVERY_ID: &str = "herald.delivery.id";

/// How long the final flush may take.
const FLUSH_AT_EXIT: Duration = Duration::from_secs(5);

/// The provider, once traces are on (for the final flush).
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
/// The share of deliveries whose spans are kept (`f64` bits); 0 while traces are off.
static DELIVERY_RATIO: AtomicU64 = AtomicU64::new(0);

/// The tracer to hand to `tracing-opentelemetry`, when `HERALD_OTLP_ENDPOINT` is set. The
/// error names the setting that is wrong, never the endpoint's value.
pub(crate) fn tracer(
    settings: &Settings,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracer>, String> {
    let Some(endpoint) = &settings.otlp_endpoint else {
        return Ok(None);
    };
    let exporter = exporter(endpoint.expose_secret())?;
    let (sampler, ratio) = sampler(settings.trace_delivery_ratio)?;
    // The SDK's own batching thread: a finished span is queued without waking anything (the
    // thread wakes per batch), where the async-runtime processor woke a task per span. Its
    // exports run on this process's Tokio runtime ([`OnRuntime`]).
    let exporter = OnRuntime {
        inner: std::sync::Arc::new(exporter),
        runtime: tokio::runtime::Handle::try_current()
            .map_err(|_| "traces need a Tokio runtime (start them inside one)".to_string())?,
    };
    let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build();
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(executable_name());
    }
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("herald");
    if PROVIDER.set(provider).is_ok() {
        DELIVERY_RATIO.store(ratio.to_bits(), Ordering::Relaxed);
    }
    Ok(Some(tracer))
}

/// Exports the spans still waiting in the batch. Call once, when the process stops.
pub async fn shutdown() {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    // The flush blocks until the batch task (on this runtime) is done: off the runtime's
    // worker threads, and for a few seconds at most, so that an unreachable collector cannot
    // keep a stopping pod past its grace period.
    let flushed = tokio::time::timeout(
        FLUSH_AT_EXIT,
        tokio::task::spawn_blocking(|| provider.shutdown()),
    )
    .await;
    match flushed {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the last traces could not be exported"),
        Ok(Err(_)) | Err(_) => tracing::warn!("the last traces were not exported in time"),
    }
}

/// Whether spans are recorded and exported (`HERALD_OTLP_ENDPOINT` is set).
pub fn is_on() -> bool {
    PROVIDER.get().is_some()
}

/// Whether the spans of the delivery with this id (`Uuid::as_u128()`) are kept: decided by
/// the id alone, so a caller can skip looking up the parent of a delivery whose spans are
/// dropped anyway. Always false while traces are off.
pub fn keeps_delivery(id: u128) -> bool {
    let ratio = f64::from_bits(DELIVERY_RATIO.load(Ordering::Relaxed));
    picked(id, ratio)
}

fn picked(id: u128, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    // A UUID's bits are not all random (its version and variant bits are fixed, and a v7
    // starts with the time): mix all 128 into 64 evenly spread ones (SplitMix64's finaliser).
    let mut x = (id as u64) ^ ((id >> 64) as u64);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x as f64) < ratio * (u64::MAX as f64)
}

/// W3C trace context of `span` (`traceparent`, and `tracestate` when there is one), handed to
/// `put` — for a message's headers. Nothing when traces are off or the span is not recorded.
pub fn inject(span: &Span, mut put: impl FnMut(&'static str, String)) {
    if !is_on() {
        return;
    }
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    let mut carrier = std::collections::HashMap::new();
    opentelemetry::propagation::TextMapPropagator::inject_context(
        &TraceContextPropagator::new(),
        &cx,
        &mut carrier,
    );
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = carrier.remove(name) {
            put(name, value);
        }
    }
}

/// `span`'s `traceparent`, for storing with what it started (a signal's fan-out).
pub fn traceparent(span: &Span) -> Option<String> {
    let mut out = None;
    inject(span, |name, value| {
        if name == "traceparent" {
            out = Some(value);
        }
    });
    out
}

/// Makes `span` a child of the W3C trace context that `get` finds (`traceparent`,
/// `tracestate`: from headers, or a stored `traceparent`). Call before the span is first
/// entered. Nothing happens when traces are off or there is no valid context.
pub fn set_parent<'a>(span: &Span, get: impl Fn(&str) -> Option<&'a str>) {
    if !is_on() {
        return;
    }
    let mut carrier = std::collections::HashMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(value) = get(name) {
            carrier.insert(name.to_string(), value.to_string());
        }
    }
    if carrier.is_empty() {
        return;
    }
    let cx = opentelemetry::propagation::TextMapPropagator::extract(
        &TraceContextPropagator::new(),
        &carrier,
    );
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The ids that join a log line to its trace: `(trace_id, span_id)` of the current span,
/// when traces are on and it is recorded.
pub(crate) fn current_ids() -> Option<(TraceId, opentelemetry::trace::SpanId)> {
    if !is_on() {
        return None;
    }
    let current = Span::current();
    if current.is_none() {
        return None;
    }
    let cx = current.context();
    let span = cx.span();
    let sc = span.span_context();
    // A span that sampling dropped has ids no collector will ever hold.
    (sc.is_valid() && sc.is_sampled()).then(|| (sc.trace_id(), sc.span_id()))
}

/// An axum middleware: one server span per request (`POST /api/signals`), a child of the
/// caller's `traceparent` when it sends one, with the route and status as attributes. Does
/// nothing while traces are off. Add it with `Router::layer` so the route is known.
pub async fn trace_requests(request: Request, next: Next) -> Response {
    if !is_on() {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let span = tracing::debug_span!(
        "http.server",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let headers = request.headers();
    set_parent(&span, |name| {
        headers.get(name).and_then(|v| v.to_str().ok())
    });
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// The executable's name (`herald-dispatcher`, `herald`): the default service name.
fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "herald".into())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn exporter(endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, String> {
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".into());
    // The standard full URL wins over Herald's base URL.
    let own_endpoint = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none();
    let built = match protocol.as_str() {
        "grpc" => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if own_endpoint {
                builder = builder.with_endpoint(endpoint.to_string());
            }
            builder.build()
        }
        "http/protobuf" => {
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_http_client(OtlpHttp::new());
            if own_endpoint {
                builder =
                    builder.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
            }
            builder.build()
        }
        other => {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL: {other:?} is not supported; use http/protobuf or grpc"
            ));
        }
    };
    // The builder's errors may quote the endpoint, which may carry credentials.
    built.map_err(|_| {
        "HERALD_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or the OTEL_EXPORTER_OTLP \
         headers or timeout): not a usable OTLP exporter setting"
            .to_string()
    })
}

/// The sampler, and the share of deliveries it keeps (for [`keeps_delivery`]).
fn sampler(delivery_ratio: f64) -> Result<(Box<dyn ShouldSample>, f64), String> {
    let Some(name) = env("OTEL_TRACES_SAMPLER") else {
        return Ok((Box::new(HeraldSampler { delivery_ratio }), delivery_ratio));
    };
    let arg = || -> Result<f64, String> {
        match env("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG: {a:?} must be between 0 and 1")),
        }
    };
    let sampler = match name.trim() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(arg()?),
        "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(arg()?)))
        }
        other => {
            return Err(format!(
                "OTEL_TRACES_SAMPLER: {other:?} is not one of always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
            ));
        }
    };
    // A standard sampler applies to deliveries like any span: look up their parents unless
    // it drops everything.
    let ratio = if name.trim() == "always_off" {
        0.0
    } else {
        1.0
    };
    Ok((Box::new(sampler), ratio))
}

/// Herald's default sampler: parent-based (a remote parent that was not sampled drops its
/// children, a root is kept), except a delivery's span, kept for `delivery_ratio` of
/// deliveries by its [`DELIVERY_ID`] attribute.
#[derive(Debug, Clone)]
struct HeraldSampler {
    delivery_ratio: f64,
}

impl ShouldSample for HeraldSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .map(|cx| cx.span().span_context().clone())
            .filter(|sc| sc.is_valid());
        let trace_state = parent
            .as_ref()
            .map_or_else(TraceState::default, |sc| sc.trace_state().clone());
        let keep = match &parent {
            Some(sc) if !sc.is_sampled() => false,
            _ => match attributes.iter().find(|kv| kv.key.as_str() == DELIVERY_ID) {
                Some(kv) => {
                    delivery_bits(&kv.value).is_none_or(|bits| picked(bits, self.delivery_ratio))
                }
                None => true,
            },
        };
        SamplingResult {
            decision: if keep {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}

fn delivery_bits(value: &Value) -> Option<u128> {
    let text = value.as_str();
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    u128::from_str_radix(&hex, 16).ok()
}

/// An exporter whose exports run on a Tokio runtime: the SDK's batching thread drives them
/// with a plain executor, and the HTTP and gRPC clients need Tokio's.
#[derive(Debug)]
struct OnRuntime {
    inner: std::sync::Arc<opentelemetry_otlp::SpanExporter>,
    runtime: tokio::runtime::Handle,
}

impl opentelemetry_sdk::trace::SpanExporter for OnRuntime {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let inner = self.inner.clone();
        self.runtime
            .spawn(async move { inner.export(batch).await })
            .await
            .unwrap_or_else(|e| {
                Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    e.to_string(),
                ))
            })
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once, as the provider is built, before any export holds a clone.
        if let Some(inner) = std::sync::Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

/// Exports over HTTP with the `reqwest` client the rest of Herald uses (rustls, no second
/// HTTP stack), on the Tokio runtime the batch processor runs on.
#[derive(Debug)]
struct OtlpHttp {
    client: reqwest::Client,
}

impl OtlpHttp {
    fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let sent = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) => {
                // Never the URL: it may carry credentials.
                let e = e.without_url();
                tracing::warn!(error = %e, "traces could not be exported");
                return Err(Box::new(e));
            }
        };
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer
            .bytes()
            .await
            .map_err(|e| Box::new(e.without_url()))?;
        if !status.is_success() {
            tracing::warn!(%status, "the OTLP collector refused traces");
        }
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_picked_by_id_at_the_ratio() {
        assert!(!picked(u128::MAX, 0.0));
        assert!(picked(0, 1.0));
        // Real delivery ids: v7 (time-ordered, as the fan-out makes them) and v4.
        for (version, ids) in [
            (
                "v7",
                (0..100_000)
                    .map(|_| uuid::Uuid::now_v7().as_u128())
                    .collect::<Vec<_>>(),
            ),
            (
                "v4",
                (0..100_000)
                    .map(|_| uuid::Uuid::new_v4().as_u128())
                    .collect(),
            ),
        ] {
            for (ratio, low, high) in [
                (0.01, 800, 1_200),
                (0.1, 9_400, 10_600),
                (0.5, 49_000, 51_000),
            ] {
                let kept = ids.iter().filter(|id| picked(**id, ratio)).count();
                assert!(
                    (low..=high).contains(&kept),
                    "{version}: {kept} of 100000 kept at {ratio}"
                );
            }
        }
    }

    #[test]
    fn the_default_sampler_keeps_signal_spans_and_a_share_of_deliveries() {
        let sampler = HeraldSampler {
            delivery_ratio: 0.0,
        };
        let decide = |attributes: &[KeyValue]| {
            sampler
                .should_sample(
                    None,
                    TraceId::from(1),
                    "span",
                    &SpanKind::Internal,
                    attributes,
                    &[],
                )
                .decision
        };
        assert_eq!(decide(&[]), SamplingDecision::RecordAndSample);
        let delivery = [KeyValue::new(
            DELIVERY_ID,
            "0193a3b0-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
        )];
        assert_eq!(decide(&delivery), SamplingDecision::Drop);
        let all = HeraldSampler {
            delivery_ratio: 1.0,
        };
        assert_eq!(
            all.should_sample(
                None,
                TraceId::from(1),
                "d",
                &SpanKind::Internal,
                &delivery,
                &[]
            )
            .decision,
            SamplingDecision::RecordAndSample
        );
    }
}
