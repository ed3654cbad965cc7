//! command-bot: answers traders in chat.
//!
//! It long-polls Telegram (`getUpdates`) through teloxide's dispatcher, registers its
//! commands with `setMyCommands` at start (in every language Herald speaks), and answers each
//! command and button press from the store. Each command lives in its own file under
//! [`commands`]; button presses are typed ([`herald_domain::Callback`]) and handled in
//! `handler.rs`; every text comes from the message catalog (`herald-i18n`). The bot being
//! added to or removed from a group or channel is recorded (`membership.rs`).
//!
//! Telegram allows one poller per bot: in polling mode run one replica of the command-bot (a
//! second one gets 409 Conflict). With `HERALD_COMMAND_BOT_WEBHOOK_URL` set, Telegram posts
//! updates to the bot instead (see `webhook.rs`), and any number of replicas can take them.
//!
//! Replies go through a [`herald_telegram::Sender`] on the Telegram budget every process of
//! the installation shares (`herald_bus::budget`), at interactive priority — ahead of queued
//! signal deliveries — and a reply refused with 429 is sent again after the wait.

pub mod commands;
mod handler;
mod membership;
pub mod ratelimit;
mod webhook;
pub mod words;

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
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use commands::{COMMANDS, Command};

/// How long one getUpdates waits for news (Telegram's long poll).
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// How many webhook requests Telegram may have open at once, per bot.
const WEBHOOK_CONNECTIONS: u8 = 40;

/// The name the command-bot goes by in metrics and heartbeats.
const SERVICE: &str = herald_store::heartbeats::COMMAND_BOT;

/// Counts one failure of the command-bot in `herald_errors_total`.
pub(crate) fn count_error(kind: herald_runtime::telemetry::ErrorKind) {
    herald_runtime::telemetry::count_error(SERVICE, kind);
}

/// Counts a send that failed for a reason of the Bot API's (not a 429 or the chat's own
/// state) in `herald_errors_total{kind="telegram"}`.
pub(crate) fn count_send_error(e: &herald_telegram::SendError) {
    if e.is_failure() {
        count_error(herald_runtime::telemetry::ErrorKind::Telegram);
    }
}

/// Describes the command-bot's metrics and makes its counters' series (at 0), so that
/// `rate()` and the alerts see them before the first command.
fn register_metrics() {
    herald_runtime::telemetry::register_errors(SERVICE);
    metrics::describe_counter!(
        "herald_command_bot_commands_total",
        "Commands answered, by command (a command's name, text, or button)"
    );
    metrics::describe_histogram!(
        "herald_command_bot_command_duration_seconds",
        metrics::Unit::Seconds,
        "From taking a command's update to its answer sent, by command"
    );
    metrics::describe_counter!(
        "herald_command_bot_rate_limited_total",
        "Messages over a trader's per-minute limit (answered once, then ignored)"
    );
    metrics::describe_counter!(
        "herald_command_bot_webhook_refused_total",
        "Webhook requests refused for a missing or wrong secret token"
    );
    let names = COMMANDS.iter().map(|c| c.name).chain(["text", "button"]);
    for command in names {
        metrics::counter!("herald_command_bot_commands_total", "command" => command).increment(0);
    }
    metrics::counter!("herald_command_bot_rate_limited_total").increment(0);
    metrics::counter!("herald_command_bot_webhook_refused_total").increment(0);
}

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
    let _ = herald_runtime::telemetry::prometheus();
    register_metrics();
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

    register_commands(&bot, &token).await?;
    let me = bot.get_me().await.map_err(|e| {
        anyhow::anyhow!(
            "starting the bot (getMe): {}",
            herald_telegram::classify(e, &token)
        )
    })?;
    let bot_name = handler::BotName(me.username().into());
    let limiter = Arc::new(ratelimit::RateLimiter::new(settings.command_bot_rate_limit));

    let probe_store = store.clone();
    let probe: HealthProbe = Arc::new(move || {
        let store = probe_store.clone();
        Box::pin(async move {
            let database = check(store.ping()).await;
            HealthReport::new("command-bot", vec![("database", database)])
        })
    });
    let addr = listener.local_addr()?;
    let mut router = ops_router(probe);
    let webhook = match &settings.command_bot_webhook_url {
        Some(url) => {
            let secret = webhook::secret(settings.command_bot_webhook_secret.as_ref(), &token);
            let target = reqwest::Url::parse(url)
                .with_context(|| format!("HERALD_COMMAND_BOT_WEBHOOK_URL {url:?} is not a URL"))?;
            bot.set_webhook(target)
                .secret_token(secret.expose_secret().to_string())
                .max_connections(WEBHOOK_CONNECTIONS)
                .allowed_updates(handler::ALLOWED_UPDATES)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "registering the webhook with Telegram (setWebhook): {}",
                        herald_telegram::classify(e, &token)
                    )
                })?;
            let path = webhook::path(url);
            let (updates, route) = webhook::listener(&path, secret);
            router = router.merge(route);
            tracing::info!(%addr, %path, "command-bot taking updates by webhook");
            Some(updates)
        }
        None => None,
    };
    tracing::info!(%addr, "command-bot health and metrics listening");
    let stop = shutdown.child_token();
    let ops = tokio::spawn(serve(listener, router, stop.clone()));
    let beats = herald_store::heartbeats::spawn(
        store.clone(),
        herald_store::heartbeats::COMMAND_BOT,
        stop.clone(),
    );

    let mut dispatcher = Dispatcher::builder(bot.clone(), handler::schema())
        .dependencies(dptree::deps![store, sender.clone(), bot_name])
        .error_handler(handler::Redactor::new(&token).error_handler())
        .build();

    if shutdown.is_cancelled() {
        stop.cancel();
        let _ = ops.await;
        let _ = beats.await;
        return Ok(());
    }
    let dispatching = CancellationToken::new();
    tokio::spawn(stop_dispatcher_on(
        shutdown.clone(),
        dispatcher.shutdown_token(),
        dispatching.clone(),
    ));
    let listener_errors = Arc::new(handler::Redactor::new(&token));
    let result = match webhook {
        Some(updates) => {
            let gated = ratelimit::Gated::new(updates, limiter, sender);
            dispatcher
                .try_dispatch_with_listener(gated, listener_errors)
                .await
        }
        None => {
            let polling = teloxide::update_listeners::Polling::builder(bot)
                .timeout(POLL_TIMEOUT)
                .allowed_updates(handler::ALLOWED_UPDATES.to_vec())
                .delete_webhook()
                .await
                .build();
            tracing::info!("command-bot polling for updates");
            let gated = ratelimit::Gated::new(polling, limiter, sender);
            dispatcher
                .try_dispatch_with_listener(gated, listener_errors)
                .await
        }
    };
    dispatching.cancel();
    stop.cancel();
    if own_budget {
        budget.close().await;
    }
    ops.await??;
    let _ = beats.await;
    result.map_err(|e| {
        anyhow::anyhow!(
            "starting the bot (getMe): {}",
            herald_telegram::classify(e, &token)
        )
    })?;
    Ok(())
}

/// Registers the command menu (`setMyCommands`) from [`COMMANDS`]: in English for every
/// trader, and in each other language for traders whose Telegram speaks it.
async fn register_commands(bot: &Bot, token: &str) -> anyhow::Result<()> {
    use herald_domain::Language;
    use teloxide::types::BotCommand;
    let menu = |lang: Language| -> Vec<BotCommand> {
        COMMANDS
            .iter()
            .map(|c| BotCommand::new(c.name, c.command.description(lang)))
            .collect()
    };
    let failed = |e| {
        anyhow::anyhow!(
            "registering commands with Telegram (setMyCommands): {}",
            herald_telegram::classify(e, token)
        )
    };
    bot.set_my_commands(menu(Language::En))
        .await
        .map_err(failed)?;
    for lang in Language::ALL {
        if lang != Language::En {
            bot.set_my_commands(menu(lang))
                .language_code(lang.code())
                .await
                .map_err(failed)?;
        }
    }
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
