//! Stream and consumer definitions. Created at start by every service that uses them
//! (idempotently: an existing stream is updated to the current definition), so there is no
//! separate provisioning step.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};

use crate::bus::BusError;
use crate::subjects::Subjects;

/// Tunables of the streams and consumers.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How long a message id is remembered to drop duplicates.
    pub duplicate_window: Duration,
    /// How long a consumer waits for an ack before redelivering. Must exceed the longest
    /// send (teloxide: 17 s timeout, plus 10 s it sleeps after a 5xx).
    pub ack_wait: Duration,
    /// Messages handed out and not yet acked, across all replicas.
    pub max_ack_pending: i64,
    /// Copies of every stream (and lease bucket) kept by a NATS cluster: 1 on a single
    /// server; 3 in a three-node cluster, so that losing a node loses nothing.
    pub replicas: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            duplicate_window: Duration::from_secs(600),
            ack_wait: Duration::from_secs(60),
            max_ack_pending: 1_000,
            replicas: 1,
        }
    }
}

fn work_queue(name: String, subject: String, settings: &StreamSettings) -> Config {
    Config {
        name,
        subjects: vec![subject],
        retention: RetentionPolicy::WorkQueue,
        storage: StorageType::File,
        duplicate_window: settings.duplicate_window,
        discard: DiscardPolicy::Old,
        num_replicas: settings.replicas,
        ..Default::default()
    }
}

/// Creates or updates the streams, and removes the delivery jobs stream of older versions.
pub async fn ensure_streams(
    js: &Context,
    subjects: &Subjects,
    settings: &StreamSettings,
) -> Result<(), BusError> {
    let configs = [
        work_queue(subjects.signals_stream(), subjects.signals_all(), settings),
        Config {
            name: subjects.dead_letter_stream(),
            subjects: vec![subjects.signals_dlq()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            max_age: Duration::from_secs(30 * 24 * 3600),
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.replicas,
            ..Default::default()
        },
    ];
    // Older versions carried one job per delivery on `<prefix>_deliveries`; every such job's
    // row is in the database queue now, so the stream goes.
    let _ = js.delete_stream(subjects.legacy_deliveries_stream()).await;
    for config in configs {
        let name = config.name.clone();
        match js.get_stream(&name).await {
            Ok(mut stream) => {
                let had = stream.info().await.map(|i| i.config.num_replicas).ok();
                js.update_stream(config).await.map_err(|e| {
                    BusError::Setup(format!(
                        "updating stream {name}: {e}{}",
                        replicas_hint(&name, had, settings.replicas)
                    ))
                })?;
            }
            Err(_) => {
                if let Err(e) = js.create_stream(config.clone()).await {
                    // Another replica may have created it in between.
                    js.get_stream(&name).await.map_err(|_| {
                        BusError::Setup(format!(
                            "creating stream {name}: {e}{}",
                            replicas_hint(&name, None, settings.replicas)
                        ))
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// What to do when NATS refuses a stream's replica count: a single server keeps one copy
/// only, a cluster at most one per node, and an existing stream may refuse a change.
pub(crate) fn replicas_hint(name: &str, had: Option<usize>, wanted: usize) -> String {
    match had {
        Some(had) if had != wanted => format!(
            " (HERALD_NATS_STREAM_REPLICAS asks for {wanted} copies of {name}, which has \
             {had}: scale it with `nats stream edit {name} --replicas {wanted}` on a \
             cluster of at least {wanted} nodes, or set HERALD_NATS_STREAM_REPLICAS={had})"
        ),
        _ if wanted > 1 => format!(
            " (HERALD_NATS_STREAM_REPLICAS={wanted} needs a JetStream cluster of at least \
             {wanted} nodes; a single server keeps one copy: set HERALD_NATS_STREAM_REPLICAS=1)"
        ),
        _ => String::new(),
    }
}

fn consumer_config(subjects: &Subjects, settings: &StreamSettings) -> pull::Config {
    pull::Config {
        durable_name: Some(subjects.dispatcher_consumer().to_string()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: settings.ack_wait,
        max_ack_pending: settings.max_ack_pending,
        max_deliver: -1,
        ..Default::default()
    }
}

/// The shared durable consumer of `stream`: any replica may take any message.
pub async fn dispatcher_consumer(
    js: &Context,
    stream: &str,
    subjects: &Subjects,
    settings: &StreamSettings,
) -> Result<PullConsumer, BusError> {
    let stream = js
        .get_stream(stream)
        .await
        .map_err(|e| BusError::Setup(format!("opening stream {stream}: {e}")))?;
    let config = consumer_config(subjects, settings);
    let name = subjects.dispatcher_consumer();
    match stream.get_or_create_consumer(name, config.clone()).await {
        Ok(c) => Ok(c),
        Err(e) => Err(BusError::Setup(format!(
            "creating consumer {name} on {}: {e}",
            stream.cached_info().config.name
        ))),
    }
}

/// Deletes this installation's streams (tests and `herald demo` clean up with it).
pub async fn delete_streams(js: &jetstream::Context, subjects: &Subjects) {
    for name in subjects.all_streams() {
        let _ = js.delete_stream(&name).await;
    }
}
