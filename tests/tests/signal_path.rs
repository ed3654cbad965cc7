//! The signal path end to end: traders subscribe through the bot, the Signal Engine sends
//! signals over HTTP and straight onto NATS, and exactly the eligible traders receive exactly
//! the right message — on SQLite with `herald all`, and on PostgreSQL with the four binaries.

use chrono::{DateTime, SubsecRound, Utc};
use herald_domain::{DeliveryStatus, Preferences, SignalFormat, SignalKind, parse_signal, render};
use herald_testkit::db::Backend;
use herald_testkit::telegram::Fault;
use herald_tests::{Stack, WAIT, eventually, trader};
use serde_json::json;

/// The product spec's example signal (§3.1), generated at `at`.
fn spec_signal(id: uuid::Uuid, at: DateTime<Utc>) -> serde_json::Value {
    json!({
        "id": id,
        "kind": "buy",
        "asset": "BTC/USD",
        "entry_price": 45250,
        "target_price": "46500",
        "stop_loss": "44500",
        "timeframe": "1H",
        "confidence": 85,
        "generated_at": at.to_rfc3339(),
        "notes": [
            "Strong bullish momentum detected",
            "Breaking above key resistance level",
            "Increasing volume supporting the move"
        ]
    })
}

/// The spec's message, line for line, for [`spec_signal`].
fn spec_message(at: DateTime<Utc>) -> String {
    format!(
        "🚨 TRADING SIGNAL: BUY BTC/USD 🚨\n\
         \n\
         📊 Signal Details:\n\
         - Direction: BUY\n\
         - Asset: BTC/USD\n\
         - Entry Price: $45,250\n\
         - Target Price: $46,500 (+2.76%)\n\
         - Stop Loss: $44,500 (-1.66%)\n\
         - Timeframe: 1H\n\
         \n\
         📈 Signal Confidence: 85%\n\
         ⏱️ Signal Generated: {} UTC\n\
         \n\
         📝 Notes:\n\
         - Strong bullish momentum detected\n\
         - Breaking above key resistance level\n\
         - Increasing volume supporting the move\n\
         \n\
         #BTC #Trading #Signal",
        at.format("%Y-%m-%d %H:%M:%S")
    )
}

async fn signal_path(stack: Stack) -> anyhow::Result<()> {
    let alice = trader(1001, "Alice"); // subscribed, default preferences
    let bob = trader(1002, "Bob"); // registered, never subscribed
    let carol = trader(1003, "Carol"); // subscribed, then blocked the bot
    let dave = trader(1004, "Dave"); // subscribed, wants confidence >= 90
    let erin = trader(1005, "Erin"); // subscribed, wants sell signals only
    let frank = trader(1006, "Frank"); // subscribed, then unsubscribed
    for t in [&alice, &carol, &dave, &erin, &frank] {
        stack.subscribe(t).await?;
    }
    stack.start_only(&bob).await?;
    stack.telegram.inject_message(&frank, "/unsubscribe");
    stack.telegram.wait_for_messages(frank.id, 3, WAIT).await?;
    stack.telegram.set_fault(carol.id, Fault::BotBlocked);

    let store = stack.store().await?;
    let user = |id| {
        let store = store.clone();
        async move {
            store
                .user_by_telegram_id(id)
                .await
                .map(|u| u.expect("registered"))
        }
    };
    let dave_id = user(dave.id).await?.id;
    store
        .set_preferences(
            dave_id,
            &Preferences {
                min_confidence: 90,
                ..Preferences::default()
            },
            Utc::now(),
        )
        .await?;
    let erin_id = user(erin.id).await?.id;
    store
        .set_preferences(
            erin_id,
            &Preferences {
                format: SignalFormat::Compact,
                ..Preferences::with_kinds([SignalKind::Sell])
            },
            Utc::now(),
        )
        .await?;

    // 1. Over HTTP.
    let key = stack.api_key().await?;
    let at = Utc::now().trunc_subsecs(0);
    let id = uuid::Uuid::new_v4();
    let (status, body) = stack
        .post_signal(Some(&key), spec_signal(id, at).to_string())
        .await?;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["status"], "accepted");

    let got = stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    assert_eq!(got[2].text, spec_message(at));

    let signal_id = herald_domain::SignalId(id);
    let deliveries = eventually("both deliveries to end", WAIT, || async {
        let d = store.deliveries_for_signal(signal_id).await?;
        Ok((d.len() == 2 && d.iter().all(|d| d.status.is_final())).then_some(d))
    })
    .await?;
    let alice_id = user(alice.id).await?.id;
    let carol_id = user(carol.id).await?.id;
    let by_user = |u| {
        deliveries
            .iter()
            .find(|d| d.user_id == Some(u))
            .expect("a delivery")
    };
    assert_eq!(by_user(alice_id).status, DeliveryStatus::Sent);
    assert_eq!(
        by_user(alice_id).telegram_message_id,
        Some(i64::from(got[2].message_id))
    );
    assert_eq!(by_user(carol_id).status, DeliveryStatus::Blocked);
    // The delivery is recorded `blocked` before the trader is marked inactive: wait for both.
    eventually(
        "a trader who blocked the bot to be inactive",
        WAIT,
        || async { Ok((!user(carol.id).await?.is_active).then_some(())) },
    )
    .await?;

    // 2. Straight onto NATS, as the Signal Engine may publish.
    let sell_id = uuid::Uuid::new_v4();
    let sell = json!({
        "id": sell_id,
        "kind": "SELL",
        "asset": "eth/usd",
        "entry_price": "3120.5",
        "target_price": 3010,
        "stop_loss": "3175.25",
        "timeframe": "15m",
        "confidence": 95,
        "generated_at": Utc::now().to_rfc3339(),
        "source_model": "mean-revert <v2> & co",
        "market_context": "Range-bound after CPI",
    });
    let sell_bytes = serde_json::to_vec(&sell)?;
    stack
        .publish_raw(
            "signals.v1.ETH-USD",
            Some(&sell_id.to_string()),
            sell_bytes.clone(),
        )
        .await?;
    let parsed = parse_signal(&sell_bytes, Utc::now()).expect("a valid signal");
    let got = stack.telegram.wait_for_messages(alice.id, 4, WAIT).await?;
    assert_eq!(
        got[3].text,
        visible(&render(&parsed, SignalFormat::Detailed))
    );
    assert!(
        got[3].text.contains("mean-revert <v2> & co"),
        "escaped HTML shows as typed"
    );
    let got = stack.telegram.wait_for_messages(dave.id, 3, WAIT).await?;
    assert_eq!(
        got[2].text,
        visible(&render(&parsed, SignalFormat::Detailed))
    );
    let got = stack.telegram.wait_for_messages(erin.id, 3, WAIT).await?;
    assert_eq!(
        got[2].text,
        visible(&render(&parsed, SignalFormat::Compact))
    );

    let sell_signal = herald_domain::SignalId(sell_id);
    eventually("sell deliveries to end", WAIT, || async {
        let d = store.deliveries_for_signal(sell_signal).await?;
        Ok((d.len() == 3 && d.iter().all(|d| d.status.is_final())).then_some(()))
    })
    .await?;

    // 3. Nobody else got anything: Bob only his welcome, Frank only his three answers,
    //    Carol only her two answers,
    //    Dave nothing from the 85 % buy, Erin nothing from the buy.
    assert_eq!(stack.telegram.sent_to(bob.id).len(), 1);
    assert_eq!(
        stack.telegram.sent_to(frank.id).len(),
        3,
        "Frank unsubscribed"
    );
    assert_eq!(stack.telegram.sent_to(carol.id).len(), 2);
    assert_eq!(stack.telegram.sent_to(dave.id).len(), 3);
    assert_eq!(stack.telegram.sent_to(erin.id).len(), 3);
    assert_eq!(stack.telegram.sent_to(alice.id).len(), 4);
    stack.shutdown().await
}

/// The text as the trader sees it: tags stripped, entities decoded.
fn visible(html: &str) -> String {
    herald_testkit::telegram::visible_text(html).expect("valid Telegram HTML")
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_reach_eligible_traders_sqlite_all_in_one() -> anyhow::Result<()> {
    signal_path(Stack::start_all(Backend::Sqlite, &[]).await?).await
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_reach_eligible_traders_postgres_separate_binaries() -> anyhow::Result<()> {
    signal_path(Stack::start_separate(Backend::Postgres, &[]).await?).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_signal_twice_is_reported_duplicate_and_delivered_once() -> anyhow::Result<()> {
    // A short JetStream window, so the test also sees a re-post after it has passed.
    let stack =
        Stack::start_all(Backend::Sqlite, &[("HERALD_SIGNAL_DEDUP_WINDOW_SECS", "2")]).await?;
    let alice = trader(2001, "Alice");
    stack.subscribe(&alice).await?;
    let key = stack.api_key().await?;
    let at = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(30);
    let id = uuid::Uuid::new_v4();
    let body = spec_signal(id, at).to_string();
    let posted = std::time::Instant::now();
    let (first, _) = stack.post_signal(Some(&key), body.clone()).await?;
    let (second, answer) = stack.post_signal(Some(&key), body.clone()).await?;
    assert_eq!(first, 202);
    assert_eq!(second, 200, "{answer}");
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(answer["id"], id.to_string());
    // The same id straight onto NATS as well: dropped by JetStream.
    stack
        .publish_raw(
            "signals.v1.BTC-USD",
            Some(&id.to_string()),
            body.clone().into_bytes(),
        )
        .await?;
    stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    let store = stack.store().await?;
    eventually("the delivery to end", WAIT, || async {
        let d = store
            .deliveries_for_signal(herald_domain::SignalId(id))
            .await?;
        Ok((d.len() == 1 && d[0].status == DeliveryStatus::Sent).then_some(()))
    })
    .await?;
    // After JetStream's window the stored signal still answers for it, on both paths.
    let window = std::time::Duration::from_secs(2);
    tokio::time::sleep(
        window.saturating_sub(posted.elapsed()) + std::time::Duration::from_millis(200),
    )
    .await;
    let (third, answer) = stack.post_signal(Some(&key), body.clone()).await?;
    assert_eq!(third, 200, "{answer}");
    assert_eq!(answer["status"], "duplicate");
    stack
        .publish_raw(
            "signals.v1.BTC-USD",
            Some(&id.to_string()),
            body.into_bytes(),
        )
        .await?;
    // Let the dispatcher take that message and queue anything it could have, then check
    // that nothing more arrived.
    let js = async_nats::jetstream::new(stack.nats.client().await?);
    let stream = format!("{}_signals", stack.nats.prefix);
    eventually("the signals stream to drain", WAIT, || async {
        let mut s = js.get_stream(&stream).await?;
        Ok((s.info().await?.state.messages == 0).then_some(()))
    })
    .await?;
    eventually("the queue to be empty", WAIT, || async {
        let counts = store.delivery_counts().await?;
        Ok((counts.pending + counts.sending + counts.unknown == 0).then_some(()))
    })
    .await?;
    let d = store
        .deliveries_for_signal(herald_domain::SignalId(id))
        .await?;
    assert_eq!(d.len(), 1);
    assert_eq!(stack.telegram.sent_to(alice.id).len(), 3, "delivered once");
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_asking_to_slow_down_is_honoured_and_the_signal_still_arrives_once()
-> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let alice = trader(6001, "Alice");
    stack.subscribe(&alice).await?;
    stack
        .telegram
        .script_faults(alice.id, [Fault::TooManyRequests { retry_after: 1 }]);
    let key = stack.api_key().await?;
    let at = Utc::now().trunc_subsecs(0);
    let id = uuid::Uuid::new_v4();
    let asked = std::time::Instant::now();
    let (status, _) = stack
        .post_signal(Some(&key), spec_signal(id, at).to_string())
        .await?;
    assert_eq!(status, 202);
    let got = stack.telegram.wait_for_messages(alice.id, 3, WAIT).await?;
    assert!(
        asked.elapsed() >= std::time::Duration::from_secs(1),
        "retry_after was honoured"
    );
    assert_eq!(got[2].text, spec_message(at));
    let store = stack.store().await?;
    let delivery = eventually("the delivery to be recorded", WAIT, || async {
        let d = store
            .deliveries_for_signal(herald_domain::SignalId(id))
            .await?;
        Ok(d.into_iter().find(|d| d.status == DeliveryStatus::Sent))
    })
    .await?;
    assert_eq!(delivery.attempts, 1, "the 429 did not use up an attempt");
    assert_eq!(
        stack.telegram.attempts_to(alice.id),
        4,
        "2 answers, the 429, the send"
    );
    assert_eq!(stack.telegram.sent_to(alice.id).len(), 3, "exactly once");
    stack.shutdown().await
}
