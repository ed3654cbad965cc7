//! One telemetry setup for every service: `tracing` logs (JSON in production, readable in a
//! terminal), OpenTelemetry traces when configured ([`crate::traces`]), and a Prometheus
//! recorder behind the `metrics` facade.
//!
//! Metric names follow `herald_<service>_<what>_<unit>`, e.g.
//! `herald_dispatcher_send_duration_seconds`.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, LogFormat, Settings};

/// Quiet defaults for chatty dependencies, added after the configured filter.
const QUIET: &str = "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,async_nats=warn,hyper=warn,reqwest=warn,teloxide=warn";

/// Starts logging — and, when `HERALD_OTLP_ENDPOINT` is set, traces ([`crate::traces`]) —
/// for this process. Safe to call more than once (later calls are ignored), so the
/// all-in-one binary and tests can call it freely. An error names the setting that is wrong.
pub fn init(settings: &Settings) -> Result<(), ConfigError> {
    let filter = EnvFilter::try_new(format!("{},{QUIET}", settings.log))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let json = match settings.log_format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let _ = prometheus();
    if tracing::dispatcher::has_been_set() {
        return Ok(());
    }
    let tracer = crate::traces::tracer(settings).map_err(|problem| ConfigError::Invalid {
        name: "HERALD_OTLP_ENDPOINT",
        problem,
    })?;
    // Only Herald's own spans become OpenTelemetry spans (not a dependency's), whatever
    // `HERALD_LOG` says: that filter is the logs' alone, so quieting the logs does not silence
    // the traces. The spans that make a trace (requests, publishes, fan-outs, deliveries,
    // Bot API calls) are at debug level, so that the logs do not pay for recording their
    // fields on every request and delivery; their log lines still carry the trace's ids.
    //
    // What a span carries is kept to what the trace needs: no log lines as span events (the
    // logs carry the trace's ids instead), no source locations, thread names or busy/idle
    // timings — each was an allocation or a clock read per span on every request.
    let otel = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_level(false)
            .with_context_activation(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span()
                    && meta.target().starts_with("herald")
                    && *meta.level() <= tracing::Level::DEBUG
            }))
    });
    let ansi = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let fmt = if json {
        fmt.event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().json().flatten_event(true),
            json: true,
        })
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .with_filter(filter)
        .boxed()
    } else {
        fmt.event_format(WithTraceIds {
            inner: tracing_subscriber::fmt::format().compact(),
            json: false,
        })
        .with_filter(filter)
        .boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .try_init();
    Ok(())
}

/// Exports what traces are still batched; call when the process stops.
pub async fn shutdown() {
    crate::traces::shutdown().await;
}

/// A log line's format, plus `trace_id` and `span_id` when the line is inside a recorded
/// span: the join from a log line to its trace.
struct WithTraceIds<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some((trace_id, span_id)) = crate::traces::current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let body = line.trim_end_matches('\n');
        if self.json && body.ends_with('}') {
            let open = &body[..body.len() - 1];
            writeln!(
                writer,
                "{open},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
            )
        } else {
            writeln!(writer, "{body} trace_id={trace_id} span_id={span_id}")
        }
    }
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
            // Waits that last minutes in a big broadcast get buckets that reach that far.
            let builder = LONG_WAITS.iter().fold(builder, |builder, name| {
                builder
                    .set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full((*name).into()),
                        &LONG_WAIT_BUCKETS,
                    )
                    .expect("static buckets are valid")
            });
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

/// Histograms of waits that last up to an hour (a big broadcast's backlog at Telegram's pace),
/// with [`LONG_WAIT_BUCKETS`] instead of the request-sized default.
const LONG_WAITS: [&str; 2] = [
    "herald_dispatcher_delivery_latency_seconds",
    "herald_telegram_budget_wait_seconds",
];

/// Buckets of [`LONG_WAITS`], in seconds: from 10 ms to an hour.
const LONG_WAIT_BUCKETS: [f64; 16] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
    3600.0,
];

/// What kind of failure `herald_errors_total{service, kind}` counts. Bounded: every failure a
/// service turns into a 5xx, a retry or a lost attempt is one of these.
///
/// An HTTP service may also put one on a response (`response.extensions_mut().insert(kind)`):
/// [`crate::http::with_request_metrics`] counts it for that service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The database failed or could not be reached.
    Database,
    /// NATS (JetStream) failed or could not be reached.
    Nats,
    /// A Bot API call failed: a 5xx, a network error, an answer that never came, or a
    /// refusal that is not the chat's doing (not 429s, blocked bots or deleted chats).
    Telegram,
    /// Anything else: a bug, a panic, an unexpected state.
    Internal,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::Database,
        ErrorKind::Nats,
        ErrorKind::Telegram,
        ErrorKind::Internal,
    ];

    /// The `kind` label: `database`, `nats`, `telegram`, `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Database => "database",
            ErrorKind::Nats => "nats",
            ErrorKind::Telegram => "telegram",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The name of the failure counter.
const ERRORS_TOTAL: &str = "herald_errors_total";

/// Counts one failure of `service` (`ingest-api`, `dispatcher`, `command-bot`, `admin-api`)
/// in `herald_errors_total{service, kind}`.
pub fn count_error(service: &'static str, kind: ErrorKind) {
    metrics::counter!(ERRORS_TOTAL, "service" => service, "kind" => kind.as_str()).increment(1);
}

/// Registers `herald_errors_total` for `service` with every kind at 0 (so that `rate()` and
/// alerts see the series before the first failure), with its description. Each service calls
/// it once at start.
pub fn register_errors(service: &'static str) {
    let _ = prometheus();
    metrics::describe_counter!(
        ERRORS_TOTAL,
        "Failures by service and kind (database, nats, telegram, internal): each one a 5xx \
         answer, a retry or an attempt lost"
    );
    for kind in ErrorKind::ALL {
        metrics::counter!(ERRORS_TOTAL, "service" => service, "kind" => kind.as_str()).increment(0);
    }
}
