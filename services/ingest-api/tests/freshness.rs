//! `POST /api/signals` refuses a signal already past its deadline (its `valid_until`, else one
//! bar of its timeframe, else `HERALD_SIGNAL_TTL_SECS` after `generated_at`) with 422, and
//! publishes nothing for it; fresh signals, `valid_until` included, are accepted. Each test
//! runs ingest-api in-process on port 0 against its own PostgreSQL schema and NATS prefix.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use herald_runtime::Settings;
use herald_store::Store;
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(15);

/// ingest-api running in this test, with a key to call it with.
struct Ingest {
    url: String,
    /// The metrics and probes.
    ops_url: String,
    key: String,
    store: Store,
    nats: TestNats,
    db: TestDatabase,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts ingest-api with `HERALD_SIGNAL_TTL_SECS` set to `ttl_secs`.
async fn start(ttl_secs: u64) -> anyhow::Result<Ingest> {
    let db = TestDatabase::postgres().await?;
    let nats = TestNats::new();
    let settings = Settings {
        database_url: db.url().to_string(),
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        signal_ttl_secs: ttl_secs,
        ..Settings::default()
    };
    settings.validate()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let ops_url = format!("http://{}", ops.local_addr()?);
    let task = tokio::spawn(herald_ingest_api::run(
        settings,
        listener,
        ops,
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let healthy = reqwest::get(format!("{url}/api/health"))
            .await
            .is_ok_and(|r| r.status() == 200);
        if healthy {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "ingest-api did not become healthy within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = Store::connect(db.url()).await?;
    let generated = herald_auth::generate();
    store
        .create_api_key(
            herald_store::NewApiKey::ingest("freshness-test", &generated.hash, &generated.prefix),
            Utc::now(),
        )
        .await?;
    Ok(Ingest {
        url,
        ops_url,
        key: herald_auth::reveal(&generated).to_string(),
        store,
        nats,
        db,
        shutdown,
        task,
    })
}

impl Ingest {
    /// Posts `body`; returns the status and the JSON answer.
    async fn post(&self, body: &Value) -> anyhow::Result<(u16, Value)> {
        let r = reqwest::Client::new()
            .post(format!("{}/api/signals", self.url))
            .header("x-api-key", &self.key)
            .json(body)
            .send()
            .await?;
        Ok((r.status().as_u16(), r.json().await?))
    }

    /// How many signals are on the bus.
    async fn published(&self) -> anyhow::Result<u64> {
        let js = async_nats::jetstream::new(self.nats.client().await?);
        let mut stream = js
            .get_stream(format!("{}_signals", self.nats.prefix))
            .await?;
        Ok(stream.info().await?.state.messages)
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.store.close().await?;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A buy on `timeframe`, generated `age` ago (whole seconds, so messages are predictable).
fn buy(timeframe: &str, age: TimeDelta) -> Value {
    json!({
        "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": timeframe, "confidence": 85, "generated_at": rfc(now_secs() - age)
    })
}

fn close(age: TimeDelta) -> Value {
    json!({"kind": "close", "asset": "BTC/USD", "confidence": 90,
           "generated_at": rfc(now_secs() - age)})
}

fn now_secs() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is a valid time")
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// Asserts a 422 `invalid_signal` whose one detail is `field` with `code`; returns the detail's
/// message.
fn assert_refused(status: u16, body: &Value, field: &str, code: &str) -> String {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_signal", "{body}");
    let details = body["error"]["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{body}");
    assert_eq!(details[0]["field"], field, "{body}");
    assert_eq!(details[0]["code"], code, "{body}");
    details[0]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_one_bar_old_is_refused_as_stale() -> anyhow::Result<()> {
    let ingest = start(900).await?;
    let signal = buy("1H", TimeDelta::minutes(61));
    let expired = rfc(now_secs() - TimeDelta::minutes(1));
    let (status, body) = ingest.post(&signal).await?;
    let message = assert_refused(status, &body, "generated_at", "stale");
    assert!(
        message.starts_with(&format!(
            "expired at {expired}, one 1H bar after generated_at; received at "
        )),
        "{message}"
    );
    assert!(
        message.ends_with("it would reach traders too late"),
        "{message}"
    );
    let top = body["error"]["message"].as_str().unwrap();
    assert!(
        top.starts_with("the signal has 1 problem: generated_at expired at "),
        "{top}"
    );

    // A 15m signal 16 minutes old is stale too; one 59 minutes old on 1H is not.
    let (status, body) = ingest.post(&buy("15m", TimeDelta::minutes(16))).await?;
    assert_refused(status, &body, "generated_at", "stale");
    assert_eq!(ingest.published().await?, 0, "nothing stale was published");
    let (status, body) = ingest.post(&buy("1H", TimeDelta::minutes(59))).await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(ingest.published().await?, 1);

    // Operators see stale signals apart from other refusals.
    let metrics = reqwest::get(format!("{}/metrics", ingest.ops_url))
        .await?
        .text()
        .await?;
    let stale = metrics
        .lines()
        .find(|l| l.starts_with("herald_ingest_signals_total{outcome=\"stale\"}"))
        .expect("a stale outcome in /metrics");
    assert_ne!(stale.rsplit(' ').next(), Some("0"), "{stale}");
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engines_valid_until_decides_both_ways() -> anyhow::Result<()> {
    let ingest = start(900).await?;
    // A daily signal the engine gave five minutes; they are up.
    let passed = rfc(now_secs() - TimeDelta::minutes(1));
    let signal = with(
        buy("1D", TimeDelta::minutes(6)),
        "valid_until",
        json!(passed),
    );
    let (status, body) = ingest.post(&signal).await?;
    let message = assert_refused(status, &body, "valid_until", "stale");
    assert!(
        message.starts_with(&format!(
            "expired at {passed}, its valid_until; received at "
        )),
        "{message}"
    );

    // A one-minute signal five minutes old that the engine keeps valid for ten more.
    let until = rfc(now_secs() + TimeDelta::minutes(10));
    let signal = with(
        buy("1m", TimeDelta::minutes(5)),
        "valid_until",
        json!(until),
    );
    let (status, body) = ingest.post(&signal).await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(ingest.published().await?, 1);
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_close_lives_for_the_configured_ttl() -> anyhow::Result<()> {
    let ingest = start(900).await?;
    let (status, body) = ingest.post(&close(TimeDelta::minutes(16))).await?;
    let message = assert_refused(status, &body, "generated_at", "stale");
    assert!(
        message.contains(
            ", 900 s after generated_at (the lifetime of a close signal without a timeframe);"
        ),
        "{message}"
    );
    let (status, body) = ingest.post(&close(TimeDelta::minutes(14))).await?;
    assert_eq!(status, 202, "{body}");
    ingest.stop().await?;

    // With an hour's TTL, the same 16-minute-old close is still fresh.
    let ingest = start(3600).await?;
    let (status, body) = ingest.post(&close(TimeDelta::minutes(16))).await?;
    assert_eq!(status, 202, "{body}");
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_until_before_generated_at_is_invalid() -> anyhow::Result<()> {
    let ingest = start(900).await?;
    let generated = now_secs() - TimeDelta::minutes(1);
    let signal = with(
        with(
            buy("1H", TimeDelta::zero()),
            "generated_at",
            json!(rfc(generated)),
        ),
        "valid_until",
        json!(rfc(generated - TimeDelta::seconds(30))),
    );
    let (status, body) = ingest.post(&signal).await?;
    let message = assert_refused(status, &body, "valid_until", "out_of_range");
    assert_eq!(
        message,
        format!(
            "must be after generated_at ({}), got {}",
            rfc(generated),
            rfc(generated - TimeDelta::seconds(30))
        )
    );
    let far = with(
        buy("1H", TimeDelta::zero()),
        "valid_until",
        json!(rfc(now_secs() + TimeDelta::days(31))),
    );
    let (status, body) = ingest.post(&far).await?;
    let message = assert_refused(status, &body, "valid_until", "out_of_range");
    assert!(
        message.contains("at most 30 days after generated_at"),
        "{message}"
    );
    assert_eq!(ingest.published().await?, 0);
    ingest.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_resend_of_an_accepted_signal_is_a_duplicate() -> anyhow::Result<()> {
    let ingest = start(900).await?;
    // Accepted and stored while it was fresh; the engine retries after its deadline.
    let signal = with(
        buy("1H", TimeDelta::minutes(90)),
        "id",
        json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90"),
    );
    let generated: DateTime<Utc> = signal["generated_at"].as_str().unwrap().parse()?;
    let received = generated + TimeDelta::seconds(2);
    let parsed = herald_domain::parse_signal(signal.to_string().as_bytes(), received)?;
    let deadline = parsed.deadline(std::time::Duration::from_secs(900));
    ingest
        .store
        .insert_signal(&parsed, received, deadline)
        .await?;

    let (status, body) = ingest.post(&signal).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90", "status": "duplicate"})
    );
    // One never accepted is refused.
    let other = with(signal, "id", json!("0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a91"));
    let (status, body) = ingest.post(&other).await?;
    assert_refused(status, &body, "generated_at", "stale");
    ingest.stop().await
}
