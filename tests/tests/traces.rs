//! One signal, one trace: with `HERALD_OTLP_ENDPOINT` pointing at an OTLP receiver, a signal
//! posted over HTTP and one the Signal Engine publishes straight onto NATS (with its own
//! `traceparent`) each yield one trace — ingest, publish, fan-out, the delivery and its
//! `sendMessage` call — correctly parented across processes, over OTLP/HTTP with the four
//! binaries and over OTLP/gRPC with `herald all`; and the services' log lines inside those
//! spans carry the trace's id.

use std::time::Duration;

use herald_testkit::db::Backend;
use herald_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use herald_tests::{Stack, WAIT, buy_signal, eventually, trader};

/// Long enough for the batches (exported every 200 ms here) to arrive.
const SPANS: Duration = Duration::from_secs(30);

/// The spans of `trace_id`.
fn of_trace<'a>(spans: &'a [ReceivedSpan], trace_id: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.trace_id == trace_id).collect()
}

/// The one span of `trace` named `name`, of `kind`, whose parent is `parent`.
fn child<'a>(
    trace: &[&'a ReceivedSpan],
    name: impl Fn(&str) -> bool,
    kind: &str,
    parent: &str,
) -> &'a ReceivedSpan {
    let found: Vec<_> = trace
        .iter()
        .filter(|s| name(&s.name) && s.kind == kind && s.parent_span_id == parent)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {kind} span under {parent} expected; the trace: {trace:#?}"
    );
    found[0]
}

/// The chain below the publish: `process <subject>` (dispatcher, consumer) → `deliver` →
/// `sendMessage` (client), each the child of the one before.
fn assert_fan_out_and_delivery(trace: &[&ReceivedSpan], publish_span: &str, dispatcher: &str) {
    let process = child(
        trace,
        |n| n.starts_with("process ") && n.contains(".signals.v1.BTC-USD"),
        "consumer",
        publish_span,
    );
    assert_eq!(process.service, dispatcher);
    assert_eq!(process.attributes["messaging.system"], "nats");
    assert_eq!(process.attributes["messaging.operation.type"], "process");
    assert_eq!(process.attributes["herald.signal.outcome"], "dispatched");
    let deliver = child(trace, |n| n == "deliver", "internal", &process.span_id);
    assert_eq!(deliver.attributes["herald.job"], "signal");
    assert_eq!(deliver.attributes["herald.delivery.outcome"], "sent");
    let send = child(trace, |n| n == "sendMessage", "client", &deliver.span_id);
    assert_eq!(send.attributes["herald.telegram.outcome"], "ok");
    assert_eq!(send.service, dispatcher);
}

#[tokio::test]
async fn a_signal_over_http_and_one_over_nats_each_make_one_trace_over_otlp_http()
-> anyhow::Result<()> {
    let otlp = OtlpReceiver::start().await?;
    let stack = Stack::start_separate(
        Backend::Sqlite,
        &[
            ("HERALD_OTLP_ENDPOINT", otlp.http_url()),
            ("HERALD_TRACE_DELIVERY_RATIO", "1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )
    .await?;
    let alice = trader(3001, "Alice");
    stack.subscribe(&alice).await?;
    let key = stack.api_key().await?;

    // 1. Over HTTP: ingest-api starts the trace.
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy_signal(uuid::Uuid::new_v4(), "BTC/USD").to_string(),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    let spans = otlp
        .wait_for(
            |spans| {
                spans
                    .iter()
                    .filter(|s| s.name == "POST /api/signals")
                    .any(|server| {
                        of_trace(spans, &server.trace_id)
                            .iter()
                            .any(|s| s.name == "sendMessage")
                    })
            },
            SPANS,
        )
        .await;
    let server = spans
        .iter()
        .find(|s| s.name == "POST /api/signals")
        .expect("the request's span");
    assert_eq!(server.kind, "server");
    assert_eq!(server.service, "herald-ingest-api");
    assert_eq!(server.parent_span_id, "", "the request starts the trace");
    assert_eq!(server.attributes["http.route"], "/api/signals");
    assert_eq!(server.attributes["http.response.status_code"], "202");
    let trace = of_trace(&spans, &server.trace_id);
    let publish = child(
        &trace,
        |n| n.starts_with("publish ") && n.ends_with(".signals.v1.BTC-USD"),
        "producer",
        &server.span_id,
    );
    assert_eq!(publish.attributes["messaging.system"], "nats");
    assert_fan_out_and_delivery(&trace, &publish.span_id, "herald-dispatcher");
    // The trace context rides beside the signal's id, which JetStream dedupes by.
    let process = trace
        .iter()
        .find(|s| s.kind == "consumer")
        .expect("checked above");
    assert_eq!(
        process.attributes["messaging.message.id"],
        publish.attributes["messaging.message.id"]
    );

    // 2. Straight onto NATS, with the engine's own trace context.
    let engine_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let engine_span = "00f067aa0ba902b7";
    let id = uuid::Uuid::new_v4();
    let client = stack.nats.client().await?;
    let js = async_nats::jetstream::new(client);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id.to_string().as_str());
    headers.insert(
        "traceparent",
        format!("00-{engine_trace}-{engine_span}-01").as_str(),
    );
    js.publish_with_headers(
        format!("{}.signals.v1.BTC-USD", stack.nats.prefix),
        headers,
        buy_signal(id, "BTC/USD").to_string().into(),
    )
    .await?
    .await?;
    stack.telegram.wait_for_messages(alice.id, 4, WAIT).await?;
    let spans = otlp
        .wait_for(
            |spans| {
                let trace = of_trace(spans, engine_trace);
                trace.iter().any(|s| s.name == "sendMessage")
            },
            SPANS,
        )
        .await;
    let trace = of_trace(&spans, engine_trace);
    assert_fan_out_and_delivery(&trace, engine_span, "herald-dispatcher");
    assert!(
        spans.iter().all(|s| s.transport == "http"),
        "exported over OTLP/HTTP"
    );

    // Log lines inside those spans name the trace.
    let logs = stack.logs_text();
    for trace_id in [server.trace_id.as_str(), engine_trace] {
        assert!(
            logs.contains(&format!("\"trace_id\":\"{trace_id}\""))
                || logs.contains(&format!(" trace_id={trace_id} ")),
            "no log line carries trace {trace_id}"
        );
    }
    stack.shutdown().await
}

#[tokio::test]
async fn always_on_sampling_exports_every_delivery_over_otlp_grpc() -> anyhow::Result<()> {
    let otlp = OtlpReceiver::start().await?;
    let stack = Stack::start_all(
        Backend::Sqlite,
        &[
            ("HERALD_OTLP_ENDPOINT", otlp.grpc_url()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_SERVICE_NAME", "herald-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    )
    .await?;
    let traders = [
        trader(3101, "Ann"),
        trader(3102, "Ben"),
        trader(3103, "Cid"),
    ];
    for t in &traders {
        stack.subscribe(t).await?;
    }
    let key = stack.api_key().await?;
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy_signal(uuid::Uuid::new_v4(), "BTC/USD").to_string(),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    for t in &traders {
        stack.telegram.wait_for_messages(t.id, 3, WAIT).await?;
    }
    let spans = eventually("every delivery's spans", SPANS, || async {
        let spans = otlp.spans();
        let Some(server) = spans.iter().find(|s| s.name == "POST /api/signals") else {
            return Ok(None);
        };
        let trace = of_trace(&spans, &server.trace_id);
        let sends = trace.iter().filter(|s| s.name == "sendMessage").count();
        Ok((sends == traders.len()).then(|| spans.clone()))
    })
    .await?;
    let server = spans
        .iter()
        .find(|s| s.name == "POST /api/signals")
        .expect("found above");
    assert_eq!(
        server.service, "herald-under-test",
        "OTEL_SERVICE_NAME wins"
    );
    let trace = of_trace(&spans, &server.trace_id);
    let deliveries: Vec<_> = trace.iter().filter(|s| s.name == "deliver").collect();
    assert_eq!(deliveries.len(), traders.len(), "{trace:#?}");
    let process = trace
        .iter()
        .find(|s| s.name.starts_with("process "))
        .expect("the fan-out's span");
    for d in &deliveries {
        assert_eq!(d.parent_span_id, process.span_id);
    }
    assert!(spans.iter().all(|s| s.transport == "grpc"));
    stack.shutdown().await
}
