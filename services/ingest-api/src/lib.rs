//! ingest-api: the Signal Engine's HTTP door.
//!
//! `POST /api/signals` with `X-API-Key` takes one signal as JSON (see
//! `proto/signal.v1.schema.json`), validates it with the same parser the NATS path uses,
//! publishes it to JetStream with its id as `Nats-Msg-Id`, and answers only once JetStream
//! has stored it:
//!
//! | answer | when |
//! |---|---|
//! | 202 `{"id", "status": "accepted"}` | stored on the bus |
//! | 200 `{"id", "status": "duplicate"}` | this id was already accepted; it is delivered once |
//! | 400 `malformed_json` | the body is not a JSON object |
//! | 400 `bad_body` | the body could not be read |
//! | 422 `invalid_signal` | the signal breaks rules; `details` lists every field |
//! | 422 `invalid_signal` (detail code `stale`) | the signal is already past its deadline |
//! | 401 `unauthorized` | missing or unknown key |
//! | 403 `forbidden` | the key lacks the scope `signals:write`, or is used from an address outside its allow-list |
//! | 429 `rate_limited` | the key is over its rate limit (per replica); `Retry-After` says when to try again |
//! | 413 `body_too_large` | over `HERALD_INGEST_MAX_BODY_BYTES` |
//! | 415 `unsupported_media_type` | a Content-Type other than JSON |
//! | 503 `unavailable` | NATS is down, or the key store is and the key is not known from before: retry with the same id |
//! | 500 `internal` | the handler failed (logged, never described) |
//!
//! A path with no route is answered 404 `not_found`, a method a path does not take 405
//! `method_not_allowed` ([`herald_runtime::http::with_json_errors`]).
//!
//! Also `GET /api/health` (answered from a cache at most 2 s old, so that calling it in a loop
//! cannot load the database: [`herald_runtime::http::CachedHealth`]) and
//! `GET /api/openapi.json`: the OpenAPI 3.1 document of all this, generated from the code
//! ([`openapi_document`]; checked in as `proto/ingest-api.openapi.json`). Every answer is
//! counted in `herald_http_requests_total` ([`herald_runtime::http::with_request_metrics`]).
//!
//! The metrics and the probes (`GET /metrics`, `/livez`, `/readyz`, and `/api/health` too:
//! [`herald_runtime::http::ops_routes`]) are on a listener of their own,
//! `HERALD_INGEST_OPS_ADDR`; the public port answers them 404.
//!
//! # When the database is down
//!
//! The database holds only the API keys as far as ingest is concerned, and keys are checked
//! through [`ApiKeyVerifier`]'s cache: while the database cannot be reached, keys it confirmed
//! within `HERALD_INGEST_KEY_MAX_STALE_SECS` keep working (their signals go to JetStream as
//! usual), unknown keys get 503 rather than 401, and a key revoked meanwhile is refused at the
//! latest `HERALD_INGEST_KEY_CACHE_TTL_SECS` after its revocation or 2 s after the database
//! is back, whichever is later (see [`herald_auth::verifier`]).
//!
//! Readiness (`GET /readyz`, and `GET /api/health`) follows: NATS is required; the database
//! is required only while no key could be accepted from the cache. With keys in the cache a
//! database outage shows as `degraded` with 200, and the pod stays in the Service; a replica
//! with nothing cached goes unready, so traffic goes to the replicas that can take it.
//! Liveness (`GET /livez`) never looks at either.

mod error;
mod openapi;
mod signals;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use herald_auth::{ApiKeyVerifier, Gate, HasGate, KeyCachePolicy};
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_runtime::http::{
    CachedHealth, HealthProbe, Routers, check, health_route, openapi_route, ops_routes,
    serve_apart, with_json_errors, with_request_metrics,
};
use herald_runtime::{HealthReport, Settings};
use herald_store::{Store, heartbeats};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use openapi::document as openapi_document;

/// What the handlers share. axum clones the state for every request, so it is one `Arc`:
/// cloning the NATS client, the pool and the key cache field by field cost a tenth of the
/// handler's throughput.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The inside of [`AppState`].
pub struct Shared {
    bus: Bus,
    store: Store,
    keys: ApiKeyVerifier,
    /// The API key checks (`X-API-Key`, scope `signals:write`, allow-list, rate limit).
    gate: Gate,
    max_body_bytes: usize,
    /// JetStream's duplicate window for signals.
    dedup_window: Duration,
    /// The lifetime of a signal with neither `valid_until` nor a timeframe.
    signal_ttl: Duration,
    meters: signals::Meters,
}

/// The name ingest-api goes by in metrics and heartbeats.
const SERVICE: &str = heartbeats::INGEST_API;

/// Runs ingest-api until `shutdown` is cancelled: the API on `listener`, the metrics and
/// probes on `ops_listener`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    herald_runtime::telemetry::register_errors(SERVICE);
    let store = Store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let bus = Bus::connect(
        NatsOptions::new(
            &settings.nats_url,
            settings.nats_creds.as_ref(),
            settings.nats_nkey_seed.as_ref(),
        ),
        Subjects::new(&settings.nats_prefix),
        StreamSettings {
            duplicate_window: Duration::from_secs(settings.signal_dedup_window_secs),
            replicas: settings.nats_stream_replicas,
            ..StreamSettings::default()
        },
    )
    .await?;
    let keys = ApiKeyVerifier::new(
        herald_auth::store::key_lookup(store.clone()),
        KeyCachePolicy::from_settings(&settings),
    );
    let gate = Gate::builder()
        .api_keys(keys.clone())
        .trust_forwarded_for(settings.trust_forwarded_for)
        .failures(herald_auth::store::failure_sink(store.clone()))
        .build();
    let state = AppState(Arc::new(Shared {
        keys,
        gate,
        bus,
        store,
        max_body_bytes: settings.ingest_max_body_bytes,
        dedup_window: Duration::from_secs(settings.signal_dedup_window_secs),
        signal_ttl: Duration::from_secs(settings.signal_ttl_secs),
        meters: signals::Meters::new(),
    }));
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "ingest-api listening");
    let addr = ops_listener.local_addr()?;
    tracing::info!(%addr, "ingest-api metrics and probes listening");
    // Its own token too, so that it also stops when serving fails.
    let beating = shutdown.child_token();
    let heartbeat = heartbeats::spawn(state.store.clone(), SERVICE, beating.clone());
    let usage = herald_auth::store::spawn_key_usage(
        state.keys.clone(),
        state.store.clone(),
        beating.clone(),
    );
    let served = serve_apart(listener, ops_listener, routers(state), shutdown).await;
    beating.cancel();
    for (task, what) in [(heartbeat, "heartbeat"), (usage, "key usage")] {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, task = what, "a background task failed");
        }
    }
    served
}

/// The public routes (the API, `GET /api/health` and the OpenAPI document, every answer
/// counted) and the operational ones, sharing one cached health report. The OpenAPI document
/// is built here, once.
pub fn routers(state: AppState) -> Routers {
    let max_body_bytes = state.max_body_bytes;
    let probe_state = state.clone();
    let probe: HealthProbe = Arc::new(move || {
        let s = probe_state.clone();
        Box::pin(async move { health(&s).await })
    });
    let health = CachedHealth::new(probe);
    let public = with_json_errors(
        Router::new()
            .route("/api/signals", post(signals::post_signal))
            .layer(DefaultBodyLimit::max(max_body_bytes))
            .layer(axum::middleware::from_fn(
                herald_runtime::traces::trace_requests,
            ))
            .with_state(state)
            .merge(health_route(health.clone()))
            .merge(openapi_route(openapi_document())),
    );
    Routers {
        public: with_request_metrics(public, SERVICE),
        ops: ops_routes(health),
    }
}

/// NATS is required; the database only while no key could be accepted without it.
async fn health(state: &AppState) -> HealthReport {
    let nats = if state.bus.is_connected() {
        Ok(())
    } else {
        Err("disconnected".to_string())
    };
    let database = check(state.store.ping()).await;
    let report = HealthReport::new("ingest-api", vec![("nats", nats)]);
    let cached = state.keys.servable_keys();
    match database {
        Err(why) if cached > 0 => report.with_optional(
            "database",
            Err(format!(
                "{why}; accepting the {cached} API key(s) confirmed in the last {} s",
                state.keys.policy().max_stale.as_secs()
            )),
        ),
        database => report.with_required("database", database),
    }
}

impl HasGate for AppState {
    fn gate(&self) -> &Gate {
        &self.gate
    }
}
