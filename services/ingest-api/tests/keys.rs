//! API keys on `POST /api/signals`: the scope `signals:write`, the allow-list (and the
//! `X-Forwarded-For` setting), the per-key rate limit, revocation within the cache's
//! lifetime, `last_used_at`, and the error body for what has no route. ingest-api runs
//! in-process on port 0 against its own PostgreSQL schema and NATS prefix.

use std::time::Duration;

use anyhow::ensure;
use chrono::{SecondsFormat, Utc};
use herald_domain::Scope;
use herald_runtime::Settings;
use herald_store::{NewApiKey, Store};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(15);

struct Ingest {
    url: String,
    store: Store,
    nats: TestNats,
    db: TestDatabase,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(tweak: impl FnOnce(&mut Settings)) -> anyhow::Result<Ingest> {
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let mut settings = Settings {
        database_url: db.url().to_string(),
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        ..Settings::default()
    };
    tweak(&mut settings);
    settings.validate()?;
    let store = Store::open(db.url()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let task = tokio::spawn(herald_ingest_api::run(
        settings,
        listener,
        ops,
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !reqwest::get(format!("{url}/api/health"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "ingest-api did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Ingest {
        url,
        store,
        nats,
        db,
        shutdown,
        task,
    })
}

impl Ingest {
    async fn key(
        &self,
        scopes: &[Scope],
        allowed: &[&str],
        rate_limit: Option<u32>,
    ) -> anyhow::Result<(Uuid, String)> {
        let generated = herald_auth::generate();
        let mut key = NewApiKey::ingest("test", &generated.hash, &generated.prefix);
        key.scopes = scopes.to_vec();
        key.allowed_ips = allowed.iter().map(|s| s.to_string()).collect();
        key.rate_limit = rate_limit;
        let stored = self.store.create_api_key(key, Utc::now()).await?;
        Ok((stored.id, herald_auth::reveal(&generated).to_string()))
    }

    async fn post(&self, key: &str, forwarded: Option<&str>) -> anyhow::Result<(u16, Value)> {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/signals", self.url))
            .header("x-api-key", key)
            .json(&json!({
                "id": Uuid::now_v7(), "kind": "alert", "asset": "BTC/USD", "confidence": 60,
                "generated_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                "notes": ["keys test"],
            }));
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        let response = request.send().await?;
        Ok((response.status().as_u16(), response.json().await?))
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.store.close().await?;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}

fn refused(got: &(u16, Value), status: u16, code: &str, says: &str) -> anyhow::Result<()> {
    ensure!(
        got.0 == status
            && got.1["error"]["code"] == code
            && got.1["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
        "expected {status} {code} saying {says:?}, got {got:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_held_to_their_scope_addresses_and_rate() -> anyhow::Result<()> {
    let ingest = start(|s| s.ingest_key_cache_ttl_secs = 1).await?;
    let (_, stats_only) = ingest.key(&[Scope::StatsRead], &[], None).await?;
    refused(
        &ingest.post(&stats_only, None).await?,
        403,
        "forbidden",
        "lacks the scope signals:write",
    )?;
    let (_, elsewhere) = ingest
        .key(&[Scope::SignalsWrite], &["10.0.0.0/8"], None)
        .await?;
    refused(
        &ingest.post(&elsewhere, None).await?,
        403,
        "forbidden",
        "127.0.0.1",
    )?;
    // Without HERALD_TRUST_FORWARDED_FOR the header changes nothing.
    refused(
        &ingest.post(&elsewhere, Some("10.1.2.3")).await?,
        403,
        "forbidden",
        "127.0.0.1",
    )?;
    let (_, local) = ingest
        .key(&[Scope::SignalsWrite], &["127.0.0.0/8"], None)
        .await?;
    ensure!(ingest.post(&local, None).await?.0 == 202);

    let (_, limited) = ingest.key(&[Scope::SignalsWrite], &[], Some(2)).await?;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(ingest.post(&limited, None).await?.0);
    }
    ensure!(
        statuses[..2] == [202, 202] && statuses.contains(&429),
        "{statuses:?}"
    );
    let response = reqwest::Client::new()
        .post(format!("{}/api/signals", ingest.url))
        .header("x-api-key", &limited)
        .json(&json!({}))
        .send()
        .await?;
    if response.status() == 429 {
        ensure!(response.headers().contains_key("retry-after"));
    }

    // Revoked: refused once the cache's answer is older than its lifetime (1 s here).
    let (id, revoked) = ingest.key(&[Scope::SignalsWrite], &[], None).await?;
    ensure!(ingest.post(&revoked, None).await?.0 == 202);
    ingest.store.revoke_api_key(id, Utc::now()).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = ingest.post(&revoked, None).await?;
        if got.0 == 401 {
            refused(&got, 401, "unauthorized", "invalid API key")?;
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "a revoked key still works: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No route: the error body, not an empty 404.
    let nothing = reqwest::get(format!("{}/api/nothing", ingest.url)).await?;
    ensure!(nothing.status() == 404);
    let body: Value = nothing.json().await?;
    ensure!(body["error"]["code"] == "not_found", "{body}");

    // Keys' use is written when the service stops (and every minute while it runs).
    let store = Store::open(ingest.db.url()).await?;
    ingest.shutdown.cancel();
    let Ingest {
        task,
        store: own,
        nats,
        db,
        ..
    } = ingest;
    tokio::time::timeout(WAIT, task).await???;
    let keys = store.list_api_keys(true).await?;
    let used: Vec<bool> = keys.iter().map(|k| k.last_used_at.is_some()).collect();
    // stats_only and elsewhere were refused: never used. local, limited, revoked were.
    ensure!(used == [false, false, true, true, true], "{used:?}");
    store.close().await?;
    own.close().await?;
    nats.cleanup().await?;
    db.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_rightmost_forwarded_address_counts() -> anyhow::Result<()> {
    let ingest = start(|s| s.trust_forwarded_for = true).await?;
    let (_, office) = ingest
        .key(&[Scope::SignalsWrite], &["10.0.0.0/8"], None)
        .await?;
    ensure!(ingest.post(&office, Some("10.1.2.3")).await?.0 == 202);
    // A client that writes its own entry first cannot get past the proxy's.
    refused(
        &ingest.post(&office, Some("10.1.2.3, 192.0.2.9")).await?,
        403,
        "forbidden",
        "192.0.2.9",
    )?;
    ingest.stop().await
}
