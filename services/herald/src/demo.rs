//! `herald demo`: the whole signal path on one machine, in a minute, with nothing to set up
//! but a NATS server.
//!
//! It runs every service on embedded defaults (a fresh SQLite file, a private NATS prefix),
//! with a Telegram Bot API double in-process instead of Telegram; a demo trader says /start and
//! /subscribe, the "Signal Engine" posts a signal to ingest-api, and the terminal shows what
//! the trader receives. Everything it created is removed at the end.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use herald_runtime::Settings;
use herald_testkit::telegram::{TelegramDouble, TestUser};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::all::{Listeners, run_with};

/// Options of `herald demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Keep Herald running after the demo (Ctrl-C stops it), to post more signals by hand.
    #[arg(long)]
    keep_running: bool,
}

const DEMO_TOKEN: &str = "123456:herald-demo";
const WAIT: Duration = Duration::from_secs(20);

/// Runs the demo.
pub async fn run(mut settings: Settings, args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let double = TelegramDouble::start(DEMO_TOKEN).await?;
    settings.database_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("herald.db").display()
    );
    settings.nats_prefix = format!("demo_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    settings.telegram_token = Some(SecretString::from(DEMO_TOKEN));
    settings.telegram_api_url = double.api_url();
    let loopback = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let port = |addr: std::net::SocketAddr| if args.keep_running { addr.port() } else { 0 };
    settings.ingest_addr = loopback(port(settings.ingest_addr));
    settings.admin_addr = loopback(port(settings.admin_addr));
    settings.ingest_ops_addr = loopback(port(settings.ingest_ops_addr));
    settings.admin_ops_addr = loopback(port(settings.admin_ops_addr));
    settings.dispatcher_addr = loopback(port(settings.dispatcher_addr));
    settings.command_bot_addr = loopback(port(settings.command_bot_addr));
    if settings.log == "info" {
        settings.log = "warn".into();
    }
    herald_runtime::telemetry::init(&settings)?;

    let listeners = Listeners::bind(&settings).await?;
    let ingest_url = format!("http://{}", listeners.ingest.local_addr()?);
    println!("Herald demo");
    println!("  database   {}", settings.database_url);
    println!(
        "  nats       {} (prefix {})",
        herald_bus::redact_url(&settings.nats_url),
        settings.nats_prefix
    );
    println!("  telegram   Bot API double at {}", double.api_url());
    println!("  ingest-api {ingest_url}");
    println!();

    let shutdown = CancellationToken::new();
    let services = tokio::spawn(run_with(settings.clone(), listeners, shutdown.clone()));
    let result = script(&settings, &double, &ingest_url).await;
    if let (Ok(key), true) = (&result, args.keep_running) {
        println!("\nHerald keeps running; Ctrl-C stops it. Post your own signals with:");
        println!(
            "    curl -sS {ingest_url}/api/signals -H 'X-API-Key: {key}' -H 'content-type: application/json' -d @signal.json"
        );
        println!(
            "and the demo trader's messages appear at {}/_double/sent",
            double.api_url()
        );
        herald_runtime::shutdown_on_signals().cancelled().await;
    }
    shutdown.cancel();
    let stopped = services.await;
    cleanup(&settings).await;
    result?;
    stopped.context("the services panicked")??;
    drop(dir);
    Ok(())
}

/// Plays the demo; returns the API key it created.
async fn script(
    settings: &Settings,
    double: &TelegramDouble,
    ingest_url: &str,
) -> anyhow::Result<String> {
    let trader = TestUser {
        id: 424_242,
        username: Some("ada".into()),
        first_name: "Ada".into(),
        last_name: Some("Lovelace".into()),
        language_code: Some("en".into()),
    };
    let mut seen = 0;
    for command in ["/start", "/subscribe"] {
        println!("[trader → bot] {command}");
        double.inject_message(&trader, command);
        seen += 1;
        let replies = double
            .wait_for_messages(trader.id, seen, WAIT)
            .await
            .context("the command-bot did not answer")?;
        let reply = &replies[seen - 1];
        print_message("bot → trader", reply);
        if command == "/start" {
            // Onboarding: the trader taps their time zone.
            let press = double
                .press_button(&trader, reply, "London")
                .context("the welcome offers time zones")?;
            println!("[trader taps] London");
            double
                .wait_for_callback_answer(&press.query_id, WAIT)
                .await
                .context("the command-bot did not take the press")?;
            seen += 1;
            let replies = double
                .wait_for_messages(trader.id, seen, WAIT)
                .await
                .context("the command-bot did not confirm the time zone")?;
            print_message("bot → trader", &replies[seen - 1]);
        }
    }

    let store = herald_store::Store::connect(&settings.database_url).await?;
    let key = crate::api_key::create(&store, "demo-engine").await?;
    let signal = serde_json::json!({
        "kind": "buy",
        "asset": "BTC/USD",
        "entry_price": "45250",
        "target_price": "46500",
        "stop_loss": "44500",
        "timeframe": "1H",
        "confidence": 85,
        "generated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "source_model": "demo-momentum",
        "notes": [
            "Strong bullish momentum detected",
            "Breaking above key resistance level",
            "Increasing volume supporting the move"
        ]
    });
    println!("\n[engine → ingest-api] POST /api/signals");
    println!("{}", indent(&serde_json::to_string_pretty(&signal)?));
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{ingest_url}/api/signals"))
        .header("X-API-Key", &key)
        .json(&signal)
        .send()
        .await
        .context("posting the demo signal")?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    println!("[ingest-api → engine] {status} {body}");
    anyhow::ensure!(
        status.as_u16() == 202,
        "ingest-api did not accept the demo signal"
    );

    seen += 1;
    let messages = double
        .wait_for_messages(trader.id, seen, WAIT)
        .await
        .context("the signal did not reach the trader")?;
    println!();
    print_message(
        &format!(
            "bot → trader, {} ms after the POST{}",
            started.elapsed().as_millis(),
            if started.elapsed() > std::time::Duration::from_millis(500) {
                " (at most one message a second to a chat, Telegram's rule: the answer to /subscribe went just before)"
            } else {
                ""
            }
        ),
        &messages[seen - 1],
    );
    // The trader says they have read it.
    if let Some(press) = double.press_button(&trader, &messages[seen - 1], "✅ Got it") {
        println!("[trader taps] ✅ Got it");
        if let Some(answer) = double.wait_for_callback_answer(&press.query_id, WAIT).await {
            println!("[bot → trader] {}", answer.text.unwrap_or_default());
        }
    }
    println!(
        "\nThe signal reached the trader. `scripts/demo --keep-running` keeps Herald up to try more."
    );
    Ok(key)
}

/// A message as the trader sees it: its text, and its buttons row by row.
fn print_message(who: &str, message: &herald_testkit::telegram::SentMessage) {
    let silent = if message.disable_notification {
        ", silent"
    } else {
        ""
    };
    println!("[{who}{silent}]");
    println!("{}", indent(&message.text));
    let rows = message
        .reply_markup
        .as_ref()
        .and_then(|m| m.get("inline_keyboard"))
        .and_then(|k| k.as_array());
    for row in rows.into_iter().flatten() {
        let labels: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
            .map(|t| format!("[ {t} ]"))
            .collect();
        println!("    {}", labels.join(" "));
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn cleanup(settings: &Settings) {
    let nats = herald_bus::NatsOptions::new(
        &settings.nats_url,
        settings.nats_creds.as_ref(),
        settings.nats_nkey_seed.as_ref(),
    );
    if let Ok(client) = herald_bus::connect::client(&nats).await {
        let js = async_nats::jetstream::new(client);
        herald_bus::streams::delete_streams(&js, &herald_bus::Subjects::new(&settings.nats_prefix))
            .await;
    }
}
