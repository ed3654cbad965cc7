//! The shared Telegram budget: how many slots one pacer hands out, what a slot costs a
//! sender, and paced broadcasts from 1 and 3 processes against the Bot API double enforcing
//! Telegram's limits (budget used, 429s, the busiest second).
//!
//! Each "process" is a `SharedBudget` on its own NATS connection with its own `Sender`, as a
//! dispatcher replica would have; all run in this process, on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herald_bus::Subjects;
use herald_bus::budget::{BudgetConfig, SharedBudget};
use herald_telegram::{Budget, LimiterConfig, Priority, Sender};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{Limits, TelegramDouble};
use tokio::task::JoinSet;

use crate::quantile;

const TOKEN: &str = "8888:budget-bench";

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// The budget, in messages per second (Telegram: 30; 1000 with paid broadcasts).
    #[arg(long, default_value_t = 30)]
    pub rate: u32,
    /// Messages per paced run (to distinct chats).
    #[arg(long, default_value_t = 600)]
    pub messages: usize,
    /// The limiter's guard against jitter, in milliseconds (default: the library's).
    #[arg(long)]
    pub guard_ms: Option<u64>,
    /// Sends in flight per process (a dispatcher's HERALD_DISPATCHER_CONCURRENCY).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds of the unpaced slot-throughput run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            rate: 30,
            messages: 600,
            guard_ms: None,
            concurrency: 64,
            seconds: 5,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    throughput(&args).await?;
    round_trip().await?;
    for processes in [1, 3] {
        paced(&args, processes).await?;
    }
    Ok(())
}

/// `n` budgets on their own connections, sharing the installation `nats`.
async fn budgets(
    nats: &TestNats,
    n: usize,
    config: BudgetConfig,
) -> anyhow::Result<Vec<SharedBudget>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            SharedBudget::start(nats.client().await?, &Subjects::new(&nats.prefix), config).await?,
        );
    }
    Ok(out)
}

/// Slots per second one pacer hands out with no limit, to 3 processes.
async fn throughput(args: &Args) -> anyhow::Result<()> {
    let nats = TestNats::new();
    let all = budgets(&nats, 3, BudgetConfig::new(LimiterConfig::unlimited())).await?;
    all[0].acquire(1, Priority::Bulk).await; // elect
    let granted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = JoinSet::new();
    for budget in &all {
        for worker in 0..args.concurrency {
            let budget = budget.clone();
            let granted = granted.clone();
            tasks.spawn(async move {
                let mut chat = worker as i64 * 1_000_000;
                while Instant::now() < deadline {
                    budget.acquire(chat, Priority::Bulk).await;
                    granted.fetch_add(1, Ordering::Relaxed);
                    chat += 1;
                }
            });
        }
    }
    while tasks.join_next().await.is_some() {}
    let n = granted.load(Ordering::Relaxed);
    println!(
        "budget slots: {:.0} slots/s from one pacer to 3 processes × {} in flight (no limit, {} s)",
        n as f64 / args.seconds as f64,
        args.concurrency,
        args.seconds
    );
    for b in &all {
        b.close().await;
    }
    nats.cleanup().await
}

/// What one slot costs a sender when nothing else waits: the request/reply round trip.
async fn round_trip() -> anyhow::Result<()> {
    let nats = TestNats::new();
    let all = budgets(&nats, 2, BudgetConfig::new(LimiterConfig::unlimited())).await?;
    all[0].acquire(1, Priority::Bulk).await; // the first process paces
    let mut samples = Vec::new();
    for (who, budget) in [
        ("pacer's own process", &all[0]),
        ("another process", &all[1]),
    ] {
        samples.clear();
        for chat in 0..2000 {
            let started = Instant::now();
            budget.acquire(chat, Priority::Bulk).await;
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
        samples.sort_by(f64::total_cmp);
        println!(
            "budget round trip ({who}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (2000 sequential slots)",
            quantile(&samples, 0.5),
            quantile(&samples, 0.99),
            samples.last().copied().unwrap_or_default()
        );
    }
    for b in &all {
        b.close().await;
    }
    nats.cleanup().await
}

/// `args.messages` to distinct chats from `processes` processes at `args.rate`, against the
/// double enforcing that rate and 1/s per chat.
async fn paced(args: &Args, processes: usize) -> anyhow::Result<()> {
    let nats = TestNats::new();
    let double = TelegramDouble::start(TOKEN).await?;
    double.enforce_limits(Limits {
        per_second: args.rate,
        per_chat_per_second: 1,
    });
    let mut limits = LimiterConfig::with_rate(args.rate);
    if let Some(guard) = args.guard_ms {
        limits.guard = Duration::from_millis(guard);
    }
    let all = budgets(&nats, processes, BudgetConfig::new(limits)).await?;
    let senders: Vec<Sender> = all
        .iter()
        .map(|b| {
            let bot = herald_telegram::bot(TOKEN, &double.api_url())?;
            Ok(Sender::new(bot, Arc::new(b.clone())).with_paid_broadcast(args.rate > 30))
        })
        .collect::<anyhow::Result<_>>()?;
    // Warm up (elect, connect), then let the warm-up sends leave the window.
    for (p, sender) in senders.iter().enumerate() {
        sender
            .send_html(-(p as i64) - 1, "warm", Priority::Bulk)
            .await
            .ok();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let warm = double.sent().len();

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let semaphores: Vec<_> = (0..processes)
        .map(|_| Arc::new(tokio::sync::Semaphore::new(args.concurrency)))
        .collect();
    for i in 0..args.messages {
        let p = i % processes;
        let sender = senders[p].clone();
        let permit = semaphores[p].clone().acquire_owned().await?;
        tasks.spawn(async move {
            let result = sender
                .send_html(1_000 + i as i64, "signal", Priority::Bulk)
                .await;
            drop(permit);
            result.is_ok()
        });
    }
    let mut failed = 0;
    while let Some(ok) = tasks.join_next().await {
        failed += usize::from(!ok?);
    }
    let elapsed = started.elapsed();
    let delivered = double.sent().len() - warm;
    let ideal = args.messages as f64 / f64::from(args.rate);
    println!(
        "budget paced: {processes} process(es), {} msgs at {}/s (guard {} ms): {:.2} s (ideal {:.2} s), \
         budget used {:.1} %, delivered {delivered}, failed {failed}, 429s {}, busiest second {}",
        args.messages,
        args.rate,
        limits.guard.as_millis(),
        elapsed.as_secs_f64(),
        ideal,
        100.0 * ideal / elapsed.as_secs_f64(),
        double.too_many_requests_count(),
        double.max_accepted_in(Duration::from_secs(1)),
    );
    for b in &all {
        b.close().await;
    }
    nats.cleanup().await
}
