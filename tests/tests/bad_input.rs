//! Bad input on both paths gets a clear error naming the problem, loses nothing, and leaves
//! the services serving.

use chrono::Utc;
use futures::StreamExt;
use herald_testkit::db::Backend;
use herald_tests::servers::NatsNode;
use herald_tests::{Service, Stack, WAIT, eventually, trader};
use serde_json::{Value, json};

fn valid() -> Value {
    json!({
        "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": "1H", "confidence": 85, "generated_at": Utc::now().to_rfc3339(),
        "notes": ["fine"]
    })
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v = valid();
    change(v.as_object_mut().expect("object"));
    v.to_string()
}

/// The fields named in a 422's details.
fn fields(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|d| {
                    (
                        d["field"].as_str().unwrap_or("").to_string(),
                        d["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn http_bad_input_gets_clear_errors_and_the_service_keeps_serving() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let alice = trader(4001, "Alice");
    stack.subscribe(&alice).await?;
    let api_key = stack.api_key().await?;
    let key = Some(api_key.as_str());

    // Keys.
    let (s, b) = stack.post_signal(None, valid().to_string()).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("X-API-Key")
    );
    let (s, b) = stack
        .post_signal(Some("hk_not-a-key"), valid().to_string())
        .await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    // Not JSON objects.
    for body in [
        "",
        "{\"kind\": ",
        "[]",
        "\"buy\"",
        "null",
        "{\"kind\": \"buy\",}",
    ] {
        let (s, b) = stack.post_signal(key, body.to_string()).await?;
        assert_eq!(s, 400, "{body:?} → {b}");
        assert_eq!(b["error"]["code"], "malformed_json", "{body:?}");
        assert!(!b["error"]["message"].as_str().unwrap().is_empty());
    }

    // Every rule, broken one at a time: the answer names the field.
    let far_future = (Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong type",
            with(|m| {
                m.insert("confidence".into(), json!("85"));
            }),
            "confidence",
        ),
        (
            "price type",
            with(|m| {
                m.insert("entry_price".into(), json!(true));
            }),
            "entry_price",
        ),
        (
            "notes type",
            with(|m| {
                m.insert("notes".into(), json!("one"));
            }),
            "notes",
        ),
        (
            "unknown kind",
            with(|m| {
                m.insert("kind".into(), json!("hold"));
            }),
            "kind",
        ),
        (
            "bad asset",
            with(|m| {
                m.insert("asset".into(), json!("BTC.USD"));
            }),
            "asset",
        ),
        (
            "zero price",
            with(|m| {
                m.insert("entry_price".into(), json!(0));
            }),
            "entry_price",
        ),
        (
            "negative price",
            with(|m| {
                m.insert("target_price".into(), json!("-5"));
            }),
            "target_price",
        ),
        (
            "stop above entry",
            with(|m| {
                m.insert("stop_loss".into(), json!("45300"));
            }),
            "stop_loss",
        ),
        (
            "target below entry",
            with(|m| {
                m.insert("target_price".into(), json!("45000"));
            }),
            "target_price",
        ),
        (
            "confidence 101",
            with(|m| {
                m.insert("confidence".into(), json!(101));
            }),
            "confidence",
        ),
        (
            "confidence -1",
            with(|m| {
                m.insert("confidence".into(), json!(-1));
            }),
            "confidence",
        ),
        (
            "timeframe",
            with(|m| {
                m.insert("timeframe".into(), json!("7m"));
            }),
            "timeframe",
        ),
        (
            "future",
            with(|m| {
                m.insert("generated_at".into(), json!(far_future));
            }),
            "generated_at",
        ),
        (
            "not a time",
            with(|m| {
                m.insert("generated_at".into(), json!("yesterday"));
            }),
            "generated_at",
        ),
        (
            "missing target",
            with(|m| {
                m.remove("target_price");
            }),
            "target_price",
        ),
        (
            "missing kind",
            with(|m| {
                m.remove("kind");
            }),
            "kind",
        ),
        (
            "too many notes",
            with(|m| {
                m.insert("notes".into(), json!(vec!["n"; 11]));
            }),
            "notes",
        ),
        (
            "long note",
            with(|m| {
                m.insert("notes".into(), json!(["x".repeat(281)]));
            }),
            "notes[0]",
        ),
        (
            "unknown field",
            with(|m| {
                m.insert("confidnce".into(), json!(85));
            }),
            "confidnce",
        ),
        (
            "bad id",
            with(|m| {
                m.insert("id".into(), json!("not-a-uuid"));
            }),
            "id",
        ),
        (
            "alert with prices",
            with(|m| {
                m.insert("kind".into(), json!("alert"));
            }),
            "entry_price",
        ),
        (
            "closes on a buy",
            with(|m| {
                m.insert("closes_signal_id".into(), json!(uuid::Uuid::new_v4()));
            }),
            "closes_signal_id",
        ),
    ];
    for (what, body, field) in &cases {
        let (s, b) = stack.post_signal(key, body.clone()).await?;
        assert_eq!(s, 422, "{what}: {b}");
        assert_eq!(b["error"]["code"], "invalid_signal", "{what}");
        assert!(
            fields(&b).iter().any(|(f, _)| f == field),
            "{what}: expected a problem with {field}, got {b}"
        );
    }
    // Several problems at once are all reported.
    let (s, b) = stack
        .post_signal(
            key,
            with(|m| {
                m.insert("confidence".into(), json!(140));
                m.insert("timeframe".into(), json!("7m"));
            }),
        )
        .await?;
    assert_eq!(s, 422);
    assert_eq!(fields(&b).len(), 2, "{b}");

    // Size and media type.
    let huge = with(|m| {
        m.insert("market_context".into(), json!("x".repeat(70_000)));
    });
    let (s, b) = stack.post_signal(key, huge).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("body_too_large")),
        "{b}"
    );
    let r = reqwest::Client::new()
        .post(format!("{}/api/signals", stack.ingest_url()))
        .header("x-api-key", &api_key)
        .header("content-type", "text/plain")
        .body(valid().to_string())
        .send()
        .await?;
    assert_eq!(r.status(), 415);

    // Still serving: healthy, and a good signal still reaches the trader.
    let health = reqwest::get(format!("{}/api/health", stack.ingest_url())).await?;
    assert_eq!(health.status(), 200);
    let (s, b) = stack.post_signal(key, valid().to_string()).await?;
    assert_eq!(s, 202, "{b}");
    let got = stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    assert!(got[2].text.starts_with("🚨 TRADING SIGNAL: BUY BTC/USD 🚨"));
    assert_eq!(
        stack.telegram.sent_to(alice.id).len(),
        3,
        "no rejected signal was delivered"
    );

    // Operators see the refusals in the metrics.
    let metrics = reqwest::get(stack.metrics_url("INGEST"))
        .await?
        .text()
        .await?;
    for outcome in ["accepted", "invalid", "unauthorized", "too_large"] {
        assert!(
            metrics.contains(&format!(
                "herald_ingest_signals_total{{outcome=\"{outcome}\"}}"
            )),
            "{outcome} missing from /metrics"
        );
    }
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_bad_input_is_dead_lettered_with_its_reason() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let alice = trader(5001, "Alice");
    stack.subscribe(&alice).await?;

    stack
        .publish_raw("signals.v1.BTC-USD", None, b"{not json".to_vec())
        .await?;
    let invalid = with(|m| {
        m.insert("confidence".into(), json!(140));
    });
    stack
        .publish_raw("signals.v1.BTC-USD", None, invalid.clone().into_bytes())
        .await?;
    stack
        .publish_raw("signals.v1.BTC-USD", None, valid().to_string().into_bytes())
        .await?;

    // The valid one still arrives.
    let got = stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    assert!(got[2].text.starts_with("🚨 TRADING SIGNAL: BUY BTC/USD 🚨"));

    // The two bad ones wait on the dead-letter subject, with the reason and the original.
    let js = async_nats::jetstream::new(stack.nats.client().await?);
    let stream_name = format!("{}_dead_letters", stack.nats.prefix);
    let letters = eventually("two dead letters", WAIT, || async {
        let mut stream = js.get_stream(&stream_name).await?;
        let n = stream.info().await?.state.messages;
        Ok((n >= 2).then_some(n))
    })
    .await?;
    assert_eq!(letters, 2);
    let stream = js.get_stream(&stream_name).await?;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await?;
    let mut batch = consumer.fetch().max_messages(2).messages().await?;
    let mut reasons = Vec::new();
    while let Some(msg) = batch.next().await {
        let msg = msg.map_err(|e| anyhow::anyhow!(e))?;
        let headers = msg.headers.clone().expect("headers");
        let reason = headers
            .get(herald_bus::HEADER_REJECTION)
            .expect("reason")
            .to_string();
        let subject = headers
            .get(herald_bus::HEADER_ORIGINAL_SUBJECT)
            .expect("subject")
            .to_string();
        assert_eq!(subject, format!("{}.signals.v1.BTC-USD", stack.nats.prefix));
        reasons.push((reason, msg.payload.to_vec()));
    }
    assert_eq!(reasons.len(), 2);
    // Signals are handled concurrently, so the two may be dead-lettered in either order.
    let reason_for = |payload: &[u8]| {
        reasons
            .iter()
            .find(|(_, p)| p == payload)
            .map(|(r, _)| r.clone())
            .unwrap_or_else(|| panic!("no dead letter for {}", String::from_utf8_lossy(payload)))
    };
    let malformed = reason_for(b"{not json");
    assert!(malformed.contains("malformed"), "{malformed}");
    let out_of_range = reason_for(invalid.as_bytes());
    assert!(out_of_range.contains("confidence"), "{out_of_range}");

    // The dispatcher is still healthy.
    let health = reqwest::get(format!("{}/api/health", stack.ops_url("DISPATCHER"))).await?;
    assert_eq!(health.status(), 200);
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_nats_down_ingest_answers_503_and_recovers() -> anyhow::Result<()> {
    let mut nats = NatsNode::single("").await?;
    let url = nats.url();
    let mut stack = Stack::new(Backend::Sqlite, &[("HERALD_NATS_URL", &url)]).await?;
    stack.herald(&["migrate"]).await?;
    stack.spawn(Service::IngestApi).await?;
    let key = stack.api_key().await?;

    let (s, b) = stack.post_signal(Some(&key), valid().to_string()).await?;
    assert_eq!(s, 202, "{b}");

    nats.kill();
    let (s, b) = stack.post_signal(Some(&key), valid().to_string()).await?;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "unavailable");
    // Readiness runs its checks on every call; the public /api/health answers from a report
    // at most 2 s old, so it says so once that report is renewed.
    let ready = reqwest::get(format!("{}/readyz", stack.ops_url("INGEST_OPS"))).await?;
    assert_eq!(ready.status(), 503);
    eventually("/api/health to say NATS is down", WAIT, || async {
        let health = reqwest::get(format!("{}/api/health", stack.ingest_url())).await?;
        Ok((health.status() == 503).then_some(()))
    })
    .await?;

    nats.start()?;
    nats.ready().await?;
    let accepted = eventually("ingest to accept again", WAIT, || async {
        let (s, _) = stack.post_signal(Some(&key), valid().to_string()).await?;
        Ok((s == 202).then_some(()))
    })
    .await;
    accepted?;
    stack.kill(Service::IngestApi)?;
    drop(nats);
    stack.shutdown_without_nats().await
}
