//! The signal consumer: pulls signals from the shared durable consumer, runs the fan-out and
//! turns its outcome into an ack. Nothing in here decides anything about a signal.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use herald_bus::{Job, Raw, consume};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::context::DispatcherContext;
use crate::fanout::{SignalOutcome, handle_signal};

/// Signals fanned out at once per replica (each holds one page of recipients in memory).
const SIGNAL_CONCURRENCY: usize = 4;
/// How long a retried signal waits.
const SIGNAL_RETRY: Duration = Duration::from_secs(2);

/// Consumes signals until `shutdown`.
pub async fn run_signals(
    ctx: Arc<DispatcherContext>,
    consumer: PullConsumer,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let keep_alive = consumer.cached_info().config.ack_wait / 3;
    consume(
        consumer,
        SIGNAL_CONCURRENCY,
        shutdown,
        move |job: Job<Raw>| {
            let ctx = ctx.clone();
            async move {
                let arrived = job.published().unwrap_or_else(chrono::Utc::now);
                let span = process_span(&job);
                let outcome = job
                    .keep_alive(keep_alive, handle_signal(&ctx, &job.payload, arrived))
                    .instrument(span.clone())
                    .await;
                let label = settle(&job, &outcome).instrument(span.clone()).await;
                metrics::counter!("herald_dispatcher_signals_total", "outcome" => label)
                    .increment(1);
                span.record("herald.signal.outcome", label);
            }
        },
    )
    .await;
    Ok(())
}

/// Acks, retries or (by acking) drops the message as the fan-out's outcome says; returns the
/// outcome's metric label.
async fn settle(job: &Job<Raw>, outcome: &SignalOutcome) -> &'static str {
    let subject = job.subject();
    match &outcome {
        SignalOutcome::Dispatched { queued, pages } => {
            tracing::info!(%subject, queued, pages, "signal dispatched");
            job.ack().await;
            "dispatched"
        }
        SignalOutcome::AlreadyDispatched => {
            tracing::info!(%subject, "signal already dispatched");
            job.ack().await;
            "duplicate"
        }
        SignalOutcome::DeadLettered(rejection) => {
            tracing::warn!(%subject, reason = %rejection, "signal dead-lettered");
            job.ack().await;
            "dead_lettered"
        }
        SignalOutcome::Retry(why) => {
            tracing::warn!(%subject, reason = %why, "signal will be retried");
            job.retry_after(SIGNAL_RETRY).await;
            "retry"
        }
    }
}

/// The fan-out's span: `process <subject>`, a consumer span (OpenTelemetry messaging
/// conventions), a child of the publisher's span when the message carries `traceparent` —
/// ingest-api's, or the Signal Engine's when it publishes straight onto NATS.
///
/// While traces are off there is none (the fan-out's log lines name the subject and signal).
fn process_span(job: &Job<Raw>) -> tracing::Span {
    if !herald_runtime::traces::is_on() {
        return tracing::Span::none();
    }
    let subject = job.subject();
    let span = tracing::debug_span!(
        "nats.process",
        otel.name = %format!("process {subject}"),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %subject,
        messaging.message.id = job.header("Nats-Msg-Id"),
        herald.signal.outcome = tracing::field::Empty,
    );
    herald_runtime::traces::set_parent(&span, |name| job.header(name));
    span
}
