//! An OpenTelemetry collector double: an OTLP receiver over HTTP (`POST /v1/traces`, protobuf)
//! and gRPC (`TraceService/Export`), keeping every span it is sent, for tests that follow one
//! signal's trace across Herald's processes.
//!
//! ```ignore
//! let otlp = OtlpReceiver::start().await?;
//! // HERALD_OTLP_ENDPOINT = otlp.http_url() (or otlp.grpc_url() with OTEL_EXPORTER_OTLP_PROTOCOL=grpc)
//! let spans = otlp.wait_for(|spans| spans.iter().any(|s| s.name == "sendMessage"), timeout).await;
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One span as received, with its ids in lowercase hex.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The exporting process's `service.name`.
    pub service: String,
    /// How it arrived: `http` or `grpc`.
    pub transport: &'static str,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits; empty for a root span.
    pub parent_span_id: String,
    /// The span's name, e.g. `POST /api/signals`, `sendMessage`.
    pub name: String,
    /// `server`, `client`, `producer`, `consumer` or `internal`.
    pub kind: &'static str,
    /// The attributes, as text.
    pub attributes: BTreeMap<String, String>,
}

type Spans = Arc<Mutex<Vec<ReceivedSpan>>>;

/// A running OTLP receiver; stops when dropped.
pub struct OtlpReceiver {
    http: String,
    grpc: String,
    spans: Spans,
    stop: CancellationToken,
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl OtlpReceiver {
    /// Starts both receivers on loopback ports of their own.
    pub async fn start() -> anyhow::Result<Self> {
        let spans = Spans::default();
        let stop = CancellationToken::new();

        let http = TcpListener::bind("127.0.0.1:0").await?;
        let http_addr = http.local_addr()?;
        let app = Router::new()
            .route("/v1/traces", post(http_export))
            .with_state(spans.clone());
        let until = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(http, app)
                .with_graceful_shutdown(async move { until.cancelled().await })
                .await;
        });

        let grpc = TcpListener::bind("127.0.0.1:0").await?;
        let grpc_addr = grpc.local_addr()?;
        let service = TraceServiceServer::new(Grpc(spans.clone()));
        let until = stop.clone();
        tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(grpc);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async move { until.cancelled().await })
                .await;
        });

        Ok(Self {
            http: format!("http://{http_addr}"),
            grpc: format!("http://{grpc_addr}"),
            spans,
            stop,
        })
    }

    /// The base URL for OTLP over HTTP (Herald appends `/v1/traces`).
    pub fn http_url(&self) -> &str {
        &self.http
    }

    /// The URL for OTLP over gRPC.
    pub fn grpc_url(&self) -> &str {
        &self.grpc
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("not poisoned").clone()
    }

    /// Waits until `done` holds for the spans received (polling), or `timeout` passes; returns
    /// the spans either way, for the test to assert on.
    pub async fn wait_for(
        &self,
        done: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        let give_up = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if done(&spans) || tokio::time::Instant::now() >= give_up {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn http_export(State(spans): State<Spans>, body: Bytes) -> (StatusCode, Vec<u8>) {
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            keep(&spans, request, "http");
            (
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string().into_bytes()),
    }
}

struct Grpc(Spans);

#[async_trait::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner(), "grpc");
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn keep(spans: &Spans, request: ExportTraceServiceRequest, transport: &'static str) {
    let mut kept = spans.lock().expect("not poisoned");
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref().and_then(|v| v.value.as_ref())))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                kept.push(ReceivedSpan {
                    service: service.clone(),
                    transport,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    kind: match span.kind {
                        2 => "server",
                        3 => "client",
                        4 => "producer",
                        5 => "consumer",
                        _ => "internal",
                    },
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| {
                            (
                                kv.key.clone(),
                                text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                            )
                        })
                        .collect(),
                });
            }
        }
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}
