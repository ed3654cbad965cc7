//! The HTTP pieces every service shares: the probes (`GET /livez`, `GET /readyz`,
//! `GET /api/health`, the last answered from a cache: [`CachedHealth`]), `GET /metrics`, the
//! JSON error body, the request counter of the public APIs ([`with_request_metrics`]), and
//! serving a router (or a public and an operational one, [`serve_apart`]) until shutdown.
//!
//! Where the operational routes live: ingest-api and admin-api serve them ([`ops_routes`])
//! on an address of their own (`HERALD_INGEST_OPS_ADDR`, `HERALD_ADMIN_OPS_ADDR`), and their
//! public ports answer only the API and `GET /api/health` ([`health_route`]); the dispatcher
//! and the command-bot, which have no public API, serve them on their one address
//! ([`ops_router`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::telemetry::{ErrorKind, count_error};

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

/// A health probe whose report is reused for [`CachedHealth::MAX_AGE`]: what
/// `GET /api/health` answers, so that calling it in a loop (it is public, and needs no
/// credentials) runs the checks — a database round trip among them — at most once per
/// `MAX_AGE` per process, however many callers there are.
///
/// Single flight: while the checks run, other callers wait for their report rather than run
/// their own. The checks run in a task of their own, so a caller that hangs up does not cut
/// them short (the next caller would start them again): they finish and fill the cache.
/// A failing report is cached like a passing one.
#[derive(Clone)]
pub struct CachedHealth(Arc<CacheInner>);

struct CacheInner {
    probe: HealthProbe,
    max_age: Duration,
    last: Arc<tokio::sync::Mutex<Option<(Instant, HealthReport)>>>,
}

impl CachedHealth {
    /// How long a report is reused.
    pub const MAX_AGE: Duration = Duration::from_secs(2);

    /// `probe`, cached for [`CachedHealth::MAX_AGE`].
    pub fn new(probe: HealthProbe) -> Self {
        Self::with_max_age(probe, Self::MAX_AGE)
    }

    /// `probe`, cached for `max_age`.
    pub fn with_max_age(probe: HealthProbe, max_age: Duration) -> Self {
        Self(Arc::new(CacheInner {
            probe,
            max_age,
            last: Arc::new(tokio::sync::Mutex::new(None)),
        }))
    }

    /// The last report if it is younger than the maximum age, else a new one (see the type).
    pub async fn report(&self) -> HealthReport {
        let mut last = self.0.last.clone().lock_owned().await;
        if let Some((at, report)) = last.as_ref()
            && at.elapsed() < self.0.max_age
        {
            return report.clone();
        }
        let probe = self.0.probe.clone();
        let refresh = tokio::spawn(async move {
            let report = probe().await;
            *last = Some((Instant::now(), report.clone()));
            report
        });
        match refresh.await {
            Ok(report) => report,
            // The probe panicked: say so rather than answer nothing — but not what it said,
            // which is for the logs, not for a public endpoint.
            Err(e) => {
                tracing::error!(error = %e, "the health check panicked");
                HealthReport::new("unknown", vec![("health", Err("the check failed".into()))])
            }
        }
    }

    /// The checks themselves, uncached.
    pub fn probe(&self) -> HealthProbe {
        self.0.probe.clone()
    }
}

/// The operational routes:
///
/// - `GET /livez` — liveness: 200 whenever the process serves HTTP. It runs no checks, so a
///   database or NATS outage never gets a healthy process restarted.
/// - `GET /readyz` — readiness: the probe's report, 200 when the service can do its job, 503
///   when it cannot (take it out of the load balancer, do not restart it). It runs the checks
///   on every call, uncached: only the kubelet and operators reach this address, every few
///   seconds, and a readiness probe must see the state as it is now.
/// - `GET /api/health` — the same report and status as `/readyz`, under the product's name,
///   from `health`'s cache ([`CachedHealth`]).
/// - `GET /metrics` — Prometheus text.
pub fn ops_routes(health: CachedHealth) -> Router {
    let ready = health.probe();
    Router::new()
        .route("/livez", get(live))
        .route("/readyz", get(move || (ready.clone())()))
        .merge(health_route(health))
        .route("/metrics", get(metrics))
}

/// [`ops_routes`] for a service whose one address serves them (the dispatcher, the
/// command-bot), with `GET /api/health` cached for [`CachedHealth::MAX_AGE`].
pub fn ops_router(probe: HealthProbe) -> Router {
    ops_routes(CachedHealth::new(probe))
}

/// `GET /api/health` alone, from `health`'s cache: what a public port serves of the
/// operational routes (spec §5.3 lists it among the API's endpoints).
pub fn health_route(health: CachedHealth) -> Router {
    Router::new().route(
        "/api/health",
        get(move || {
            let health = health.clone();
            async move { health.report().await }
        }),
    )
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

/// Counts every answer of `router` in `herald_http_requests_total{service, route, status}`
/// (`route`: the route template that matched, e.g. `/api/users/{id}`, or `unmatched`;
/// `status`: the numeric code), and counts in `herald_errors_total{service, kind}` each answer
/// that carries an [`ErrorKind`] in its extensions, and each 500 that carries none (as
/// `internal`: a panic, say). Apply it last, around the whole public router.
pub fn with_request_metrics(router: Router, service: &'static str) -> Router {
    describe_request_metrics();
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(RequestMeter {
            service,
            counters: RwLock::default(),
        }),
        count_request,
    ))
}

const HTTP_REQUESTS_TOTAL: &str = "herald_http_requests_total";

fn describe_request_metrics() {
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "Answers of ingest-api's and admin-api's public APIs, by service, route template \
         (or unmatched) and status code"
    );
}

/// The request counter's handles, by status and route: looking a labelled counter up in the
/// recorder allocates its labels, which a hot endpoint need not pay on every request.
struct RequestMeter {
    service: &'static str,
    counters: RwLock<HashMap<u16, HashMap<String, metrics::Counter>>>,
}

impl RequestMeter {
    fn count(&self, route: &str, status: u16) {
        let known = self
            .counters
            .read()
            .ok()
            .and_then(|c| c.get(&status).and_then(|r| r.get(route)).cloned());
        let counter = known.unwrap_or_else(|| {
            let counter = metrics::counter!(
                HTTP_REQUESTS_TOTAL,
                "service" => self.service,
                "route" => route.to_string(),
                "status" => status.to_string()
            );
            if let Ok(mut counters) = self.counters.write() {
                counters
                    .entry(status)
                    .or_default()
                    .insert(route.to_string(), counter.clone());
            }
            counter
        });
        counter.increment(1);
    }
}

async fn count_request(
    State(meter): State<Arc<RequestMeter>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    meter.count(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        status.as_u16(),
    );
    match response.extensions().get::<ErrorKind>() {
        Some(kind) => count_error(meter.service, *kind),
        None if status == StatusCode::INTERNAL_SERVER_ERROR => {
            count_error(meter.service, ErrorKind::Internal)
        }
        None => {}
    }
    response
}

/// A service's two routers: its public API, and its operational routes ([`ops_routes`]) for
/// an address of their own.
pub struct Routers {
    /// The API, with `GET /api/health`.
    pub public: Router,
    /// `GET /livez`, `/readyz`, `/api/health`, `/metrics`.
    pub ops: Router,
}

/// Serves `routers.public` on `listener` and `routers.ops` on `ops_listener` (as [`serve`]
/// does) until `shutdown` is cancelled; if either fails, the other stops too and the error is
/// returned.
pub async fn serve_apart(
    listener: TcpListener,
    ops_listener: TcpListener,
    routers: Routers,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stop = shutdown.child_token();
    let ops_stop = stop.clone();
    let ops = tokio::spawn(async move {
        let served = serve(ops_listener, routers.ops, ops_stop.clone()).await;
        ops_stop.cancel();
        served
    });
    let public = serve(listener, routers.public, stop.clone()).await;
    stop.cancel();
    let ops = ops.await.map_err(anyhow::Error::from).and_then(|r| r);
    public.and(ops)
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

    /// A probe that counts its runs and answers once `gate` lets it.
    fn counting_probe(
        runs: Arc<std::sync::atomic::AtomicUsize>,
        gate: Arc<tokio::sync::Semaphore>,
    ) -> HealthProbe {
        Arc::new(move || {
            let (runs, gate) = (runs.clone(), gate.clone());
            Box::pin(async move {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _pass = gate.acquire().await.expect("gate open");
                HealthReport::new("s", vec![("database", Ok(()))])
            })
        })
    }

    #[tokio::test]
    async fn api_health_in_a_loop_runs_the_checks_once_per_max_age() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        // An age no test outlives: every call after the first is answered from the cache.
        let health = CachedHealth::with_max_age(
            counting_probe(runs.clone(), gate.clone()),
            Duration::from_secs(3600),
        );
        let router = health_route(health.clone());
        // Many callers at once while the checks hang: they all wait for the one run.
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move {
                    use tower::ServiceExt as _;
                    let request = axum::http::Request::get("/api/health")
                        .body(axum::body::Body::empty())
                        .unwrap();
                    router.oneshot(request).await.unwrap().status()
                })
            })
            .collect();
        tokio::task::yield_now().await;
        gate.add_permits(1_000);
        for caller in callers {
            assert_eq!(caller.await.unwrap(), StatusCode::OK);
        }
        // And in a loop afterwards.
        for _ in 0..200 {
            assert!(health.report().await.is_ready());
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the checks ran once");

        // A report older than the maximum age is made again, once per call that finds it so.
        let runs = Arc::new(AtomicUsize::new(0));
        let uncached =
            CachedHealth::with_max_age(counting_probe(runs.clone(), gate.clone()), Duration::ZERO);
        for _ in 0..3 {
            uncached.report().await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_caller_that_hangs_up_does_not_cut_the_checks_short() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let health = CachedHealth::with_max_age(
            counting_probe(runs.clone(), gate.clone()),
            Duration::from_secs(3600),
        );
        // The first caller gives up while the checks run …
        let first = tokio::spawn({
            let health = health.clone();
            async move { health.report().await }
        });
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        first.abort();
        // … they finish anyway, and the next caller gets their report.
        gate.add_permits(1_000);
        assert!(health.report().await.is_ready());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn ops_routes_serve_probes_and_metrics_and_readyz_is_never_cached() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tower::ServiceExt as _;
        let runs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(1_000));
        let health = CachedHealth::with_max_age(
            counting_probe(runs.clone(), gate),
            Duration::from_secs(3600),
        );
        let router = ops_routes(health);
        for path in [
            "/livez",
            "/readyz",
            "/readyz",
            "/api/health",
            "/api/health",
            "/metrics",
        ] {
            let request = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
        // Two readiness probes, fresh each, and one cached health report.
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_and_status_and_failures_by_kind() {
        use tower::ServiceExt as _;
        let handle = crate::telemetry::prometheus();
        let tagged = || async {
            let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
            response.extensions_mut().insert(ErrorKind::Nats);
            response
        };
        let router = with_request_metrics(
            with_json_errors(
                Router::new()
                    .route("/api/things/{id}", get(|| async { "thing" }))
                    .route("/api/down", get(tagged))
                    .route(
                        "/api/boom",
                        get(|| async {
                            if true {
                                panic!("boom");
                            }
                            "never"
                        }),
                    ),
            ),
            "http-test",
        );
        for (path, status) in [
            ("/api/things/1", 200),
            ("/api/things/2", 200),
            ("/nowhere", 404),
            ("/api/down", 503),
            ("/api/boom", 500),
        ] {
            let request = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}");
        }
        let text = handle.render();
        for line in [
            r#"herald_http_requests_total{service="http-test",route="/api/things/{id}",status="200"} 2"#,
            r#"herald_http_requests_total{service="http-test",route="unmatched",status="404"} 1"#,
            r#"herald_http_requests_total{service="http-test",route="/api/down",status="503"} 1"#,
            r#"herald_http_requests_total{service="http-test",route="/api/boom",status="500"} 1"#,
            r#"herald_errors_total{service="http-test",kind="nats"} 1"#,
            r#"herald_errors_total{service="http-test",kind="internal"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
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
