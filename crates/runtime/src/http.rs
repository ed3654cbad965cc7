//! The HTTP pieces every service shares: the probes (`GET /livez`, `GET /readyz`,
//! `GET /api/health`), `GET /metrics`, the JSON error body, and serving a router until
//! shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The body of every error answer: `{"error": {"code", "message", "details"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_signal`, `unauthorized`, …
    pub code: &'static str,
    /// For a person.
    pub message: String,
    /// Per-field problems, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `nats`, `database`, …
    pub name: &'static str,
    /// `ok`, or what is wrong.
    pub status: String,
    /// Whether the service is unready while this check fails. A failing check that is not
    /// required is reported (the service is `degraded`) but the service stays ready.
    pub required: bool,
}

/// What `GET /api/health` and `GET /readyz` answer: 200 when the service can do its job
/// (every required check is ok), 503 otherwise.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `ok` (every check passes), `degraded` (only checks that are not required fail: still
    /// ready) or `unavailable` (a required check fails: not ready).
    pub status: &'static str,
    /// The service's name.
    pub service: &'static str,
    /// The build's version.
    pub version: &'static str,
    /// Each dependency.
    pub checks: Vec<Check>,
}

impl HealthReport {
    /// Builds a report from named check results, every one of them required.
    pub fn new(service: &'static str, checks: Vec<(&'static str, Result<(), String>)>) -> Self {
        let mut report = Self {
            status: "ok",
            service,
            version: env!("CARGO_PKG_VERSION"),
            checks: Vec::with_capacity(checks.len()),
        };
        for (name, result) in checks {
            report.push(name, result, true);
        }
        report
    }

    /// Adds a check that makes the service unready when it fails.
    pub fn with_required(mut self, name: &'static str, result: Result<(), String>) -> Self {
        self.push(name, result, true);
        self
    }

    /// Adds a check that is reported but does not make the service unready when it fails.
    pub fn with_optional(mut self, name: &'static str, result: Result<(), String>) -> Self {
        self.push(name, result, false);
        self
    }

    /// Whether the service can do its job: every required check passes.
    pub fn is_ready(&self) -> bool {
        self.status != "unavailable"
    }

    fn push(&mut self, name: &'static str, result: Result<(), String>, required: bool) {
        if let Err(why) = &result {
            tracing::debug!(check = name, required, problem = %why, "health check failing");
            self.status = match (self.status, required) {
                (_, true) | ("unavailable", false) => "unavailable",
                (_, false) => "degraded",
            };
        }
        self.checks.push(Check {
            name,
            status: result.err().unwrap_or_else(|| "ok".into()),
            required,
        });
    }
}

impl IntoResponse for HealthReport {
    fn into_response(self) -> Response {
        let status = if self.is_ready() {
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

/// How long one dependency check in a health probe may take: less than the probes' 2 s
/// timeout in `deploy/k8s/`, so a dependency that hangs shows as failing rather than as a
/// probe that timed out.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs one dependency check, giving up after [`CHECK_TIMEOUT`]; the error is what is wrong.
pub async fn check<E: std::fmt::Display>(
    check: impl Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
    }
}

/// The operational routes:
///
/// - `GET /livez` — liveness: 200 whenever the process serves HTTP. It runs no checks, so a
///   database or NATS outage never gets a healthy process restarted.
/// - `GET /readyz` — readiness: `probe`'s report, 200 when the service can do its job, 503
///   when it cannot (take it out of the load balancer, do not restart it).
/// - `GET /api/health` — the same report and status as `/readyz`, under the product's name.
/// - `GET /metrics` — Prometheus text.
pub fn ops_router(probe: HealthProbe) -> Router {
    let ready = probe.clone();
    Router::new()
        .route("/livez", get(live))
        .route("/readyz", get(move || (ready.clone())()))
        .route("/api/health", get(move || (probe.clone())()))
        .route("/metrics", get(metrics))
}

async fn live() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn metrics() -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        crate::telemetry::prometheus().render(),
    )
}

/// `router` answering Herald's error body where it would otherwise answer nothing or plain
/// text: 404 `not_found` for a path it has no route for, 405 `method_not_allowed` for a
/// method a path does not take, and 500 `internal` (logged, never shown) for a handler that
/// panicked.
pub fn with_json_errors(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ErrorBody::response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("there is nothing at {}", uri.path()),
        None,
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ErrorBody::response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not take {method}", uri.path()),
        None,
    )
}

fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = what, "a request handler panicked");
    ErrorBody::response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "something went wrong on our side; it has been logged",
        None,
    )
}

/// `GET /api/openapi.json`: the service's OpenAPI document, as generated from its code
/// (and checked into `proto/`, where a test fails when the two differ).
pub fn openapi_route(document: serde_json::Value) -> Router {
    let body = Arc::new(document);
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let body = body.clone();
            async move { Json(body.as_ref().clone()) }
        }),
    )
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then finishes the requests
/// in flight. Each request carries its peer's address
/// (`axum::extract::ConnectInfo<SocketAddr>`), for API key allow-lists and the audit log.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_required_checks_make_a_service_unready() {
        let ok = HealthReport::new("s", vec![("nats", Ok(()))]).with_optional("database", Ok(()));
        assert_eq!((ok.status, ok.is_ready()), ("ok", true));

        let degraded = HealthReport::new("s", vec![("nats", Ok(()))])
            .with_optional("database", Err("down".into()));
        assert_eq!((degraded.status, degraded.is_ready()), ("degraded", true));
        assert_eq!(degraded.checks[1].status, "down");
        assert!(!degraded.checks[1].required);

        let unavailable = HealthReport::new("s", vec![("nats", Err("disconnected".into()))])
            .with_optional("database", Err("down".into()));
        assert_eq!(
            (unavailable.status, unavailable.is_ready()),
            ("unavailable", false)
        );
    }

    #[tokio::test]
    async fn unknown_paths_wrong_methods_and_panics_answer_the_error_body() {
        use tower::ServiceExt as _;
        let router = with_json_errors(Router::new().route("/ok", get(|| async { "ok" })).route(
            "/boom",
            get(|| async {
                if true {
                    panic!("secret internals");
                }
                "never"
            }),
        ));
        for (method, path, status, code) in [
            ("GET", "/nowhere", 404, "not_found"),
            ("DELETE", "/ok", 405, "method_not_allowed"),
            ("GET", "/boom", 500, "internal"),
        ] {
            let request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{method} {path}");
            let body = axum::body::to_bytes(response.into_body(), 10_000)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
            assert!(!body.to_string().contains("secret internals"), "{body}");
        }
    }

    #[tokio::test]
    async fn a_check_that_hangs_fails_after_the_timeout() {
        let hanging = std::future::pending::<Result<(), String>>();
        let got = check(hanging).await;
        assert!(got.unwrap_err().starts_with("no answer within"));
        assert_eq!(
            check(async { Err::<(), _>("refused") }).await,
            Err("refused".into())
        );
    }
}
