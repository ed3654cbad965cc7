//! One telemetry setup for every service: `tracing` logs (JSON in production, readable in a
//! terminal) and a Prometheus recorder behind the `metrics` facade.
//!
//! Metric names follow `herald_<service>_<what>_<unit>`, e.g.
//! `herald_dispatcher_send_duration_seconds`.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, Settings};

/// Quiet defaults for chatty dependencies, added after the configured filter.
const QUIET: &str = "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,async_nats=warn,hyper=warn,reqwest=warn,teloxide=warn";

/// Starts logging for this process. Safe to call more than once (later calls are ignored),
/// so the all-in-one binary and tests can call it freely.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_new(format!("{},{QUIET}", settings.log))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let json = match settings.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).finish().try_init()
    } else {
        builder.compact().finish().try_init()
    };
    let _ = prometheus();
}

/// The process's Prometheus recorder, installed on first use. Every service's `/metrics`
/// renders it; in `herald all` they share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ])
                .expect("static buckets are valid");
            let handle = match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (a test harness): render an unused one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            };
            spawn_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds histogram samples into their buckets every [`UPKEEP_EVERY`]. The recorder keeps every
/// sample recorded since the last fold, and only a scrape of `/metrics` or this upkeep folds
/// them: without it an unscraped ingest-api grew by about 8 bytes per request, and the first
/// scrape after a busy hour had millions of samples to fold.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histograms fold only when scraped");
    }
}
