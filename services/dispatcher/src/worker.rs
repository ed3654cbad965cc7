//! The consumer loops: pull messages from the shared durable consumers, run the work
//! functions, and turn their outcomes into acks. Nothing in here decides anything about a
//! signal or a delivery.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use herald_domain::DeliveryJobV1;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::DispatcherContext;
use crate::deliver::{Outcome, deliver};
use crate::fanout::{SignalMessage, SignalOutcome, handle_signal};

/// Signals handled at once per replica (each fans out to many traders).
const SIGNAL_CONCURRENCY: usize = 4;
/// How long a retried signal waits.
const SIGNAL_RETRY: Duration = Duration::from_secs(2);
/// How long to wait before re-opening a consumer whose message stream broke.
const RECONNECT: Duration = Duration::from_secs(1);
/// How long shutdown waits for work in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// Consumes signals until `shutdown`.
pub async fn run_signals(
    ctx: Arc<DispatcherContext>,
    consumer: PullConsumer,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    consume(consumer, SIGNAL_CONCURRENCY, shutdown, move |msg| {
        let ctx = ctx.clone();
        async move {
            let signal = SignalMessage {
                subject: msg.subject.to_string(),
                payload: msg.payload.clone(),
            };
            let outcome =
                with_progress(&msg, ctx.policy.ack_wait / 3, || async {}, handle_signal(&ctx, &signal))
                    .await;
            match &outcome {
                SignalOutcome::Dispatched { recipients, jobs } => {
                    tracing::info!(subject = %msg.subject, recipients, jobs, "signal dispatched");
                    metrics::counter!("herald_dispatcher_signals_total", "outcome" => "dispatched")
                        .increment(1);
                    settle(&msg, AckKind::Ack).await;
                }
                SignalOutcome::DeadLettered(rejection) => {
                    tracing::warn!(subject = %msg.subject, reason = %rejection, "invalid signal dead-lettered");
                    metrics::counter!("herald_dispatcher_signals_total", "outcome" => "dead_lettered")
                        .increment(1);
                    settle(&msg, AckKind::Ack).await;
                }
                SignalOutcome::Retry(why) => {
                    tracing::warn!(subject = %msg.subject, reason = %why, "signal will be retried");
                    metrics::counter!("herald_dispatcher_signals_total", "outcome" => "retry")
                        .increment(1);
                    settle(&msg, AckKind::Nak(Some(SIGNAL_RETRY))).await;
                }
            }
        }
    })
    .await
}

/// Consumes delivery jobs until `shutdown`.
pub async fn run_deliveries(
    ctx: Arc<DispatcherContext>,
    consumer: PullConsumer,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let concurrency = ctx.policy.concurrency;
    consume(consumer, concurrency, shutdown, move |msg| {
        let ctx = ctx.clone();
        async move {
            let job: DeliveryJobV1 = match serde_json::from_slice(&msg.payload) {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(error = %e, "undecodable delivery job; terminating it");
                    settle(&msg, AckKind::Term).await;
                    return;
                }
            };
            // A slow send also renews its lease on the delivery row, so that no other copy of
            // the job takes it over.
            let touch = || async {
                let _ = ctx
                    .store
                    .touch_attempt(job.delivery_id, chrono::Utc::now())
                    .await;
            };
            let outcome =
                with_progress(&msg, ctx.policy.ack_wait / 3, touch, deliver(&ctx, &job)).await;
            match outcome {
                Outcome::Sent { .. } | Outcome::Done(_) => settle(&msg, AckKind::Ack).await,
                Outcome::Retry(delay) => settle(&msg, AckKind::Nak(Some(delay))).await,
            }
        }
    })
    .await
}

/// Runs `work` while telling JetStream every `every` that the message is still in hand (and
/// calling `also`), so a slow send (teloxide waits 10 s after a 5xx) is not handed to another
/// replica.
async fn with_progress<T, A, AF>(
    msg: &Message,
    every: Duration,
    also: A,
    work: impl Future<Output = T>,
) -> T
where
    A: Fn() -> AF,
    AF: Future<Output = ()>,
{
    tokio::pin!(work);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = ticker.tick() => {
                let _ = msg.ack_with(AckKind::Progress).await;
                also().await;
            }
        }
    }
}

async fn settle(msg: &Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        // The message will be redelivered after ack_wait; every handler is idempotent.
        tracing::warn!(error = %e, "could not settle a message; it will be redelivered");
    }
}

/// Pulls from `consumer` and runs up to `concurrency` handlers at once. On shutdown it stops
/// pulling, then waits (up to [`DRAIN`]) for the handlers in flight.
async fn consume<F, Fut>(
    consumer: PullConsumer,
    concurrency: usize,
    shutdown: CancellationToken,
    handler: F,
) -> anyhow::Result<()>
where
    F: Fn(Message) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    'outer: while !shutdown.is_cancelled() {
        // Pull no more than can be worked on at once: a message waiting in this process gets
        // no progress acks, and after ack_wait JetStream would hand it to another replica.
        let pull = consumer
            .stream()
            .max_messages_per_batch(concurrency.clamp(1, 200))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await;
        let mut messages = match pull {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the message stream; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(RECONNECT) => continue,
                }
            }
        };
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break 'outer,
                p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            };
            let next = tokio::select! {
                _ = shutdown.cancelled() => break 'outer,
                n = messages.next() => n,
            };
            match next {
                Some(Ok(msg)) => {
                    let fut = handler(msg);
                    tasks.spawn(async move {
                        fut.await;
                        drop(permit);
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "message stream error");
                }
                None => {
                    tracing::warn!("message stream ended; reopening");
                    break;
                }
            }
            while tasks.try_join_next().is_some() {}
        }
    }
    let drained = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(
            abandoned = tasks.len(),
            "shutdown: work still in flight was abandoned; it will be redelivered"
        );
    }
    Ok(())
}
