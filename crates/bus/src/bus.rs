//! The connected bus and its typed publishes.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use herald_domain::Signal;
use tracing::Instrument as _;

use crate::connect::{self, NatsOptions};
use crate::streams::{self, StreamSettings};
use crate::subjects::Subjects;
use crate::{HEADER_ORIGINAL_SUBJECT, HEADER_REJECTION};

/// What went wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Could not reach NATS, or NATS refused our credentials.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The server URL (without credentials).
        url: String,
        /// Why.
        reason: String,
    },
    /// A NATS setting is wrong.
    #[error("{setting}: {problem}")]
    Config {
        /// The environment variable, e.g. `HERALD_NATS_URL`.
        setting: &'static str,
        /// What is wrong with it (never the secret itself).
        problem: String,
    },
    /// A stream or consumer could not be created.
    #[error("JetStream setup: {0}")]
    Setup(String),
    /// JetStream did not confirm a publish: the message may not be stored.
    #[error("JetStream did not store the message: {0}")]
    Publish(String),
}

/// A publish JetStream confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The stream sequence.
    pub sequence: u64,
    /// JetStream had already stored a message with this id within the duplicate window.
    pub duplicate: bool,
}

/// A connected JetStream context for one installation.
#[derive(Clone)]
pub struct Bus {
    client: async_nats::Client,
    js: Context,
    subjects: Subjects,
    settings: StreamSettings,
}

/// How long to wait for JetStream to confirm a publish before calling it failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
/// Publishes awaiting their ack at once.
const PIPELINE: usize = 512;

impl Bus {
    /// Connects to NATS (a URL, or [`NatsOptions`] with credentials) and makes sure the
    /// streams exist.
    pub async fn connect(
        nats: impl Into<NatsOptions>,
        subjects: Subjects,
        settings: StreamSettings,
    ) -> Result<Self, BusError> {
        let client = connect::client(&nats.into()).await?;
        let js = jetstream::ContextBuilder::new()
            .timeout(PUBLISH_TIMEOUT)
            .max_ack_inflight(4 * PIPELINE)
            .backpressure_on_inflight(true)
            .build(client.clone());
        streams::ensure_streams(&js, &subjects, &settings).await?;
        Ok(Self {
            client,
            js,
            subjects,
            settings,
        })
    }

    /// The NATS connection (for core NATS work beside JetStream, e.g. the shared budget).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The names this bus uses.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    /// The stream settings this bus was connected with.
    pub(crate) fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// The JetStream context.
    pub(crate) fn jetstream(&self) -> &Context {
        &self.js
    }

    /// Whether the connection to NATS is up right now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Publishes a valid signal (canonical JSON) on `<prefix>.signals.v1.<ASSET>` with its id
    /// as `Nats-Msg-Id`, and waits until JetStream has stored it.
    ///
    /// When traces are on, the publish is a `publish <subject>` producer span (OpenTelemetry
    /// messaging conventions), a child of the current span, and its context travels in the
    /// message's `traceparent` / `tracestate` headers to the dispatcher's fan-out.
    pub async fn publish_signal(&self, signal: &Signal) -> Result<PublishOutcome, BusError> {
        let subject = self.subjects.signal(&signal.asset);
        let id = signal.id.to_string();
        if !herald_runtime::traces::is_on() {
            let publish = Publish::build()
                .payload(Bytes::from(signal.to_json()))
                .message_id(&id);
            return self.publish(subject, publish).await;
        }
        let span = tracing::debug_span!(
            "nats.publish",
            otel.name = %format!("publish {subject}"),
            otel.kind = "producer",
            messaging.system = "nats",
            messaging.operation.type = "send",
            messaging.operation.name = "publish",
            messaging.destination.name = %subject,
            messaging.message.id = %id,
            otel.status_code = tracing::field::Empty,
        );
        let mut publish = Publish::build()
            .payload(Bytes::from(signal.to_json()))
            .message_id(&id);
        // One header at a time: `headers()` would replace the map, and `Nats-Msg-Id` with it.
        herald_runtime::traces::inject(&span, |name, value| {
            publish = std::mem::take(&mut publish).header(name, value.as_str());
        });
        let published = self
            .publish(subject, publish)
            .instrument(span.clone())
            .await;
        if published.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        published
    }

    /// Parks a message that is not a valid signal on `<prefix>.signals.dlq`, with the reason
    /// and the subject it came from in headers, and waits until it is stored.
    pub async fn publish_dead_letter(
        &self,
        original_subject: &str,
        payload: Bytes,
        reason: &str,
    ) -> Result<PublishOutcome, BusError> {
        let mut headers = HeaderMap::new();
        // Header values must be one line.
        let one_line: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(2000)
            .collect();
        headers.insert(HEADER_REJECTION, one_line.as_str());
        headers.insert(HEADER_ORIGINAL_SUBJECT, original_subject);
        let publish = Publish::build().payload(payload).headers(headers);
        self.publish(self.subjects.signals_dlq(), publish).await
    }

    /// Tells every dispatcher replica that deliveries are waiting in the database queue (a
    /// core NATS message: cheap, not stored; a replica that misses it finds the work on its
    /// next idle poll anyway).
    pub async fn nudge_deliveries(&self) {
        if let Err(e) = self
            .client
            .publish(self.subjects.deliveries_ready(), Bytes::new())
            .await
        {
            tracing::debug!(error = %e, "could not nudge the dispatchers; they will poll");
        }
    }

    /// The nudges of [`Bus::nudge_deliveries`], from every replica.
    pub async fn delivery_nudges(&self) -> Result<async_nats::Subscriber, BusError> {
        self.client
            .subscribe(self.subjects.deliveries_ready())
            .await
            .map_err(|e| BusError::Setup(format!("subscribing to delivery nudges: {e}")))
    }

    async fn publish(&self, subject: String, publish: Publish) -> Result<PublishOutcome, BusError> {
        let ack = self
            .js
            .send_publish(subject, publish)
            .await
            .map_err(|e| BusError::Publish(e.to_string()))?
            .await
            .map_err(|e| BusError::Publish(e.to_string()))?;
        Ok(PublishOutcome {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Signals on the stream that the dispatchers have not finished with: not yet handed to
    /// a dispatcher, or handed and not yet acknowledged. Zero means every signal accepted so
    /// far has been stored (or dead-lettered). `Ok(None)` before any dispatcher has made the
    /// consumer.
    pub async fn signals_in_flight(&self) -> Result<Option<u64>, BusError> {
        let stream = self
            .js
            .get_stream(self.subjects.signals_stream())
            .await
            .map_err(|e| BusError::Setup(format!("opening the signal stream: {e}")))?;
        match stream
            .consumer_info(self.subjects.dispatcher_consumer())
            .await
        {
            Ok(info) => Ok(Some(info.num_pending + info.num_ack_pending as u64)),
            Err(e) if e.to_string().contains("not found") => Ok(None),
            Err(e) => Err(BusError::Setup(format!(
                "reading the dispatchers' consumer: {e}"
            ))),
        }
    }

    /// The shared durable consumer of the signals stream.
    pub async fn signal_consumer(&self) -> Result<PullConsumer, BusError> {
        streams::dispatcher_consumer(
            &self.js,
            &self.subjects.signals_stream(),
            &self.subjects,
            &self.settings,
        )
        .await
    }
}
