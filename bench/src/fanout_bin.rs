//! Fan-out from outside: the real `herald-dispatcher` binary, 1 or more replicas as child
//! processes, one signal to many subscribers on PostgreSQL, against the Telegram double
//! (served by this process) answering at once and enforcing no limit.
//!
//! The signal goes straight onto NATS, as the engine may publish it; the clock starts at the
//! publish and stops when the double has received every `sendMessage`, then again when every
//! delivery is recorded `sent`. Each replica's peak RSS (`VmHWM`) is read from `/proc` at the
//! end, and its idle RSS before the signal. Needs `herald-dispatcher` built next to this
//! binary (`cargo build --release -p herald-dispatcher -p herald-bench`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::TelegramDouble;

use crate::stack::{TOKEN, signal_body};

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Subscribers.
    #[arg(long, default_value_t = 100_000)]
    pub subscribers: i64,
    /// Dispatcher replicas.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// `HERALD_DISPATCHER_CONCURRENCY` of each replica.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let telegram = TelegramDouble::start(TOKEN).await?;
    let store = herald_store::Store::open(db.url()).await?;
    let seeding = Instant::now();
    crate::seed::traders(&store, 10_000_000, args.subscribers, Utc::now()).await?;
    eprintln!(
        "seeded {} subscribers in {:.1?}",
        args.subscribers,
        seeding.elapsed()
    );

    let work = tempfile::tempdir()?;
    let binary = crate::external::sibling("herald-dispatcher")?;
    let mut replicas = Vec::new();
    for n in 0..args.replicas {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(work.path().join(format!("dispatcher-{n}.log")))?;
        let child = tokio::process::Command::new(&binary)
            .env("HERALD_DATABASE_URL", db.url())
            .env("HERALD_NATS_URL", &nats.url)
            .env("HERALD_NATS_PREFIX", &nats.prefix)
            .env("HERALD_DISPATCHER_ADDR", format!("127.0.0.1:{port}"))
            .env("HERALD_TELEGRAM_TOKEN", TOKEN)
            .env("HERALD_TELEGRAM_API_URL", telegram.api_url())
            .env("HERALD_TELEGRAM_RATE_LIMIT", "0")
            .env(
                "HERALD_DISPATCHER_CONCURRENCY",
                args.concurrency.to_string(),
            )
            .env("HERALD_LOG_FORMAT", "json")
            .env("HERALD_LOG", "info")
            .env_remove("HERALD_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting herald-dispatcher")?;
        crate::external::wait_ready(&format!("http://127.0.0.1:{port}")).await?;
        replicas.push(child);
    }
    let pids: Vec<u32> = replicas.iter().filter_map(|c| c.id()).collect();
    // Let the replicas settle (consumer, leases) before reading their idle memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<u64> = pids.iter().map(|p| proc_kb(*p, "VmRSS:")).collect();

    let bus = Bus::connect(
        NatsOptions::new(&nats.url, None, None),
        Subjects::new(&nats.prefix),
        StreamSettings::default(),
    )
    .await?;
    let body = signal_body(85);
    let signal = herald_domain::parse_signal(body.as_bytes(), Utc::now())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let total = args.subscribers as usize;
    let started = Instant::now();
    bus.publish_signal(&signal).await?;
    let deadline = started + Duration::from_secs(1800);
    let mut first = None;
    loop {
        let n = telegram.request_count("sendMessage");
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
    let peak: Vec<u64> = pids.iter().map(|p| proc_kb(*p, "VmHWM:")).collect();
    let sent = telegram.request_count("sendMessage");
    println!(
        "fan-out from outside (postgres, {total} subscribers, {} dispatcher replica(s), concurrency {} each): first message after {:.0} ms; all sent in {:.2} s = {:.0} msg/s; all recorded sent in {:.2} s = {:.0} msg/s; {} sendMessage for {total} deliveries (target >= 20k msg/s on one replica)",
        args.replicas,
        args.concurrency,
        first.unwrap_or_default().as_secs_f64() * 1000.0,
        all_sent.as_secs_f64(),
        total as f64 / all_sent.as_secs_f64(),
        recorded.as_secs_f64(),
        total as f64 / recorded.as_secs_f64(),
        sent,
    );
    println!(
        "dispatcher RSS per replica: idle {} MB; peak through the fan-out {} MB (targets: idle <= 30 MB, peak <= 150 MB)",
        mb_list(&idle),
        mb_list(&peak),
    );
    for mut child in replicas {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    store.close().await?;
    db.cleanup().await?;
    nats.cleanup().await
}

/// A `/proc/<pid>/status` field in kB (0 if unreadable).
fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn mb_list(kb: &[u64]) -> String {
    kb.iter()
        .map(|k| format!("{:.0}", *k as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(" / ")
}
