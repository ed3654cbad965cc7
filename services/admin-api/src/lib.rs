//! admin-api: the administrators' REST API, behind a two-factor login.
//!
//! - `routes/<resource>/<action>.rs`: one file per endpoint (`routes/mod.rs` maps them);
//!   each handler's signature names who may call it ([`herald_auth::Staff`],
//!   [`herald_auth::Admin`], [`herald_auth::Reader`]), so no handler checks a token itself.
//! - `state.rs`: the shared state and the audit trail every change writes to.
//! - `extract.rs`: bodies, queries, ids and pages, refused with the one error body.
//! - `error.rs`: [`ApiError`] and its stable JSON answers.
//! - `views.rs`: the JSON shapes of users, signals, deliveries, keys, statistics, signal
//!   performance, destinations and the bot's chats.
//! - `openapi.rs`: the OpenAPI document generated from all of the above, served at
//!   `GET /api/openapi.json` and checked into `proto/admin-api.openapi.json`.
//!
//! Staff log in with a code the bot sends to their Telegram chat and a TOTP code from their
//! authenticator (`routes/auth/`), and get a short-lived JWT. Changes are recorded in the
//! audit log with the actor, the target, the source address and before and after.
//!
//! The public port serves the API, `GET /api/health` (from a cached report:
//! [`herald_runtime::http::CachedHealth`]) and the OpenAPI document, every answer counted in
//! `herald_http_requests_total`; the metrics and probes (`GET /metrics`, `/livez`,
//! `/readyz`) are on the operational listener, `HERALD_ADMIN_OPS_ADDR`, and answered 404 on
//! the public port.

mod error;
mod extract;
mod openapi;
mod routes;
mod state;
mod views;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herald_auth::{ApiKeyVerifier, Gate, JwtKeys, KeyCachePolicy, generate_secret};
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_runtime::http::{
    CachedHealth, HealthProbe, Routers, check, health_route, openapi_route, ops_routes,
    serve_apart, with_json_errors, with_request_metrics,
};
use herald_runtime::{HealthReport, Settings};
use herald_store::{Store, heartbeats};
use herald_telegram::{Budget, LimiterConfig, Sender};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use state::{AdminConfig, AppState};

/// The name under which a generated JWT key is kept in the database.
const JWT_SECRET_NAME: &str = "admin_jwt";

/// The name admin-api goes by in metrics and heartbeats.
pub(crate) const SERVICE: &str = heartbeats::ADMIN_API;

/// Runs admin-api until `shutdown` is cancelled: the API on `listener`, the metrics and
/// probes on `ops_listener`.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_budget(settings, listener, ops_listener, shutdown, None).await
}

/// [`run`], sending login codes on `budget` when given (`herald all` shares one among its
/// services; the caller closes it), else joining the shared budget over its own NATS
/// connection.
pub async fn run_with_budget(
    settings: Settings,
    listener: TcpListener,
    ops_listener: TcpListener,
    shutdown: CancellationToken,
    budget: Option<Arc<dyn Budget>>,
) -> anyhow::Result<()> {
    herald_runtime::telemetry::register_errors(SERVICE);
    routes::auth::register_metrics();
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
    let jwt = jwt_keys(&settings, &store).await?;
    let own_budget = budget.is_none();
    let telegram = match &settings.telegram_token {
        None => {
            tracing::warn!(
                "HERALD_TELEGRAM_TOKEN is not set: admin logins are refused (the bot sends \
                 the login codes)"
            );
            None
        }
        Some(token) => {
            let bot = herald_telegram::bot(token.expose_secret(), &settings.telegram_api_url)?;
            let budget = match budget.clone() {
                Some(budget) => budget,
                None => {
                    herald_bus::budget::shared(
                        bus.client().clone(),
                        &Subjects::new(&settings.nats_prefix),
                        LimiterConfig::with_rate(settings.telegram_rate_limit),
                        settings.nats_stream_replicas,
                    )
                    .await?
                }
            };
            Some(Sender::new(bot, budget))
        }
    };
    let keys = ApiKeyVerifier::new(
        herald_auth::store::key_lookup(store.clone()),
        KeyCachePolicy::from_settings(&settings),
    );
    let gate = Gate::builder()
        .staff(jwt, herald_auth::store::staff_lookup(store.clone()))
        .api_keys(keys.clone())
        .trust_forwarded_for(settings.trust_forwarded_for)
        .failures(herald_auth::store::failure_sink(store.clone()))
        .build();
    let state = AppState(Arc::new(state::Shared {
        store: store.clone(),
        gate,
        bus,
        telegram: telegram.clone(),
        config: AdminConfig {
            token_lifetime: Duration::from_secs(settings.admin.token_lifetime_secs),
            code_lifetime: Duration::from_secs(settings.admin.login_code_ttl_secs),
        },
    }));
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "admin-api listening");
    let addr = ops_listener.local_addr()?;
    tracing::info!(%addr, "admin-api metrics and probes listening");
    // Its own token too, so that it also stops when serving fails.
    let beating = shutdown.child_token();
    let heartbeat = heartbeats::spawn(store.clone(), SERVICE, beating.clone());
    let usage = herald_auth::store::spawn_key_usage(keys, store, beating.clone());
    let served = serve_apart(listener, ops_listener, routers(state), shutdown).await;
    beating.cancel();
    for (task, what) in [(heartbeat, "heartbeat"), (usage, "key usage")] {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, task = what, "a background task failed");
        }
    }
    if own_budget && let Some(sender) = telegram {
        sender.budget().close().await;
    }
    served
}

/// The public routes (the API, `GET /api/health` and the OpenAPI document, every answer
/// counted) and the operational ones, sharing one cached health report.
pub fn routers(state: AppState) -> Routers {
    let probe_state = state.clone();
    let probe: HealthProbe = Arc::new(move || {
        let s = probe_state.clone();
        Box::pin(async move { health(&s).await })
    });
    let health = CachedHealth::new(probe);
    let public = with_json_errors(
        routes::router()
            .layer(axum::middleware::from_fn(
                herald_runtime::traces::trace_requests,
            ))
            .with_state(state)
            .merge(health_route(health.clone()))
            .merge(openapi_route(openapi::document())),
    );
    Routers {
        public: with_request_metrics(public, SERVICE),
        ops: ops_routes(health),
    }
}

/// The database and NATS, each required.
async fn health(state: &AppState) -> HealthReport {
    let database = check(state.store.ping()).await;
    let nats = if state.bus.is_connected() {
        Ok(())
    } else {
        Err("disconnected".to_string())
    };
    HealthReport::new("admin-api", vec![("database", database), ("nats", nats)])
}

/// The JWT key: `HERALD_ADMIN_JWT_SECRET`, else one generated once and kept in the database
/// so that every replica signs and checks with the same key.
async fn jwt_keys(settings: &Settings, store: &Store) -> anyhow::Result<JwtKeys> {
    let secret = match &settings.admin.jwt_secret {
        Some(secret) => secret.expose_secret().to_string(),
        None => store
            .server_secret(JWT_SECRET_NAME, generate_secret, chrono::Utc::now())
            .await
            .context("reading the generated admin JWT key")?,
    };
    JwtKeys::new(secret.as_bytes()).map_err(|e| anyhow::anyhow!("HERALD_ADMIN_JWT_SECRET: {e}"))
}
