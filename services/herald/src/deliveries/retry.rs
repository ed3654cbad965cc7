//! `herald deliveries retry --signal ID [--status failed|expired] [--until T | --for D]`.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use herald_bus::Subjects;
use herald_domain::{DeliveryStatus, SignalId};
use herald_runtime::Settings;
use herald_store::Store;

use super::format::{count, instant, relative};
use super::load;
use super::rules::{
    DeadlineChoice, new_deadline, parse_duration, parse_instant, parse_retry_status,
    parse_signal_id,
};

/// How long the nudge may take to reach NATS before the command gives up on it.
const NUDGE_TIMEOUT: Duration = Duration::from_secs(3);

/// `deliveries retry`.
#[derive(clap::Args)]
pub struct Args {
    /// The signal's id.
    #[arg(long, value_parser = parse_signal_id)]
    signal: SignalId,
    /// Which deliveries: `failed` (the default), `expired`, or both (`failed,expired`).
    #[arg(
        long = "status",
        value_name = "STATUS",
        value_delimiter = ',',
        default_value = "failed",
        value_parser = parse_retry_status
    )]
    statuses: Vec<DeliveryStatus>,
    /// Their new deadline, an RFC 3339 instant (default: the signal's validity — one bar of
    /// its timeframe, or up to its valid_until — counted again from now, and never earlier
    /// than the signal's own deadline).
    #[arg(long, value_parser = parse_instant, conflicts_with = "for")]
    until: Option<DateTime<Utc>>,
    /// Their new deadline, this long from now, e.g. `30m`, `2h`.
    #[arg(long = "for", id = "for", value_name = "DURATION", value_parser = parse_duration)]
    for_duration: Option<Duration>,
    /// Also requeue failed deliveries that Telegram may have delivered already (a send of
    /// theirs ended without an answer): their traders may get the message twice.
    #[arg(long)]
    include_maybe_delivered: bool,
}

/// Requeues the deliveries, says what it did, and nudges the dispatchers.
pub async fn run(settings: &Settings, store: &Store, args: Args) -> anyhow::Result<()> {
    let id = args.signal;
    let stored = load(store, id).await?;
    let mut statuses = args.statuses;
    statuses.sort_by_key(|s| s.as_str());
    statuses.dedup();
    let now = Utc::now();
    let ttl = Duration::from_secs(settings.signal_ttl_secs);
    let signal_deadline = stored
        .fanout
        .deadline
        .unwrap_or_else(|| stored.signal.deadline(ttl));
    let choice = match (args.until, args.for_duration) {
        (Some(at), _) => DeadlineChoice::Until(at),
        (None, Some(d)) => DeadlineChoice::For(d),
        (None, None) => DeadlineChoice::Default,
    };
    let deadline = new_deadline(choice, stored.signal.generated_at, signal_deadline, now)
        .map_err(anyhow::Error::msg)?;
    let done = store
        .requeue(
            id,
            &statuses,
            Some(deadline.at),
            args.include_maybe_delivered,
            now,
        )
        .await
        .context("requeueing the deliveries")?;

    let which = statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ");
    let title = stored.title();
    if done.requeued == 0 {
        println!("nothing to requeue: signal {id} ({title}) has no {which} deliveries to send");
    } else {
        println!(
            "requeued {} of signal {id} ({title}); new deadline {} ({}: {})",
            count(
                done.requeued,
                &format!("{which} delivery"),
                &format!("{which} deliveries")
            ),
            instant(deadline.at),
            relative(deadline.at, now),
            deadline.reason
        );
    }
    if done.held_back > 0 {
        println!(
            "held back {}: a send of theirs ended without an answer from Telegram, so the trader \
             may have the message already; --include-maybe-delivered requeues them too",
            count(done.held_back, "delivery", "deliveries")
        );
    }
    if done.requeued > 0 {
        match nudge(settings).await {
            Ok(()) => eprintln!("nudged the dispatchers"),
            Err(e) => eprintln!(
                "could not nudge the dispatchers through NATS ({e}); the deliveries are queued \
                 all the same and the dispatchers pick them up within a second by polling"
            ),
        }
    }
    Ok(())
}

/// Wakes every dispatcher replica: the core NATS message `<prefix>.deliveries.v1.ready` the
/// replicas' own fan-outs send (`herald_bus::Bus::nudge_deliveries`), flushed before the
/// command exits. Connects without touching the streams.
async fn nudge(settings: &Settings) -> anyhow::Result<()> {
    let subject = Subjects::new(&settings.nats_prefix).deliveries_ready();
    let attempt = async {
        // With the installation's login (URL credentials, creds file or nkey), never printed.
        let client = herald_bus::connect(&herald_bus::NatsOptions::new(
            &settings.nats_url,
            settings.nats_creds.as_ref(),
            settings.nats_nkey_seed.as_ref(),
        ))
        .await?;
        client.publish(subject, "".into()).await?;
        client.flush().await?;
        anyhow::Ok(())
    };
    tokio::time::timeout(NUDGE_TIMEOUT * 2, attempt)
        .await
        .context("NATS did not answer")?
}
