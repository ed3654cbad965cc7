//! `herald all`: the four services in one process, sharing one shutdown and one Telegram
//! budget (the installation's shared one, so that dispatcher replicas started beside it
//! draw on it too).

use anyhow::Context as _;
use herald_runtime::{Settings, bind};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The six listeners, bound before anything starts so a taken port fails fast.
pub struct Listeners {
    /// ingest-api
    pub ingest: TcpListener,
    /// ingest-api's metrics and probes
    pub ingest_ops: TcpListener,
    /// admin-api
    pub admin: TcpListener,
    /// admin-api's metrics and probes
    pub admin_ops: TcpListener,
    /// dispatcher health and metrics
    pub dispatcher: TcpListener,
    /// command-bot health and metrics
    pub command_bot: TcpListener,
}

impl Listeners {
    /// Binds the addresses the settings name.
    pub async fn bind(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            ingest: bind("HERALD_INGEST_ADDR", settings.ingest_addr).await?,
            ingest_ops: bind("HERALD_INGEST_OPS_ADDR", settings.ingest_ops_addr).await?,
            admin: bind("HERALD_ADMIN_ADDR", settings.admin_addr).await?,
            admin_ops: bind("HERALD_ADMIN_OPS_ADDR", settings.admin_ops_addr).await?,
            dispatcher: bind("HERALD_DISPATCHER_ADDR", settings.dispatcher_addr).await?,
            command_bot: bind("HERALD_COMMAND_BOT_ADDR", settings.command_bot_addr).await?,
        })
    }
}

/// Runs every service until `shutdown`, or until one of them fails (then stops the others
/// and returns its error).
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&settings).await?;
    run_with(settings, listeners, shutdown).await
}

/// [`run`] on listeners the caller bound (the demo binds port 0).
pub async fn run_with(
    settings: Settings,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Migrate once up front so the services do not race to create the schema.
    herald_store::Store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    // One budget for the dispatcher and the command-bot.
    let client = herald_bus::connect(&herald_bus::NatsOptions::new(
        &settings.nats_url,
        settings.nats_creds.as_ref(),
        settings.nats_nkey_seed.as_ref(),
    ))
    .await?;
    let budget = herald_bus::budget::shared(
        client,
        &herald_bus::Subjects::new(&settings.nats_prefix),
        herald_telegram::LimiterConfig::with_rate(settings.telegram_rate_limit),
        settings.nats_stream_replicas,
    )
    .await?;

    let mut services = JoinSet::new();
    let s = settings.clone();
    let t = shutdown.clone();
    services.spawn(async move {
        (
            "ingest-api",
            herald_ingest_api::run(s, listeners.ingest, listeners.ingest_ops, t).await,
        )
    });
    let s = settings.clone();
    let t = shutdown.clone();
    let b = Some(budget.clone());
    services.spawn(async move {
        (
            "dispatcher",
            herald_dispatcher::run_with_budget(s, listeners.dispatcher, t, b).await,
        )
    });
    let s = settings.clone();
    let t = shutdown.clone();
    let b = Some(budget.clone());
    services.spawn(async move {
        (
            "command-bot",
            herald_command_bot::run_with_budget(s, listeners.command_bot, t, b).await,
        )
    });
    let t = shutdown.clone();
    let b = Some(budget.clone());
    services.spawn(async move {
        (
            "admin-api",
            herald_admin_api::run_with_budget(settings, listeners.admin, listeners.admin_ops, t, b)
                .await,
        )
    });

    let mut first_error = None;
    while let Some(done) = services.join_next().await {
        let (name, result) = done.context("a service panicked")?;
        match result {
            Ok(()) if shutdown.is_cancelled() => {}
            Ok(()) => {
                tracing::error!(
                    service = name,
                    "service stopped on its own; stopping the others"
                );
                first_error.get_or_insert(anyhow::anyhow!("{name} stopped unexpectedly"));
                shutdown.cancel();
            }
            Err(e) => {
                tracing::error!(
                    service = name,
                    error = format!("{e:#}"),
                    "service failed; stopping the others"
                );
                first_error.get_or_insert(e.context(name));
                shutdown.cancel();
            }
        }
    }
    budget.close().await;
    first_error.map_or(Ok(()), Err)
}
