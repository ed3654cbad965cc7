//! `herald deliveries status|retry`: an operator watching one signal's broadcast and
//! re-driving the deliveries that did not make it.
//!
//! - `status.rs`: the signal, its fan-out and its deliveries by state; `--watch` follows it
//!   to the end with a progress bar (plain lines when stdout is not a terminal).
//! - `retry.rs`: failed or expired deliveries back in the queue, with a fresh attempt
//!   budget and a new deadline, and the dispatchers nudged.
//! - `rules.rs`, `progress.rs`, `format.rs`: what may be retried and with which deadline,
//!   the rate and time-to-completion arithmetic, how numbers are written — all pure.

mod format;
mod progress;
mod retry;
mod rules;
mod status;

use anyhow::Context as _;
use clap::Subcommand;
use herald_domain::{Signal, SignalId};
use herald_runtime::Settings;
use herald_store::{Fanout, Store, redact_url};

/// Also read by `herald tiers set` for `--delay` and `--expiry`.
pub(crate) use rules::parse_duration;

/// What to do with a signal's deliveries.
#[derive(Subcommand)]
pub enum Action {
    /// Show a signal's fan-out and its deliveries by state; `--watch` follows them until
    /// every one is final.
    Status(status::Args),
    /// Put a signal's failed (or expired) deliveries back in the queue, due now, with a
    /// fresh attempt budget and a new deadline.
    Retry(retry::Args),
}

/// Runs a deliveries command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    // No migration: an operator's look at production must not change its schema.
    let store = Store::connect(&settings.database_url)
        .await
        .with_context(|| {
            format!(
                "opening the database {}",
                redact_url(&settings.database_url)
            )
        })?;
    match action {
        Action::Status(args) => status::run(&store, args).await,
        Action::Retry(args) => retry::run(settings, &store, args).await,
    }
}

/// A stored signal and where its fan-out stands.
struct Stored {
    signal: Signal,
    fanout: Fanout,
}

impl Stored {
    /// `BUY BTC/USD 1H`.
    fn title(&self) -> String {
        let s = &self.signal;
        let mut title = format!("{} {}", s.kind.as_str().to_uppercase(), s.asset.as_str());
        if let Some(tf) = s.timeframe {
            title.push_str(&format!(" {tf}"));
        }
        title
    }
}

/// The signal `id`, or an error saying there is none.
async fn load(store: &Store, id: SignalId) -> anyhow::Result<Stored> {
    let signal = store.signal(id).await.context("reading the signal")?;
    let fanout = store.fanout(id).await.context("reading the fan-out")?;
    match (signal, fanout) {
        (Some(signal), Some(fanout)) => Ok(Stored { signal, fanout }),
        _ => {
            anyhow::bail!("no signal {id}: Herald never received it, or it is in another database")
        }
    }
}
