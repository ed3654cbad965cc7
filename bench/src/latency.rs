//! End-to-end latency at light load: from the start of `POST /api/signals` to the Telegram
//! double accepting the `sendMessage`, through ingest-api, JetStream, the dispatcher's
//! fan-out, the delivery job and the send.

use std::time::{Duration, SystemTime};

use herald_testkit::telegram::TestUser;

use crate::ingest::backend;
use crate::quantile;
use crate::stack::{Services, Stack, post_signal};

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Signals to send, one at a time.
    #[arg(long, default_value_t = 60)]
    pub signals: usize,
    /// Pause between signals, in milliseconds. Light load, and above the dispatcher's
    /// one-message-per-second-per-chat spacing (Telegram's rule), which would otherwise show
    /// up as latency for the single benchmark trader.
    #[arg(long, default_value_t = 1050)]
    pub gap_ms: u64,
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub db: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            signals: 60,
            gap_ms: 1050,
            db: "postgres".into(),
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let stack = Stack::start(
        backend(&args.db)?,
        Services {
            ingest: true,
            dispatcher: true,
            command_bot: true,
        },
        |s| s.telegram_rate_limit = 0,
    )
    .await?;
    let trader = TestUser::trader(9001);
    for (i, cmd) in ["/start", "/subscribe"].into_iter().enumerate() {
        stack.telegram.inject_message(&trader, cmd);
        stack
            .telegram
            .wait_for_messages(trader.id, i + 1, Duration::from_secs(30))
            .await?;
    }
    let key = stack.api_key().await?;
    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(args.signals);
    // The first few signals open the database pool's connections and warm caches; they are
    // sent but not counted.
    const WARM_UP: usize = 5;
    for i in 0..args.signals + WARM_UP {
        let posted_at = SystemTime::now();
        post_signal(&client, &stack.ingest_url, &key).await?;
        let got = stack
            .telegram
            .wait_for_messages(trader.id, 2 + i + 1, Duration::from_secs(30))
            .await?;
        let at = got[2 + i].at;
        if i < WARM_UP {
            tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
            continue;
        }
        latencies.push(
            at.duration_since(posted_at)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0,
        );
        tokio::time::sleep(Duration::from_millis(args.gap_ms)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "end-to-end ({}): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} signals (target p50 <= 5 ms, p99 <= 20 ms)",
        args.db,
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.9),
        quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    stack.stop().await
}
