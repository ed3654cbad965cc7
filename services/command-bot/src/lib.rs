//! command-bot: answers traders in chat.
//!
//! It long-polls Telegram (`getUpdates`) through teloxide's dispatcher, registers its
//! commands with `setMyCommands` at start, and answers each command from the store. Each
//! command lives in its own file under [`commands`]; the replies are plain functions of what
//! the store said, so they are tested without Telegram.
//!
//! Telegram allows one poller per bot: run one replica of the command-bot (a second one gets
//! 409 Conflict).
//!
//! Replies go through a [`herald_telegram::Sender`] on the Telegram budget every process of
//! the installation shares (`herald_bus::budget`), at interactive priority — ahead of queued
//! signal deliveries — and a reply refused with 429 is sent again after the wait.

pub mod commands;
mod handler;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use herald_bus::Subjects;
use herald_runtime::http::{HealthProbe, check, ops_router};
use herald_runtime::{HealthReport, Settings, serve};
use herald_store::Store;
use herald_telegram::{Budget, LimiterConfig, Sender};
use secrecy::ExposeSecret;
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use commands::Command;

/// How long one getUpdates waits for news (Telegram's long poll).
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the command-bot until `shutdown` is cancelled, on the installation's shared budget.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_budget(settings, listener, shutdown, None).await
}

/// [`run`], drawing on `budget` when given (`herald all` shares one among its services; the
/// caller closes it), else joining the shared budget over its own NATS connection.
pub async fn run_with_budget(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
    budget: Option<Arc<dyn Budget>>,
) -> anyhow::Result<()> {
    let token = settings
        .require_telegram_token()?
        .expose_secret()
        .to_string();
    let store = Store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let bot = herald_telegram::bot(&token, &settings.telegram_api_url)?;
    let own_budget = budget.is_none();
    let budget = match budget {
        Some(budget) => budget,
        None => {
            let client = herald_bus::connect(&herald_bus::NatsOptions::new(
                &settings.nats_url,
                settings.nats_creds.as_ref(),
                settings.nats_nkey_seed.as_ref(),
            ))
            .await?;
            let limits = LimiterConfig::with_rate(settings.telegram_rate_limit);
            herald_bus::budget::shared(
                client,
                &Subjects::new(&settings.nats_prefix),
                limits,
                settings.nats_stream_replicas,
            )
            .await?
        }
    };
    let sender = Sender::new(bot.clone(), budget.clone());

    bot.set_my_commands(Command::bot_commands())
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "registering commands with Telegram (setMyCommands): {}",
                herald_telegram::classify(e, &token)
            )
        })?;

    let probe_store = store.clone();
    let probe: HealthProbe = Arc::new(move || {
        let store = probe_store.clone();
        Box::pin(async move {
            let database = check(store.ping()).await;
            HealthReport::new("command-bot", vec![("database", database)])
        })
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "command-bot health and metrics listening");
    let stop = shutdown.child_token();
    let ops = tokio::spawn(serve(listener, ops_router(probe), stop.clone()));

    let mut dispatcher = Dispatcher::builder(bot.clone(), handler::schema())
        .dependencies(dptree::deps![store, sender])
        .error_handler(handler::Redactor::new(&token).error_handler())
        .build();
    let polling = teloxide::update_listeners::Polling::builder(bot)
        .timeout(POLL_TIMEOUT)
        .delete_webhook()
        .await
        .build();

    if shutdown.is_cancelled() {
        stop.cancel();
        let _ = ops.await;
        return Ok(());
    }
    let dispatching = CancellationToken::new();
    tokio::spawn(stop_dispatcher_on(
        shutdown.clone(),
        dispatcher.shutdown_token(),
        dispatching.clone(),
    ));
    tracing::info!("command-bot polling for updates");
    let listener_errors = Arc::new(handler::Redactor::new(&token));
    let result = dispatcher
        .try_dispatch_with_listener(polling, listener_errors)
        .await;
    dispatching.cancel();
    stop.cancel();
    if own_budget {
        budget.close().await;
    }
    ops.await??;
    result.map_err(|e| {
        anyhow::anyhow!(
            "starting the bot (getMe): {}",
            herald_telegram::classify(e, &token)
        )
    })?;
    Ok(())
}

/// Stops teloxide's dispatcher once `shutdown` is cancelled. teloxide refuses a shutdown
/// until its dispatching has started (`IdleShutdownError`), so a request that comes early
/// (during setMyCommands or getMe) is repeated until it is taken, or dispatching has ended.
async fn stop_dispatcher_on(
    shutdown: CancellationToken,
    teloxide: teloxide::dispatching::ShutdownToken,
    dispatching: CancellationToken,
) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = dispatching.cancelled() => return,
    }
    loop {
        if let Ok(done) = teloxide.shutdown() {
            done.await;
            return;
        }
        tokio::select! {
            _ = dispatching.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}
