//! ingest-api through a PostgreSQL outage, for real: the service runs against its own
//! PostgreSQL schema reached through a TCP proxy the test cuts and restores (the server itself
//! stays up for every other test), and publishes to the real JetStream under its own prefix.
//!
//! What it shows, in order: a key verified once keeps working while the database is away and
//! its signals reach JetStream; unknown keys get 503 (the store could not be asked), and a
//! flood of them — before the outage and during it — does not cost the known key its place;
//! liveness stays 200; readiness stays 200 (`degraded`) on a replica that can accept keys from
//! its cache and goes 503 on one that cannot; once the database is back, a key revoked during
//! the outage is refused.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use futures::StreamExt as _;
use herald_runtime::Settings;
use herald_store::Store;
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::tcp_proxy::TcpProxy;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Longest any wait in this test may take before it counts as a failure (not a timing
/// claim: the waits end as soon as their condition holds).
const WAIT: Duration = Duration::from_secs(30);

/// The key cache's ttl for this test, so the revocation shows in seconds rather than the
/// default 30. The bound under test: a key revoked during the outage is refused at the latest
/// `max(revoked + ttl, back + lookup_timeout + retry_after)`, here 2 s after the restore.
const KEY_TTL_SECS: u64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_keys_survive_a_database_outage_and_revocations_apply_after_it() -> anyhow::Result<()>
{
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let (proxied_url, upstream) = through_proxy(db.url()).await?;
    let proxy = TcpProxy::start(upstream).await?;
    let proxied_url = proxied_url.replace("{proxy}", &proxy.addr().to_string());

    // The test's own connection goes straight to the server: it can revoke keys while the
    // service cannot reach the database.
    let direct = Store::open(db.url()).await?;
    let good = create_key(&direct, "engine").await?;
    let doomed = create_key(&direct, "leaked").await?;

    let settings = Settings {
        database_url: proxied_url,
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        ingest_key_cache_ttl_secs: KEY_TTL_SECS,
        ..Settings::default()
    };
    let shutdown = CancellationToken::new();
    let ingest = Ingest::start(settings.clone(), &shutdown).await?;
    // A second replica that never sees a key: nothing to accept from its cache.
    let idle = Ingest::start(settings, &shutdown).await?;
    ingest.wait_for_ready().await?;
    idle.wait_for_ready().await?;

    // Both keys verified once, with the database up.
    let (status, body) = ingest.post(&good, &signal()).await?;
    assert_eq!(status, 202, "{body}");
    let (status, body) = ingest.post(&doomed, &signal()).await?;
    assert_eq!(status, 202, "{body}");

    // A flood of unknown keys while the database answers: all refused, and more of them
    // than the cache holds (the old cache emptied itself when full, dropping good keys too).
    let flood = flood_unknown(&ingest, 10_050).await?;
    assert_eq!(flood, vec![401], "unknown keys with the database up");

    proxy.cut();

    // The known key keeps working, and its signal is in JetStream.
    let sent = signal();
    let (status, body) = ingest.post(&good, &sent).await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(last_signal_id(&nats).await?, sent["id"]);

    // Unknown keys: 503, not 401 — the store could not be asked. A flood of them does not
    // cost the known key its place.
    let (status, body) = ingest.post(&unknown_key(), &signal()).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    let flood = flood_unknown(&ingest, 2_000).await?;
    assert_eq!(flood, vec![503], "unknown keys with the database away");
    let (status, body) = ingest.post(&good, &signal()).await?;
    assert_eq!(status, 202, "{body}");

    // Liveness never looks at the database.
    assert_eq!(ingest.probe("/livez").await?.0, 200);
    assert_eq!(idle.probe("/livez").await?.0, 200);
    // Readiness: the replica with known keys stays in (degraded); the one with none goes out.
    let (status, health) = ingest.probe("/readyz").await?;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("degraded")),
        "{health}"
    );
    let database = check(&health, "database");
    assert_eq!(database["required"], false, "{health}");
    assert_ne!(database["status"], "ok", "{health}");
    assert_eq!(ingest.get("/api/health").await?.0, 200);
    let (status, health) = idle.probe("/readyz").await?;
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("unavailable")),
        "{health}"
    );
    assert_eq!(check(&health, "database")["required"], true, "{health}");

    // Revoked while the service cannot see the database: still accepted from the cache, as
    // documented — nobody can tell this process.
    let revoked = revoke(&direct, &doomed).await?;
    assert!(revoked, "the key was active");
    let (status, body) = ingest.post(&doomed, &signal()).await?;
    assert_eq!(status, 202, "{body}");

    // The database comes back: the revoked key is refused within the bound, and stays refused;
    // the good key keeps working; readiness is ok again on both replicas.
    proxy.restore();
    eventually("the revoked key to be refused", || async {
        let (status, _) = ingest.post(&doomed, &signal()).await?;
        Ok(match status {
            401 => Some(()),
            202 => None,
            other => bail!("the revoked key got {other}"),
        })
    })
    .await?;
    let (status, body) = ingest.post(&doomed, &signal()).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = ingest.post(&good, &signal()).await?;
    assert_eq!(status, 202, "{body}");
    for replica in [&ingest, &idle] {
        eventually("readiness to be ok again", || async {
            let (status, health) = replica.probe("/readyz").await?;
            Ok((status == 200 && health["status"] == "ok").then_some(()))
        })
        .await?;
    }

    shutdown.cancel();
    ingest.stopped().await?;
    idle.stopped().await?;
    direct.close().await?;
    drop(proxy);
    nats.cleanup().await?;
    db.cleanup().await
}

/// One ingest-api running in this process on a port of its own.
struct Ingest {
    url: String,
    /// The metrics and probes.
    ops_url: String,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Ingest {
    async fn start(settings: Settings, shutdown: &CancellationToken) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let ops = TcpListener::bind("127.0.0.1:0").await?;
        let ops_url = format!("http://{}", ops.local_addr()?);
        let task = tokio::spawn(herald_ingest_api::run(
            settings,
            listener,
            ops,
            shutdown.child_token(),
        ));
        Ok(Self {
            url,
            ops_url,
            client: reqwest::Client::new(),
            task,
        })
    }

    async fn wait_for_ready(&self) -> anyhow::Result<()> {
        eventually("ingest-api to be ready", || async {
            if self.task.is_finished() {
                bail!("ingest-api stopped before it was ready");
            }
            Ok(match self.probe("/readyz").await {
                Ok((200, _)) => Some(()),
                _ => None,
            })
        })
        .await
    }

    async fn post(&self, key: &str, signal: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client
            .post(format!("{}/api/signals", self.url))
            .header("x-api-key", key)
            .json(signal)
            .send()
            .await?;
        answer(response).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.get_from(&self.url, path).await
    }

    /// A probe, on the operational address.
    async fn probe(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.get_from(&self.ops_url, path).await
    }

    async fn get_from(&self, base: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        answer(self.client.get(format!("{base}{path}")).send().await?).await
    }

    async fn stopped(self) -> anyhow::Result<()> {
        self.task.await.context("ingest-api task")?
    }
}

async fn answer(response: reqwest::Response) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Posts a signal with each of `count` made-up keys, 32 at a time; returns the distinct
/// statuses they got.
async fn flood_unknown(ingest: &Ingest, count: usize) -> anyhow::Result<Vec<u16>> {
    let body = signal();
    let statuses: Vec<anyhow::Result<u16>> = futures::stream::iter(0..count)
        .map(|_| {
            let body = &body;
            async move { Ok(ingest.post(&unknown_key(), body).await?.0) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut distinct = statuses.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    distinct.sort_unstable();
    distinct.dedup();
    Ok(distinct)
}

/// `url` with its host and port replaced by `{proxy}`, and the address it pointed at.
async fn through_proxy(url: &str) -> anyhow::Result<(String, SocketAddr)> {
    let start = url.find("://").context("a URL")? + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    let host_port = &rest[host_start..authority_end];
    let target = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    };
    let upstream = tokio::net::lookup_host(&target)
        .await?
        .next()
        .with_context(|| format!("resolving {target}"))?;
    let proxied = format!(
        "{}{{proxy}}{}",
        &url[..start + host_start],
        &rest[authority_end..]
    );
    Ok((proxied, upstream))
}

async fn create_key(store: &Store, name: &str) -> anyhow::Result<String> {
    let generated = herald_auth::generate();
    store
        .create_api_key(
            herald_store::NewApiKey::ingest(name, &generated.hash, &generated.prefix),
            Utc::now(),
        )
        .await?;
    Ok(herald_auth::reveal(&generated).to_string())
}

async fn revoke(store: &Store, key: &str) -> anyhow::Result<bool> {
    let record = store
        .active_api_key_by_hash(&herald_auth::hash_key(key))
        .await?
        .context("the key is stored")?;
    Ok(store.revoke_api_key(record.id, Utc::now()).await?)
}

fn unknown_key() -> String {
    herald_auth::reveal(&herald_auth::generate()).to_string()
}

/// A valid signal with a fresh id.
fn signal() -> Value {
    json!({
        "id": uuid::Uuid::new_v4(),
        "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": "1H", "confidence": 85,
        "generated_at": Utc::now().to_rfc3339(),
        "source_model": "outage-test"
    })
}

/// The id of the last signal JetStream stored for BTC/USD under this test's prefix.
async fn last_signal_id(nats: &TestNats) -> anyhow::Result<Value> {
    let js = async_nats::jetstream::new(nats.client().await?);
    let subjects = herald_bus::Subjects::new(&nats.prefix);
    let stream = js.get_stream(subjects.signals_stream()).await?;
    let message = stream
        .get_last_raw_message_by_subject(&format!("{}.signals.v1.BTC-USD", nats.prefix))
        .await?;
    let stored: Value = serde_json::from_slice(&message.payload)?;
    Ok(stored["id"].clone())
}

fn check<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

/// Waits until `probe` returns `Some`, polling every 50 ms, up to [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {WAIT:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
