//! The dispatcher: from a signal on the bus to a message in every eligible trader's chat.
//!
//! Two loops run in every replica, each on a durable JetStream consumer shared by all
//! replicas:
//!
//! 1. [`fanout`] takes signals from `<prefix>.signals.v1.>`: validates them with the same
//!    parser as ingest-api (invalid ones go to `<prefix>.signals.dlq` with the reason), stores
//!    the signal, picks the recipients, records one `pending` delivery per trader and
//!    publishes one job per delivery on `<prefix>.deliveries.v1`.
//! 2. [`deliver`] takes delivery jobs: records the attempt, renders the message in the
//!    trader's format, sends it within the rate limits and records how it ended.
//!
//! The work itself lives in plain async functions ([`fanout::handle_signal`],
//! [`deliver::deliver`]) that return an outcome; [`worker`] only maps outcomes to
//! ack / nak-with-delay / term, so tests can call the functions directly.

pub mod batch;
pub mod context;
pub mod deliver;
pub mod fanout;
pub mod messages;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herald_bus::{Bus, StreamSettings, Subjects};
use herald_runtime::http::{HealthProbe, check, ops_router};
use herald_runtime::{HealthReport, Settings, serve};
use herald_store::Store;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use context::{DispatcherContext, Policy};

/// Runs a dispatcher replica until `shutdown` is cancelled: stops taking work, then lets the
/// sends in flight finish.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let token = settings
        .require_telegram_token()?
        .expose_secret()
        .to_string();
    let store = Store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let bus = Bus::connect(
        &settings.nats_url,
        Subjects::new(&settings.nats_prefix),
        StreamSettings {
            duplicate_window: Duration::from_secs(settings.signal_dedup_window_secs),
            ack_wait: Duration::from_secs(settings.ack_wait_secs),
            ..StreamSettings::default()
        },
    )
    .await?;
    let bot = herald_telegram::bot(&token, &settings.telegram_api_url)?;
    let limits = herald_telegram::LimiterConfig {
        messages_per_second: (settings.telegram_rate_limit > 0)
            .then_some(settings.telegram_rate_limit),
        ..herald_telegram::LimiterConfig::default()
    };
    let sender = herald_telegram::Sender::new(bot, herald_telegram::Limiter::new(limits));
    // JetStream keeps a consumer's ack wait from when it was created: the work must report
    // progress by that one, whatever the setting says now.
    let signals = bus.signal_consumer().await?;
    let deliveries = bus.delivery_consumer().await?;
    let mut policy = Policy::from_settings(&settings);
    let ack_wait = deliveries.cached_info().config.ack_wait;
    if ack_wait != policy.ack_wait {
        tracing::warn!(
            consumer_ack_wait_secs = ack_wait.as_secs(),
            setting_secs = settings.ack_wait_secs,
            "HERALD_ACK_WAIT_SECS differs from the existing consumers' ack wait, which is kept; \
             delete the consumers (or use a new HERALD_NATS_PREFIX) to change it"
        );
        policy.ack_wait = ack_wait;
    }
    let ctx = Arc::new(DispatcherContext::new(store, bus, sender, policy));

    let probe_ctx = ctx.clone();
    let probe: HealthProbe = Arc::new(move || {
        let ctx = probe_ctx.clone();
        Box::pin(async move { health(&ctx).await })
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "dispatcher health and metrics listening");

    // The three parts live and die together: if one fails, the others stop and the replica
    // exits with that error rather than staying up half-working.
    let stop = shutdown.child_token();
    let mut parts = JoinSet::new();
    parts.spawn(serve(listener, ops_router(probe), stop.clone()));
    parts.spawn(worker::run_signals(ctx.clone(), signals, stop.clone()));
    parts.spawn(worker::run_deliveries(
        ctx.clone(),
        deliveries,
        stop.clone(),
    ));
    let mut first_error = None;
    while let Some(done) = parts.join_next().await {
        let result = done.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = result {
            tracing::error!(error = format!("{e:#}"), "dispatcher part failed; stopping");
            first_error.get_or_insert(e);
        } else if !shutdown.is_cancelled() && first_error.is_none() {
            first_error = Some(anyhow::anyhow!("a dispatcher loop stopped unexpectedly"));
        }
        stop.cancel();
    }
    first_error.map_or(Ok(()), Err)
}

async fn health(ctx: &DispatcherContext) -> HealthReport {
    let nats = if ctx.bus.is_connected() {
        Ok(())
    } else {
        Err("disconnected".to_string())
    };
    let database = check(ctx.store.ping()).await;
    HealthReport::new("dispatcher", vec![("nats", nats), ("database", database)])
}
