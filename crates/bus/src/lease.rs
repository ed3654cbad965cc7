//! Leader election through a JetStream KV lease: of all the processes campaigning for one
//! name, at most one holds it at a time, and another takes over within a lease's length
//! after the holder dies — no extra server, only the NATS every service already uses.
//!
//! The lease is the one key of a KV bucket `<prefix>_lease_<name>` whose `max_age` is the
//! lease's length. A candidate takes it with `create` (which fails while the key exists);
//! the holder renews it every third of a lease with a compare-and-set `update` on the
//! revision it last wrote, and JetStream drops the key `ttl` after the last renewal, so a
//! dead holder's lease frees itself. A holder whose renewal fails, or that has not renewed
//! for a whole `ttl` by its own clock, stops acting as leader at once: two holders can overlap
//! only by the time a renewal takes, never by clock skew.

use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Bus, BusError};

/// The lease of the dispatcher's reconciler.
pub const RECONCILER: &str = "reconciler";

/// Whether this process holds a lease right now.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<bool>,
}

impl Leadership {
    /// True while this process holds the lease.
    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }
}

impl Bus {
    /// Campaigns for the lease `name` (`A-Z a-z 0-9 _ -`) of length `ttl` until `shutdown`,
    /// in a background task; the answer says, at any moment, whether this process holds it.
    /// On shutdown a holder gives the lease up at once, so a successor need not wait.
    pub async fn campaign(
        &self,
        name: &str,
        ttl: Duration,
        shutdown: CancellationToken,
    ) -> Result<Leadership, BusError> {
        let bucket = self.subjects().lease_bucket(name);
        let store = lease_bucket(
            self.jetstream(),
            LeaseBucket {
                name: &bucket,
                description: "Herald: a leader's lease",
                max_age: ttl,
                storage: async_nats::jetstream::stream::StorageType::File,
                replicas: self.settings().replicas,
            },
        )
        .await?;
        let (tx, rx) = watch::channel(false);
        let me = Bytes::from(uuid::Uuid::new_v4().to_string());
        tokio::spawn(hold(store, me, ttl, tx, shutdown));
        Ok(Leadership { rx })
    }
}

/// How a one-key bucket (a lease) is kept.
pub(crate) struct LeaseBucket<'a> {
    /// The bucket's name (its stream is `KV_<name>`).
    pub name: &'a str,
    /// What it is for, shown by `nats stream info`.
    pub description: &'a str,
    /// How long a key lives after its last write.
    pub max_age: Duration,
    /// File or memory.
    pub storage: async_nats::jetstream::stream::StorageType,
    /// Copies in a cluster (`HERALD_NATS_STREAM_REPLICAS`): a lease on one node of three
    /// would stop everything that needs it when that node goes.
    pub replicas: usize,
}

/// The bucket, created if missing. The stream is created with the definition async-nats
/// would give it, but directly: async-nats's `create_key_value` first asks for the account's
/// limits, and reads NATS 2.9's answer as an error. An existing bucket whose copies or key
/// lifetime differ from `bucket`'s (`HERALD_NATS_STREAM_REPLICAS` changed) is updated to
/// them, as the streams are.
pub(crate) async fn lease_bucket(
    js: &async_nats::jetstream::Context,
    bucket: LeaseBucket<'_>,
) -> Result<kv::Store, BusError> {
    let name = bucket.name;
    if let Ok(store) = js.get_key_value(name).await {
        let stream = format!("KV_{name}");
        let mut info = js
            .get_stream(&stream)
            .await
            .map_err(|e| BusError::Setup(format!("reading the lease bucket {name}: {e}")))?;
        let had = info
            .info()
            .await
            .map_err(|e| BusError::Setup(format!("reading the lease bucket {name}: {e}")))?;
        let had = had.config.clone();
        if had.num_replicas.max(1) != bucket.replicas.max(1) || had.max_age != bucket.max_age {
            let config = async_nats::jetstream::stream::Config {
                num_replicas: bucket.replicas,
                max_age: bucket.max_age,
                ..had.clone()
            };
            js.update_stream(config).await.map_err(|e| {
                let e = e.to_string();
                let hint = crate::streams::replicas_hint(
                    &stream,
                    &e,
                    Some(had.num_replicas),
                    bucket.replicas,
                );
                BusError::Setup(format!("updating the lease bucket {name}: {e}{hint}"))
            })?;
        }
        return Ok(store);
    }
    let config = async_nats::jetstream::stream::Config {
        name: format!("KV_{name}"),
        description: Some(bucket.description.to_string()),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_bytes: -1,
        max_message_size: -1,
        max_age: bucket.max_age,
        storage: bucket.storage,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: bucket.replicas,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    };
    if let Err(e) = js.create_stream(config).await {
        // Another process may have created it in between.
        if js.get_stream(format!("KV_{name}")).await.is_err() {
            let (stream, e) = (format!("KV_{name}"), e.to_string());
            let hint = crate::streams::replicas_hint(&stream, &e, None, bucket.replicas);
            return Err(BusError::Setup(format!(
                "creating the lease bucket {name}: {e}{hint}"
            )));
        }
    }
    js.get_key_value(name)
        .await
        .map_err(|e| BusError::Setup(format!("opening the lease bucket {name}: {e}")))
}

const KEY: &str = "holder";

async fn hold(
    store: kv::Store,
    me: Bytes,
    ttl: Duration,
    tx: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let every = ttl / 3;
    // The revision this process last wrote, and when, while it holds the lease.
    let mut held: Option<(u64, Instant)> = None;
    loop {
        let attempt = Instant::now();
        held = match held {
            Some((revision, _)) => match store.update(KEY, me.clone(), revision).await {
                Ok(revision) => Some((revision, attempt)),
                Err(e) => {
                    tracing::warn!(error = %e, "lost a lease");
                    None
                }
            },
            None => match store.create(KEY, me.clone()).await {
                Ok(revision) => {
                    tracing::info!(bucket = %store.name, "took a lease");
                    Some((revision, attempt))
                }
                Err(_) => None,
            },
        };
        // Never believe in a lease older than its length, whatever the last answer was.
        let holding = held.is_some_and(|(_, at)| at.elapsed() < ttl);
        tx.send_if_modified(|current| std::mem::replace(current, holding) != holding);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tx.send_replace(false);
    if let Some((revision, _)) = held {
        let _ = store.delete_expect_revision(KEY, Some(revision)).await;
    }
}
