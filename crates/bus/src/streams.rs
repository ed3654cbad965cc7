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
        retry_transient(|| ensure_stream(js, config.clone(), settings.replicas)).await?;
    }
    Ok(())
}

/// Creates the stream, or updates it if its definition changed (an unchanged stream is left
/// alone: replicas starting together, or a cluster still electing the new stream's leader,
/// need not all rewrite it).
async fn ensure_stream(js: &Context, config: Config, replicas: usize) -> Result<(), BusError> {
    let name = config.name.clone();
    match js.get_stream(&name).await {
        Ok(stream) => {
            let had = stream.cached_info().config.clone();
            if same_definition(&had, &config) {
                return Ok(());
            }
            js.update_stream(config).await.map_err(|e| {
                let e = e.to_string();
                let hint = replicas_hint(&name, &e, Some(had.num_replicas), replicas);
                BusError::Setup(format!("updating stream {name}: {e}{hint}"))
            })?;
        }
        Err(_) => {
            if let Err(e) = js.create_stream(config.clone()).await {
                // Another replica may have created it in between.
                js.get_stream(&name).await.map_err(|_| {
                    let e = e.to_string();
                    let hint = replicas_hint(&name, &e, None, replicas);
                    BusError::Setup(format!("creating stream {name}: {e}{hint}"))
                })?;
            }
        }
    }
    Ok(())
}

/// Whether `had` already is `wanted` in everything Herald sets.
fn same_definition(had: &Config, wanted: &Config) -> bool {
    had.subjects == wanted.subjects
        && had.retention == wanted.retention
        && had.storage == wanted.storage
        && had.duplicate_window == wanted.duplicate_window
        && had.discard == wanted.discard
        && had.max_age == wanted.max_age
        && had.num_replicas.max(1) == wanted.num_replicas.max(1)
}

/// How long setup keeps retrying a JetStream that does not answer yet (a cluster electing a
/// leader, a server starting).
const SETUP_PATIENCE: Duration = Duration::from_secs(30);

/// Runs `step` until it succeeds, retrying for up to [`SETUP_PATIENCE`] while JetStream only
/// times out or is briefly unavailable; any other error is returned at once.
pub(crate) async fn retry_transient<T, F, Fut>(mut step: F) -> Result<T, BusError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BusError>>,
{
    let deadline = tokio::time::Instant::now() + SETUP_PATIENCE;
    let mut wait = Duration::from_millis(100);
    loop {
        match step().await {
            Err(BusError::Setup(e))
                if tokio::time::Instant::now() < deadline
                    && (e.contains("timed out") || e.contains("temporarily unavailable")) =>
            {
                tracing::debug!(error = %e, "JetStream is not ready yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// What to do when NATS refuses a stream's replica count (`error` is NATS's answer): a
/// single server keeps one copy only, a cluster at most one per node, and an existing
/// stream may refuse a change.
pub(crate) fn replicas_hint(name: &str, error: &str, had: Option<usize>, wanted: usize) -> String {
    let about_replicas = ["replicas", "peers", "insufficient resources"]
        .iter()
        .any(|w| error.contains(w));
    match had {
        _ if !about_replicas => String::new(),
        Some(had) if had.max(1) != wanted => format!(
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
    retry_transient(|| async {
        stream
            .get_or_create_consumer(name, config.clone())
            .await
            .map_err(|e| {
                BusError::Setup(format!(
                    "creating consumer {name} on {}: {e}",
                    stream.cached_info().config.name
                ))
            })
    })
    .await
}

/// Deletes this installation's streams (tests and `herald demo` clean up with it).
pub async fn delete_streams(js: &jetstream::Context, subjects: &Subjects) {
    for name in subjects.all_streams() {
        let _ = js.delete_stream(&name).await;
    }
}

#[cfg(test)]
mod tests {
    use super::replicas_hint;

    #[test]
    fn a_refused_replica_count_says_what_to_do() {
        let single = "replicas > 1 not supported in non-clustered mode (code 500)";
        let hint = replicas_hint("h_signals", single, None, 3);
        assert!(hint.contains("set HERALD_NATS_STREAM_REPLICAS=1"), "{hint}");
        let refused = "insufficient resources";
        let hint = replicas_hint("h_signals", refused, Some(1), 3);
        assert!(
            hint.contains("nats stream edit h_signals --replicas 3"),
            "{hint}"
        );
        assert!(hint.contains("HERALD_NATS_STREAM_REPLICAS=1"), "{hint}");
        // Errors that are not about replicas get no advice about them.
        assert_eq!(replicas_hint("h_signals", "request timed out", None, 3), "");
    }
}
