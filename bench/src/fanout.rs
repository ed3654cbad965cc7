//! Fan-out: one signal to many subscribers, a durable record for every delivery, against a
//! Telegram double that answers at once and enforces no limit.

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::ingest::backend;
use crate::stack::{Services, Stack, post_signal};

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Subscribers.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: i64,
    /// Sends in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub db: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            subscribers: 10_000,
            concurrency: 256,
            db: "postgres".into(),
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let concurrency = args.concurrency;
    let stack = Stack::start(
        backend(&args.db)?,
        Services {
            ingest: true,
            dispatcher: true,
            command_bot: false,
        },
        |s| {
            s.telegram_rate_limit = 0;
            s.dispatcher_concurrency = concurrency;
        },
    )
    .await?;
    let calibration = teloxide_alone(&stack, args.subscribers.min(10_000) as usize).await?;
    let store = herald_store::Store::connect(&stack.settings.database_url).await?;
    let seeding = Instant::now();
    let now = Utc::now();
    crate::seed::traders(&store, 10_000_000, args.subscribers, now).await?;
    eprintln!(
        "seeded {} subscribers in {:.1?}",
        args.subscribers,
        seeding.elapsed()
    );

    let key = stack.api_key().await?;
    let started = Instant::now();
    post_signal(&reqwest::Client::new(), &stack.ingest_url, &key).await?;
    let total = args.subscribers as usize;
    let already = stack.telegram.request_count("sendMessage");
    let Progress {
        first,
        all_sent,
        recorded,
    } = watch(&stack.telegram, &store, already, total, started).await?;
    println!(
        "fan-out calibration: teloxide alone, 64 in flight, no records, same double and process: {calibration:.0} msg/s"
    );
    println!(
        "fan-out ({}, {} subscribers, concurrency {}): first message after {:.0} ms; all sent in {:.2} s = {:.0} msg/s; all recorded sent in {:.2} s = {:.0} msg/s (target >= 20k msg/s)",
        args.db,
        total,
        args.concurrency,
        first.as_secs_f64() * 1000.0,
        all_sent.as_secs_f64(),
        total as f64 / all_sent.as_secs_f64(),
        recorded.as_secs_f64(),
        total as f64 / recorded.as_secs_f64(),
    );
    stack.stop().await
}

/// How far a fan-out of `total` messages, started at `started`, got: when the double saw its
/// first `sendMessage` (counted beyond `already`), its last, and when every delivery was
/// recorded `sent`.
pub struct Progress {
    pub first: Duration,
    pub all_sent: Duration,
    pub recorded: Duration,
}

/// Watches a fan-out to its end (at most 30 minutes).
pub async fn watch(
    telegram: &herald_testkit::telegram::TelegramDouble,
    store: &herald_store::Store,
    already: usize,
    total: usize,
    started: Instant,
) -> anyhow::Result<Progress> {
    let deadline = started + Duration::from_secs(1800);
    let mut first = None;
    loop {
        let n = telegram.request_count("sendMessage") - already;
        if n > 0 && first.is_none() {
            first = Some(started.elapsed());
        }
        if n >= total {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {n} of {total} sent after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all_sent = started.elapsed();
    let recorded = loop {
        let counts = store.delivery_counts().await?;
        if counts.get(herald_domain::DeliveryStatus::Sent) as usize >= total {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Ok(Progress {
        first: first.unwrap_or_default(),
        all_sent,
        recorded,
    })
}

/// The ceiling of this harness: the same double, in the same process, driven by teloxide with
/// 64 sends in flight and nothing else (no bus, no database) — TARGETS.md's "teloxide alone".
async fn teloxide_alone(stack: &Stack, messages: usize) -> anyhow::Result<f64> {
    use futures::StreamExt;
    use herald_telegram::teloxide::prelude::*;
    use herald_telegram::teloxide::types::ParseMode;
    let bot = herald_telegram::bot(crate::stack::TOKEN, &stack.telegram.api_url())?;
    let text = "🚨 TRADING SIGNAL: BUY BTC/USD 🚨\n\n📊 Signal Details:\n- Entry Price: $45,250";
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..messages)
        .map(|i| {
            let bot = bot.clone();
            async move {
                bot.send_message(ChatId(20_000_000 + i as i64), text)
                    .parse_mode(ParseMode::Html)
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let elapsed = started.elapsed();
    anyhow::ensure!(results.iter().all(|r| r.is_ok()), "teloxide sends failed");
    Ok(messages as f64 / elapsed.as_secs_f64())
}
