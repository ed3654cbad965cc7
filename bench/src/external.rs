//! Ingest from outside, as an operator would measure it: `wrk` against the real
//! `herald-ingest-api` binary (a child process, JSON logs to a file as in production) and
//! against the bare publish-and-ack handler, same load, same run.
//!
//! The bare handler is served by this process, which does nothing else while it is measured;
//! ingest-api gets its own PostgreSQL schema and NATS prefix, removed afterwards. Needs `wrk`
//! on the PATH and `herald-ingest-api` built next to this binary
//! (`cargo build --release -p herald-ingest-api -p herald-bench`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;

use crate::ingest::start_bare_handler;

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds of load per target and round.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Rounds of (bare handler, ingest-api), each after a warm-up.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Extra `HERALD_*` settings for ingest-api, as `NAME=value` (repeatable).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// The ingest-api binary to measure (default: `herald-ingest-api` next to this one), e.g.
    /// an older build to compare with.
    #[arg(long)]
    pub ingest_bin: Option<PathBuf>,
    /// Export traces (`HERALD_OTLP_ENDPOINT`) to an OTLP/HTTP receiver in this process, with
    /// Herald's default sampling unless `--env OTEL_TRACES_SAMPLER=…` says otherwise.
    #[arg(long)]
    pub otlp: bool,
}

/// The wrk script: a fresh signal id per request, the key from `HERALD_KEY`.
const SCRIPT: &str = include_str!("../wrk/signal.lua");

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let store = herald_store::Store::open(db.url()).await?;
    let generated = herald_auth::generate();
    store
        .create_api_key(
            herald_store::NewApiKey::ingest("wrk", &generated.hash, &generated.prefix),
            chrono::Utc::now(),
        )
        .await?;
    let key = herald_auth::reveal(&generated).to_string();
    store.close().await?;

    let work = tempfile::tempdir()?;
    let script = work.path().join("signal.lua");
    std::fs::write(&script, SCRIPT)?;
    let binary = match args.ingest_bin {
        Some(path) => path,
        None => sibling("herald-ingest-api")?,
    };
    let mut env = vec![
        ("HERALD_DATABASE_URL", db.url().to_string()),
        ("HERALD_NATS_URL", nats.url.clone()),
        ("HERALD_NATS_PREFIX", nats.prefix.clone()),
    ];
    env.extend(
        args.env
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.to_string())),
    );
    let otlp = if args.otlp {
        Some(herald_testkit::otlp::OtlpReceiver::start().await?)
    } else {
        None
    };
    if let Some(otlp) = &otlp {
        env.push(("HERALD_OTLP_ENDPOINT", otlp.http_url().to_string()));
    }
    let log = work.path().join("ingest-api.log");
    let (mut ingest, herald_url) = start_service(&binary, &env, "HERALD_INGEST_ADDR", &log).await?;
    println!("measuring {} (log: JSON to a file)", binary.display());
    let bare_url = start_bare_handler(&nats.url, &nats.prefix).await?;

    let wrk = Wrk {
        script,
        threads: args.threads,
        connections: args.connections,
    };
    let herald_pid = ingest.id().context("ingest-api's pid")?;
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        wrk.run(&bare_url, None, 2, None).await?;
        let bare = wrk.run(&bare_url, None, args.seconds, Some("self")).await?;
        wrk.run(&herald_url, Some(&key), 2, None).await?;
        let herald = wrk
            .run(
                &herald_url,
                Some(&key),
                args.seconds,
                Some(&herald_pid.to_string()),
            )
            .await?;
        println!("round {round}: bare handler  {bare}");
        println!("round {round}: herald ingest {herald}");
        let ratio = 100.0 * herald.rate / bare.rate;
        println!("round {round}: herald/bare {ratio:.0}% (target >= 80%, p99 <= 10 ms)");
        ratios.push(ratio);
    }
    let _ = ingest.start_kill();
    let _ = ingest.wait().await;
    if let Some(otlp) = &otlp {
        println!("traces exported: {} spans", otlp.spans().len());
    }
    println!(
        "wrk -t{} -c{} -d{}s, {} rounds: herald/bare {}",
        args.threads,
        args.connections,
        args.seconds,
        args.rounds,
        ratios
            .iter()
            .map(|r| format!("{r:.0}%"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    nats.cleanup().await?;
    db.cleanup().await
}

/// Starts the Herald binary at `binary` with the settings `env` (its listener on a free
/// port named by `addr_setting`), JSON logs to `log` as in production, and waits until it
/// answers its health check; returns the process and its base URL.
pub async fn start_service(
    binary: &std::path::Path,
    env: &[(&str, String)],
    addr_setting: &str,
    log: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(log)?;
    let child = tokio::process::Command::new(binary)
        // ingest-api's and admin-api's metrics and probes: any free port (unless `env` says),
        // so that a benchmark never clashes with a Herald already running here.
        .env("HERALD_INGEST_OPS_ADDR", "127.0.0.1:0")
        .env("HERALD_ADMIN_OPS_ADDR", "127.0.0.1:0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env(addr_setting, format!("127.0.0.1:{port}"))
        .env("HERALD_LOG_FORMAT", "json")
        .env("HERALD_LOG", "info")
        .env_remove("HERALD_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&url).await?;
    Ok((child, url))
}

/// A binary built next to this one.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is missing: cargo build --release -p {name}",
            path.display()
        );
    }
    Ok(path)
}

pub async fn wait_ready(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..400 {
        // `/api/health`: older builds have no `/readyz`.
        if let Ok(r) = client.get(format!("{url}/api/health")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the service did not become ready at {url}")
}

struct Wrk {
    script: PathBuf,
    threads: usize,
    connections: usize,
}

/// What one wrk run measured.
struct Measured {
    rate: f64,
    summary: String,
    /// CPU time the server process spent per request, in microseconds.
    cpu_us_per_request: Option<f64>,
}

impl std::fmt::Display for Measured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} req/s, {}", self.rate, self.summary)?;
        if let Some(cpu) = self.cpu_us_per_request {
            write!(f, ", server CPU {cpu:.1} µs/request")?;
        }
        Ok(())
    }
}

/// A `/proc/<pid>/status` field in kB (0 if unreadable): `VmRSS:`, `VmHWM:`.
pub fn proc_kb(pid: u32, field: &str) -> u64 {
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

/// User + system CPU time of process `pid` (`self` for this one) so far, in seconds.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, 100 per second on every architecture it runs on here.
    Some(ticks / 100.0)
}

impl Wrk {
    /// Runs wrk against `url` for `seconds`; `server` names the process (`self` or a pid)
    /// whose CPU time to count.
    async fn run(
        &self,
        url: &str,
        key: Option<&str>,
        seconds: u64,
        server: Option<&str>,
    ) -> anyhow::Result<Measured> {
        let cpu_before = server.and_then(cpu_seconds);
        let out = tokio::process::Command::new("wrk")
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{seconds}s"))
            .arg("--latency")
            .arg("-s")
            .arg(&self.script)
            .arg(format!("{url}/api/signals"))
            .env("HERALD_KEY", key.unwrap_or(""))
            .output()
            .await
            .context("running wrk (apt-get install wrk)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        let rate = text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|r| r.trim().parse::<f64>().ok())
            .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
        let summary = text
            .lines()
            .find_map(|l| l.strip_prefix("wrk-summary "))
            .with_context(|| format!("no summary in wrk's output:\n{text}"))?;
        let requests = summary
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("requests="))
            .and_then(|n| n.parse::<f64>().ok());
        let cpu_us_per_request = match (cpu_before, server.and_then(cpu_seconds), requests) {
            (Some(before), Some(after), Some(n)) if n > 0.0 => Some((after - before) * 1e6 / n),
            _ => None,
        };
        Ok(Measured {
            rate,
            summary: readable(summary),
            cpu_us_per_request,
        })
    }
}

/// `requests=… p50_us=1234 …` as `p50 1.23 ms, …`.
fn readable(summary: &str) -> String {
    summary
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| match k.strip_suffix("_us") {
            Some(name) => format!(
                "{name} {:.2} ms",
                v.parse::<f64>().unwrap_or(f64::NAN) / 1000.0
            ),
            None => format!("{k} {v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
