//! The HTTP pieces every service shares: `GET /api/health`, `GET /metrics`, the JSON error
//! body, and serving a router until shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The body of every error answer: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_signal`, `unauthorized`, …
    pub code: &'static str,
    /// For a person.
    pub message: String,
    /// Per-field problems, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorBody {
    /// An error response with this status.
    pub fn response(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        details: Option<serde_json::Value>,
    ) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                details,
            },
        };
        (status, Json(body)).into_response()
    }
}

/// One dependency's state in a health report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `nats`, `database`, …
    pub name: &'static str,
    /// `ok`, or what is wrong.
    pub status: String,
}

/// What `GET /api/health` answers: 200 when every check is ok, 503 otherwise.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// The service's name.
    pub service: &'static str,
    /// The build's version.
    pub version: &'static str,
    /// Each dependency.
    pub checks: Vec<Check>,
}

impl HealthReport {
    /// Builds a report from named check results.
    pub fn new(service: &'static str, checks: Vec<(&'static str, Result<(), String>)>) -> Self {
        let healthy = checks.iter().all(|(_, r)| r.is_ok());
        Self {
            status: if healthy { "ok" } else { "degraded" },
            service,
            version: env!("CARGO_PKG_VERSION"),
            checks: checks
                .into_iter()
                .map(|(name, r)| Check {
                    name,
                    status: r.err().unwrap_or_else(|| "ok".into()),
                })
                .collect(),
        }
    }
}

impl IntoResponse for HealthReport {
    fn into_response(self) -> Response {
        let status = if self.status == "ok" {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, Json(self)).into_response()
    }
}

/// A health probe: runs the service's checks.
pub type HealthProbe =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = HealthReport> + Send>> + Send + Sync>;

/// `GET /api/health` (answered by `probe`) and `GET /metrics` (Prometheus text).
pub fn ops_router(probe: HealthProbe) -> Router {
    Router::new()
        .route("/api/health", get(move || (probe.clone())()))
        .route("/metrics", get(metrics))
}

async fn metrics() -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::telemetry::prometheus().render(),
    )
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then finishes the requests
/// in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
