//! Fan-out from outside: the real `herald-dispatcher` binary, 1 or more replicas as child
//! processes, one signal to many subscribers on PostgreSQL, against the Telegram double
//! (served by this process) answering at once and enforcing no limit.
//!
//! The signal goes straight onto NATS, as the engine may publish it; the clock starts at the
//! publish and stops when the double has received every `sendMessage`, then again when every
//! delivery is recorded `sent`. Each replica's peak RSS (`VmHWM`) is read from `/proc` at the
//! end, and its idle RSS before the signal. Needs `herald-dispatcher` built next to this
//! binary (`cargo build --release -p herald-dispatcher -p herald-bench`).
//!
//! With `--rate N` it measures the paced path instead: `HERALD_TELEGRAM_RATE_LIMIT=N` for
//! every replica, and the double enforcing Telegram's limits (N per second overall, 1 per
//! chat) and answering 429 beyond them; it reports the share of the budget used (messages
//! over elapsed time × N, from the first message to the last), the 429s and the most
//! accepted in any one second.

use std::time::{Duration, Instant};

use chrono::Utc;
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::TelegramDouble;

use crate::external::{proc_kb, sibling, start_service};
use crate::fanout::{Progress, watch};
use crate::stack::{TOKEN, post_signal, signal_body};

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
    /// Pace at this many messages/s, the double enforcing it (0: no limit, a double that
    /// answers at once).
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Instead of one fan-out: end-to-end latency at light load from outside — this many
    /// signals POSTed one at a time (1.05 s apart) to a real `herald-ingest-api`, each
    /// timed until the double accepts its `sendMessage` to the one subscriber.
    #[arg(long, default_value_t = 0)]
    pub latency: usize,
    /// Export traces (`HERALD_OTLP_ENDPOINT`) to an OTLP/HTTP receiver in this process, with
    /// Herald's default sampling (every fan-out's spans, 1 % of the deliveries').
    #[arg(long)]
    pub otlp: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let telegram = TelegramDouble::start(TOKEN).await?;
    if args.rate > 0 {
        telegram.enforce_limits(herald_testkit::telegram::Limits {
            per_second: args.rate,
            per_chat_per_second: 1,
        });
    }
    let store = herald_store::Store::open(db.url()).await?;
    let seeding = Instant::now();
    crate::seed::traders(&store, 10_000_000, args.subscribers, Utc::now()).await?;
    eprintln!(
        "seeded {} subscribers in {:.1?}",
        args.subscribers,
        seeding.elapsed()
    );

    let work = tempfile::tempdir()?;
    let otlp = if args.otlp {
        Some(herald_testkit::otlp::OtlpReceiver::start().await?)
    } else {
        None
    };
    let mut env = vec![
        ("HERALD_DATABASE_URL", db.url().to_string()),
        ("HERALD_NATS_URL", nats.url.clone()),
        ("HERALD_NATS_PREFIX", nats.prefix.clone()),
        ("HERALD_TELEGRAM_TOKEN", TOKEN.to_string()),
        ("HERALD_TELEGRAM_API_URL", telegram.api_url()),
        ("HERALD_TELEGRAM_RATE_LIMIT", args.rate.to_string()),
        (
            "HERALD_DISPATCHER_CONCURRENCY",
            args.concurrency.to_string(),
        ),
    ];
    if let Some(otlp) = &otlp {
        env.push(("HERALD_OTLP_ENDPOINT", otlp.http_url().to_string()));
    }
    let dispatcher = sibling("herald-dispatcher")?;
    let mut replicas = Vec::new();
    for n in 0..args.replicas {
        let log = work.path().join(format!("dispatcher-{n}.log"));
        let (child, _) = start_service(&dispatcher, &env, "HERALD_DISPATCHER_ADDR", &log).await?;
        replicas.push(child);
    }
    if args.latency > 0 {
        let log = work.path().join("ingest-api.log");
        let ingest_bin = sibling("herald-ingest-api")?;
        let (ingest, url) = start_service(&ingest_bin, &env, "HERALD_INGEST_ADDR", &log).await?;
        latency(&store, &telegram, &url, args.latency).await?;
        drop((ingest, replicas));
        store.close().await?;
        db.cleanup().await?;
        return nats.cleanup().await;
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
    let Progress {
        first,
        all_sent,
        recorded,
    } = watch(&telegram, &store, 0, total, started).await?;
    let peak: Vec<u64> = pids.iter().map(|p| proc_kb(*p, "VmHWM:")).collect();
    let sent = telegram.request_count("sendMessage");
    if args.rate > 0 {
        let accepted = telegram.accepted_at();
        let span = match (accepted.first(), accepted.last()) {
            (Some((_, a)), Some((_, b))) => b.duration_since(*a),
            _ => Duration::ZERO,
        };
        // n messages at `rate` need (n - 1) / rate seconds from the first to the last.
        let ideal = (accepted.len().saturating_sub(1)) as f64 / f64::from(args.rate);
        println!(
            "paced through the pipeline ({} replica(s), {} msg/s): {}/{total} delivered; budget used {:.1} % ({} messages in {:.2} s from the first to the last); {} × 429; at most {} accepted in any 1 s (targets: 100 % delivered, >= 99 % of the budget, 0 × 429)",
            args.replicas,
            args.rate,
            accepted.len(),
            100.0 * ideal / span.as_secs_f64().max(f64::EPSILON),
            accepted.len(),
            span.as_secs_f64(),
            telegram.too_many_requests_count(),
            telegram.max_accepted_in(Duration::from_secs(1)),
        );
    }
    println!(
        "fan-out from outside (postgres, {total} subscribers, {} dispatcher replica(s), concurrency {} each): first message after {:.0} ms; all sent in {:.2} s = {:.0} msg/s; all recorded sent in {:.2} s = {:.0} msg/s; {} sendMessage for {total} deliveries (target >= 20k msg/s on one replica)",
        args.replicas,
        args.concurrency,
        first.as_secs_f64() * 1000.0,
        all_sent.as_secs_f64(),
        total as f64 / all_sent.as_secs_f64(),
        recorded.as_secs_f64(),
        total as f64 / recorded.as_secs_f64(),
        sent,
    );
    if let Some(otlp) = &otlp {
        // The last batch leaves within the batch delay (5 s by default).
        tokio::time::sleep(Duration::from_secs(6)).await;
        let spans = otlp.spans();
        println!(
            "traces exported: {} spans ({} deliveries' of {total})",
            spans.len(),
            spans.iter().filter(|s| s.name == "deliver").count(),
        );
    }
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

fn mb_list(kb: &[u64]) -> String {
    kb.iter()
        .map(|k| format!("{:.0}", *k as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// POST → `sendMessage` at the double, one signal at a time, through the running binaries.
async fn latency(
    store: &herald_store::Store,
    telegram: &TelegramDouble,
    ingest_url: &str,
    signals: usize,
) -> anyhow::Result<()> {
    let generated = herald_auth::generate();
    store
        .create_api_key(
            herald_store::NewApiKey::ingest("latency", &generated.hash, &generated.prefix),
            Utc::now(),
        )
        .await?;
    let key = herald_auth::reveal(&generated).to_string();
    let client = reqwest::Client::new();
    // The first few open connections and warm caches; sent, not counted.
    const WARM_UP: usize = 5;
    let mut latencies = Vec::with_capacity(signals);
    for i in 0..signals + WARM_UP {
        let before = telegram.accepted_at().len();
        let posted = Instant::now();
        post_signal(&client, ingest_url, &key).await?;
        let arrived = loop {
            let accepted = telegram.accepted_at();
            if accepted.len() > before {
                break accepted[before].1;
            }
            anyhow::ensure!(
                posted.elapsed() < Duration::from_secs(30),
                "signal {i} did not arrive"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        if i >= WARM_UP {
            latencies.push(arrived.duration_since(posted).as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_millis(1050)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "end-to-end from outside (postgres, real ingest-api and dispatcher binaries): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} signals (target p50 <= 5 ms, p99 <= 20 ms)",
        crate::quantile(&latencies, 0.5),
        crate::quantile(&latencies, 0.9),
        crate::quantile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    Ok(())
}
