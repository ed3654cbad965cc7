//! `herald deliveries status --signal ID [--watch]`.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_domain::{DeliveryStatus, SignalId};
use herald_store::{DeliveryCounts, Fanout, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::MissedTickBehavior;

use super::format::{human, instant, relative, thousands};
use super::progress::{Eta, Progress, WINDOW};
use super::rules::{parse_duration, parse_signal_id};
use super::{Stored, load};

/// `deliveries status`.
#[derive(clap::Args)]
pub struct Args {
    /// The signal's id.
    #[arg(long, value_parser = parse_signal_id)]
    signal: SignalId,
    /// Follow the broadcast until every delivery is final (or Ctrl-C): a progress bar with
    /// the rate and the time to completion on a terminal, one plain line per interval when
    /// stdout is not a terminal.
    #[arg(long)]
    watch: bool,
    /// How often `--watch` looks, e.g. `1s`, `500ms`, `10s`.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
}

/// Prints the signal and its deliveries by state, then follows them with `--watch`.
pub async fn run(store: &Store, args: Args) -> anyhow::Result<()> {
    let stored = load(store, args.signal).await?;
    let counts = store.signal_delivery_counts(args.signal).await?;
    print!("{}", report(&stored, &counts));
    if args.watch {
        println!();
        watch(store, args.signal, args.interval).await?;
    }
    Ok(())
}

/// The signal, its fan-out and its deliveries by state, one fact per line.
fn report(stored: &Stored, counts: &DeliveryCounts) -> String {
    let now = Utc::now();
    let s = &stored.signal;
    let f = &stored.fanout;
    let mut out = format!(
        "signal      {}  {}, confidence {}\n",
        s.id,
        stored.title(),
        s.confidence.get()
    );
    out += &format!("generated   {}\n", instant(s.generated_at));
    out += &format!("received    {}\n", instant(f.received_at));
    out += &match f.deadline {
        Some(d) => format!("deadline    {} ({})\n", instant(d), relative(d, now)),
        None => "deadline    none recorded\n".to_string(),
    };
    out += &format!("fan-out     {}\n", fanout_text(f, counts));
    out += &format!("deliveries  {}\n", thousands(counts.total()));
    for (status, n) in counts.iter() {
        out += &format!("  {:<9} {:>13}\n", status.as_str(), thousands(n));
    }
    out
}

fn fanout_text(f: &Fanout, counts: &DeliveryCounts) -> String {
    if f.done {
        "done: every recipient has a delivery".to_string()
    } else {
        format!(
            "in progress: {} recipients recorded so far, more to come",
            thousands(counts.total())
        )
    }
}

/// Deliveries that are finished: sent, failed, blocked or expired.
fn finished(counts: &DeliveryCounts) -> u64 {
    counts
        .iter()
        .filter(|(s, _)| s.is_final())
        .map(|(_, n)| n)
        .sum()
}

/// `sent 1,234 · 29.8/s · ETA 4m 05s` (and a note while the fan-out is still running).
fn progress_text(
    counts: &DeliveryCounts,
    fanout_done: bool,
    rate: Option<f64>,
    eta: Eta,
) -> String {
    let rate = rate.map_or("?/s".to_string(), |r| format!("{r:.1}/s"));
    let eta = match eta {
        Eta::Done => "done".to_string(),
        Eta::Unknown => "ETA unknown".to_string(),
        Eta::In(d) => format!("ETA {}", human(d)),
    };
    let mut text = format!("sent {} · {rate} · {eta}", thousands(counts.sent));
    if !fanout_done {
        text += " · fan-out still running";
    }
    text
}

/// One plain progress line: `final 1,300/10,000 (13.0%) · sent 1,234 · 29.8/s · ETA 4m 05s`.
fn progress_line(
    counts: &DeliveryCounts,
    fanout_done: bool,
    rate: Option<f64>,
    eta: Eta,
) -> String {
    let (done, total) = (finished(counts), counts.total());
    let percent = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    format!(
        "final {}/{} ({percent:.1}%) · {}",
        thousands(done),
        thousands(total),
        progress_text(counts, fanout_done, rate, eta)
    )
}

/// Follows the deliveries every `interval` until the fan-out is done and every delivery is
/// final, or Ctrl-C. A failed read is reported and tried again: a long watch outlives a
/// database blip.
async fn watch(store: &Store, id: SignalId, interval: Duration) -> anyhow::Result<()> {
    let terminal = std::io::stdout().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let started = Instant::now();
    let mut progress = Progress::new(WINDOW);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                println!("stopped watching; the broadcast goes on");
                return Ok(());
            }
            _ = ticks.tick() => {}
        }
        let (counts, fanout) = match read(store, id).await {
            Ok(read) => read,
            Err(e) => {
                eprintln!("could not read the deliveries ({e:#}); trying again");
                continue;
            }
        };
        let done = finished(&counts);
        let open = counts.total().saturating_sub(done);
        progress.record(started.elapsed(), done);
        let (rate, eta) = (progress.rate(), progress.eta(open));
        if terminal && bar.is_none() {
            bar = Some(progress_bar());
        }
        match &bar {
            Some(bar) => {
                bar.set_length(counts.total());
                bar.set_position(done);
                bar.set_message(progress_text(&counts, fanout.done, rate, eta));
                if bar.is_hidden() {
                    bar.set_draw_target(ProgressDrawTarget::stdout());
                }
            }
            None => println!(
                "{} {}",
                instant(Utc::now()),
                progress_line(&counts, fanout.done, rate, eta)
            ),
        }
        if fanout.done && open == 0 {
            if let Some(bar) = &bar {
                bar.finish();
            }
            println!("{}", summary(id, &counts));
            return Ok(());
        }
    }
}

/// The bar on a terminal: it takes the terminal's width, whatever the message's length.
/// Hidden until its first figures are set, so it never shows made-up ones.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("[{wide_bar}] {human_pos}/{human_len} final · {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

async fn read(store: &Store, id: SignalId) -> anyhow::Result<(DeliveryCounts, Fanout)> {
    let counts = store.signal_delivery_counts(id).await?;
    let fanout = store
        .fanout(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("signal {id} is gone"))?;
    Ok((counts, fanout))
}

/// `every delivery of signal … is final: 9,950 sent, 20 failed, …` and what to do next.
fn summary(id: SignalId, counts: &DeliveryCounts) -> String {
    let finals = [
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Blocked,
        DeliveryStatus::Expired,
    ]
    .map(|s| format!("{} {s}", thousands(counts.get(s))))
    .join(", ");
    let mut out = format!("every delivery of signal {id} is final: {finals}");
    if counts.failed > 0 {
        out += &format!("\nto send the failed ones again: herald deliveries retry --signal {id}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> DeliveryCounts {
        DeliveryCounts {
            pending: 8_000,
            sending: 64,
            unknown: 1,
            sent: 1_900,
            failed: 20,
            blocked: 10,
            expired: 5,
            skipped: 0,
        }
    }

    #[test]
    fn progress_lines() {
        let c = counts();
        assert_eq!(finished(&c), 1_935);
        let eta = Eta::In(Duration::from_secs(245));
        assert_eq!(
            progress_line(&c, true, Some(29.84), eta),
            "final 1,935/10,000 (19.4%) · sent 1,900 · 29.8/s · ETA 4m 05s"
        );
        assert_eq!(
            progress_line(&c, false, None, Eta::Unknown),
            "final 1,935/10,000 (19.4%) · sent 1,900 · ?/s · ETA unknown · fan-out still running"
        );
        let none = DeliveryCounts::default();
        assert_eq!(
            progress_line(&none, true, None, Eta::Done),
            "final 0/0 (100.0%) · sent 0 · ?/s · done"
        );
    }

    #[test]
    fn the_summary_points_at_retry_when_some_failed() {
        let id = SignalId(uuid::Uuid::nil());
        let s = summary(id, &counts());
        assert!(
            s.contains("1,900 sent, 20 failed, 10 blocked, 5 expired"),
            "{s}"
        );
        assert!(
            s.contains("herald deliveries retry --signal 00000000-"),
            "{s}"
        );
        let all_sent = DeliveryCounts {
            sent: 3,
            ..DeliveryCounts::default()
        };
        assert!(!summary(id, &all_sent).contains("retry"));
    }
}
