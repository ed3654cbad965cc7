//! The dispatcher: from a signal on the bus to a message in every eligible trader's chat.
//!
//! Three loops run in every replica:
//!
//! 1. [`worker`] takes signals from `<prefix>.signals.v1.>` (a durable JetStream consumer
//!    shared by all replicas) and runs [`fanout::handle_signal`]: validate with the same
//!    parser as ingest-api (invalid or stale ones go to `<prefix>.signals.dlq` with the
//!    reason), store the signal, and record one `pending` delivery per recipient, a page at a
//!    time, resumably.
//! 2. [`send_loop`] claims due deliveries from the database queue (most urgent first, one
//!    trader's in signal order; see `herald_store`'s queue) and runs [`deliver::deliver`] on
//!    each: render, send within the shared budget, record how it ended.
//! 3. [`reconciler`], on the one replica holding its lease, sweeps up what died on the way:
//!    claims of dead replicas, backlogs past their deadline, fan-outs whose message is gone;
//!    and schedules the performance reports that fell due ([`reports`]).
//!
//! Beside them, [`meters`] refreshes the backlog and audience gauges (every replica, every
//! 30 s).
//!
//! The queue holds every message job, not only signals: a close's edits of the copies of
//! the position it ends, destinations' messages, reports. They share its budget, order,
//! retries and records; [`deliver`] prepares each kind and sends it.
//!
//! The work itself lives in plain async functions that return an outcome, so tests call them
//! directly; the loops only schedule them.

pub mod batch;
pub mod context;
pub mod deliver;
pub mod fanout;
pub mod messages;
pub mod meters;
pub mod reconciler;
pub mod reports;
pub mod send_loop;
pub mod traces;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_runtime::http::{HealthProbe, check, ops_router};
use herald_runtime::{HealthReport, Settings, serve};
use herald_store::{Store, heartbeats};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use context::{DispatcherContext, Policy};

/// How long the reconciler's lease lasts: a successor takes over at most this long after
/// the leader dies.
const RECONCILER_LEASE: Duration = Duration::from_secs(15);

/// Runs a dispatcher replica until `shutdown` is cancelled: stops taking work, then lets the
/// sends in flight finish. It joins the Telegram budget every process of the installation
/// shares.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_budget(settings, listener, shutdown, None).await
}

/// [`run`], drawing on `budget` when given (`herald all` shares one among its services; the
/// caller closes it), else on a shared budget of its own, closed when the replica stops.
pub async fn run_with_budget(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
    budget: Option<Arc<dyn herald_telegram::Budget>>,
) -> anyhow::Result<()> {
    let token = settings
        .require_telegram_token()?
        .expose_secret()
        .to_string();
    meters::register();
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
            ack_wait: Duration::from_secs(settings.ack_wait_secs),
            replicas: settings.nats_stream_replicas,
            ..StreamSettings::default()
        },
    )
    .await?;
    let bot = herald_telegram::bot(&token, &settings.telegram_api_url)?;
    let own_budget = budget.is_none();
    let budget = match budget {
        Some(budget) => budget,
        None => {
            let limits = herald_telegram::LimiterConfig::with_rate(settings.telegram_rate_limit);
            herald_bus::budget::shared(
                bus.client().clone(),
                bus.subjects(),
                limits,
                settings.nats_stream_replicas,
            )
            .await?
        }
    };
    let sender = herald_telegram::Sender::new(bot, budget.clone())
        .with_paid_broadcast(settings.telegram_paid_broadcast);
    let signals = bus.signal_consumer().await?;
    let policy = Policy::from_settings(&settings);
    let stop = shutdown.child_token();
    let ctx =
        Arc::new(DispatcherContext::new(store, bus, sender, policy).with_stopping(stop.clone()));
    let leadership = ctx
        .bus
        .campaign(
            herald_bus::lease::RECONCILER,
            RECONCILER_LEASE,
            stop.clone(),
        )
        .await?;

    let probe_ctx = ctx.clone();
    let probe: HealthProbe = Arc::new(move || {
        let ctx = probe_ctx.clone();
        Box::pin(async move { health(&ctx).await })
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "dispatcher health and metrics listening");

    // Says this replica is alive until it stops (for /status); awaited on the way out.
    let heartbeat = heartbeats::spawn(ctx.store.clone(), heartbeats::DISPATCHER, stop.clone());
    // The parts live and die together: if one fails, the others stop and the replica
    // exits with that error rather than staying up half-working.
    let mut parts = JoinSet::new();
    parts.spawn(serve(listener, ops_router(probe), stop.clone()));
    parts.spawn(meters::run_gauges(
        ctx.clone(),
        signals.clone(),
        stop.clone(),
    ));
    parts.spawn(worker::run_signals(ctx.clone(), signals, stop.clone()));
    parts.spawn(send_loop::run_sends(ctx.clone(), stop.clone()));
    parts.spawn(reconciler::run_reconciler(
        ctx.clone(),
        leadership,
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
    if let Err(e) = heartbeat.await {
        tracing::warn!(error = %e, "the heartbeat task failed");
    }
    if own_budget {
        // Hand the pacing over, if this replica had it, without making the others wait
        // for the lease to expire.
        budget.close().await;
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
