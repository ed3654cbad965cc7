//! Consuming a work stream: typed jobs with their ack, retry-after and terminate, and the
//! loop every consumer shares — pull no more than can be worked on, run up to N handlers at
//! once, keep slow work alive with progress acks, drain on shutdown.
//!
//! A consumer supplies only the handler: `consume(consumer, concurrency, shutdown, |job|
//! async move { … job.ack().await })`. Nothing in here decides anything about the work.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How to read a job's payload from its message. A message that cannot be read is
/// terminated (and logged): redelivering it would fail the same way.
pub trait Decode: Sized {
    /// Reads the job from the message's subject and payload.
    fn decode(subject: &str, payload: &Bytes) -> Result<Self, String>;
}

/// A message taken as it is, for handlers that validate it themselves (the signal parser,
/// which must see the raw bytes to dead-letter them with the reason).
#[derive(Debug, Clone)]
pub struct Raw {
    /// The subject it was published on.
    pub subject: String,
    /// The payload.
    pub payload: Bytes,
}

impl Decode for Raw {
    fn decode(subject: &str, payload: &Bytes) -> Result<Self, String> {
        Ok(Self {
            subject: subject.to_string(),
            payload: payload.clone(),
        })
    }
}

/// A JSON message of type `T`.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> Decode for Json<T> {
    fn decode(_: &str, payload: &Bytes) -> Result<Self, String> {
        serde_json::from_slice(payload)
            .map(Json)
            .map_err(|e| e.to_string())
    }
}

/// One unit of work from a stream, with the means to settle it. Settling is best effort: a
/// message that cannot be settled is redelivered after the consumer's ack wait, so every
/// handler must be idempotent.
pub struct Job<T> {
    /// What the message says.
    pub payload: T,
    msg: Message,
}

impl<T> Job<T> {
    /// The subject the message was published on.
    pub fn subject(&self) -> &str {
        self.msg.subject.as_str()
    }

    /// A header of the message (`traceparent`, …), if it has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.msg
            .headers
            .as_ref()?
            .get(name)
            .map(async_nats::HeaderValue::as_str)
    }

    /// When JetStream stored the message (its publisher's "now", on the server's clock).
    pub fn published(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let nanos = self.msg.info().ok()?.published.unix_timestamp_nanos();
        Some(chrono::DateTime::from_timestamp_nanos(
            i64::try_from(nanos).ok()?,
        ))
    }

    /// Done: JetStream removes the message.
    pub async fn ack(&self) {
        settle(&self.msg, AckKind::Ack).await;
    }

    /// Not now: JetStream hands the message out again after `delay`.
    pub async fn retry_after(&self, delay: Duration) {
        settle(&self.msg, AckKind::Nak(Some(delay))).await;
    }

    /// Never: JetStream drops the message without handing it out again.
    pub async fn terminate(&self) {
        settle(&self.msg, AckKind::Term).await;
    }

    /// Runs `work` while telling JetStream every `every` that the message is still in hand,
    /// so slow work (a long fan-out) is not handed to another replica meanwhile.
    pub async fn keep_alive<R>(&self, every: Duration, work: impl Future<Output = R>) -> R {
        tokio::pin!(work);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = ticker.tick() => {
                    let _ = self.msg.ack_with(AckKind::Progress).await;
                }
            }
        }
    }
}

async fn settle(msg: &Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::warn!(error = %e, "could not settle a message; it will be redelivered");
    }
}

/// How long to wait before re-opening a consumer whose message stream broke.
const RECONNECT: Duration = Duration::from_secs(1);
/// How long shutdown waits for work in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// Pulls jobs of type `T` from `consumer` and runs up to `concurrency` handlers at once,
/// until `shutdown`; then stops pulling and waits (up to 30 s) for the handlers in flight.
/// A message that does not decode is terminated.
pub async fn consume<T, F, Fut>(
    consumer: PullConsumer,
    concurrency: usize,
    shutdown: CancellationToken,
    handler: F,
) where
    T: Decode + Send + 'static,
    F: Fn(Job<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
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
                Some(Ok(msg)) => match T::decode(msg.subject.as_str(), &msg.payload) {
                    Ok(payload) => {
                        let fut = handler(Job { payload, msg });
                        tasks.spawn(async move {
                            fut.await;
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        tracing::error!(subject = %msg.subject, error = %e,
                            "undecodable message; terminating it");
                        settle(&msg, AckKind::Term).await;
                    }
                },
                Some(Err(e)) => tracing::warn!(error = %e, "message stream error"),
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
}
