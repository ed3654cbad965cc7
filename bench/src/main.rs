//! `herald-bench`: measures Herald against the targets in `TARGETS.md` and prints one line per
//! result for `docs/benchmarks.md`. Run it on a release build:
//!
//! ```sh
//! cargo run --release -p herald-bench -- all
//! ```
//!
//! Every run uses its own NATS prefix and database and removes them afterwards. Load is
//! generated in this process on loopback, and every loop is bounded in count and time.

mod budget;
mod commands;
mod external;
mod fanout;
mod fanout_bin;
mod ingest;
mod latency;
mod seed;
mod select;
mod stack;
mod writes;

use clap::{Parser, Subcommand};

/// Herald's benchmarks.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// `POST /api/signals` throughput and latency, beside a bare publish-and-ack handler.
    Ingest(ingest::Args),
    /// `POST /api/signals` from outside: wrk against the real `herald-ingest-api` binary and the
    /// bare handler.
    Wrk(external::Args),
    /// POST → `sendMessage` at the Telegram double, at light load.
    Latency(latency::Args),
    /// One signal to many subscribers, against a double that answers at once.
    Fanout(fanout::Args),
    /// One signal to many subscribers from outside: 1 or more `herald-dispatcher` binaries,
    /// with their idle and peak memory.
    FanoutBin(fanout_bin::Args),
    /// The dispatcher's batched writes alone, by batch size.
    Writes(writes::Args),
    /// Recipient selection page by page at a million traders.
    Select(select::Args),
    /// The shared Telegram budget: slots/s of one pacer, its round trip, and paced
    /// broadcasts from 1 and 3 processes against the double enforcing the limits.
    Budget(budget::Args),
    /// Command handling from outside: traders send /start then /subscribe (and with
    /// `--presses` open /settings and press a button) to the real `herald-command-bot`, or
    /// with `--baseline` to a bare teloxide bot.
    Commands(commands::Args),
    /// All three with their default sizes.
    All,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench {
        Bench::Ingest(args) => ingest::run(args).await,
        Bench::Wrk(args) => external::run(args).await,
        Bench::Latency(args) => latency::run(args).await,
        Bench::Fanout(args) => fanout::run(args).await,
        Bench::FanoutBin(args) => fanout_bin::run(args).await,
        Bench::Writes(args) => writes::run(args).await,
        Bench::Select(args) => select::run(args).await,
        Bench::Budget(args) => budget::run(args).await,
        Bench::Commands(args) => commands::run(args).await,
        Bench::All => {
            ingest::run(ingest::Args::default()).await?;
            latency::run(latency::Args::default()).await?;
            fanout::run(fanout::Args::default()).await
        }
    }
}

/// The value at quantile `q` (0–1) of sorted `samples`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}
