//! Ingest throughput: Herald's `POST /api/signals` (key check, full validation, duplicate
//! check, JetStream publish and ack) beside a bare axum handler that only publishes the body
//! and awaits the ack, under the same load generator in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use herald_testkit::db::Backend;

use crate::quantile;
use crate::stack::{Services, Stack, signal_body};

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds of load per target.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub db: String,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            seconds: 10,
            connections: 64,
            db: "postgres".into(),
        }
    }
}

pub(crate) fn backend(name: &str) -> anyhow::Result<Backend> {
    match name {
        "postgres" => Ok(Backend::Postgres),
        "sqlite" => Ok(Backend::Sqlite),
        other => anyhow::bail!("--db must be postgres or sqlite, not {other}"),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let stack = Stack::start(
        backend(&args.db)?,
        Services {
            ingest: true,
            dispatcher: false,
            command_bot: false,
        },
        |_| {},
    )
    .await?;
    let key = stack.api_key().await?;
    let baseline_url =
        start_bare_handler(&stack.settings.nats_url, &stack.settings.nats_prefix).await?;
    let duration = Duration::from_secs(args.seconds);

    // Warm both up, then measure.
    load(
        &baseline_url,
        None,
        Duration::from_secs(2),
        args.connections,
    )
    .await;
    let base = load(&baseline_url, None, duration, args.connections).await;
    load(
        &stack.ingest_url,
        Some(&key),
        Duration::from_secs(2),
        args.connections,
    )
    .await;
    let herald = load(&stack.ingest_url, Some(&key), duration, args.connections).await;

    base.print("ingest baseline (axum publish+ack only)");
    herald.print(&format!("ingest herald ({})", args.db));
    println!(
        "ingest ratio herald/baseline: {:.0}% (target >= 80%, p99 <= 10 ms)",
        100.0 * herald.rate() / base.rate()
    );
    stack.stop().await
}

struct Stats {
    ok: usize,
    errors: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
}

impl Stats {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} ok, {} errors",
            self.rate(),
            quantile(&self.latencies_ms, 0.5),
            quantile(&self.latencies_ms, 0.99),
            self.ok,
            self.errors
        );
    }
}

async fn load(url: &str, key: Option<&str>, duration: Duration, connections: usize) -> Stats {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let target = format!("{url}/api/signals");
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, target, key) = (client.clone(), target.clone(), key.map(str::to_string));
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let mut req = client
                    .post(&target)
                    .header("content-type", "application/json")
                    .body(signal_body(85));
                if let Some(k) = &key {
                    req = req.header("x-api-key", k);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => {
                        ok += 1;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (ok, errors, lat)
        }));
    }
    let mut stats = Stats {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
    };
    for t in tasks {
        let (ok, errors, lat) = t.await.expect("load task");
        stats.ok += ok;
        stats.errors += errors;
        stats.latencies_ms.extend(lat);
    }
    stats.elapsed = started.elapsed();
    stats.latencies_ms.sort_by(f64::total_cmp);
    stats
}

/// The bare handler: publish the body with a fresh `Nats-Msg-Id`, await the ack, answer 202.
/// Serves on a free loopback port (returned as a base URL) in this process, with a stream of
/// its own under `prefix`.
pub(crate) async fn start_bare_handler(nats_url: &str, prefix: &str) -> anyhow::Result<String> {
    let client = async_nats::connect(nats_url).await?;
    let js = jetstream::new(client);
    let subject = format!("{prefix}.baseline");
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("{prefix}_baseline"),
        subjects: vec![subject.clone()],
        storage: jetstream::stream::StorageType::File,
        retention: jetstream::stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await?;
    let state = Arc::new((js, subject));
    let app = Router::new()
        .route(
            "/api/signals",
            post(
                |State(s): State<Arc<(jetstream::Context, String)>>, body: Bytes| async move {
                    let publish = jetstream::message::PublishMessage::build()
                        .payload(body)
                        .message_id(uuid::Uuid::new_v4().to_string());
                    match s.0.send_publish(s.1.clone(), publish).await {
                        Ok(ack) => match ack.await {
                            Ok(_) => StatusCode::ACCEPTED,
                            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                        },
                        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
                    }
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}
