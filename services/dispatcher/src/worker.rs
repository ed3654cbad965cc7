//! The signal consumer: pulls signals from the shared durable consumer, runs the fan-out and
//! turns its outcome into an ack. Nothing in here decides anything about a signal.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use herald_bus::{Job, Raw, consume};
use tokio_util::sync::CancellationToken;

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
                let outcome = job
                    .keep_alive(keep_alive, handle_signal(&ctx, &job.payload, arrived))
                    .await;
                let subject = job.subject();
                let label = match &outcome {
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
                };
                metrics::counter!("herald_dispatcher_signals_total", "outcome" => label)
                    .increment(1);
            }
        },
    )
    .await;
    Ok(())
}
