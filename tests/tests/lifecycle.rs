//! The signal lifecycle end to end, through the Bot API double: a close answers each
//! trader's own copy of its signal and that copy shows the outcome; bad closes are refused
//! on both paths; reports come on schedule with a chart; channels, groups and topics get
//! what their filters let through, within the group limit.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use futures::StreamExt;
use herald_domain::{DeliveryStatus, JobKind, Preferences, ReportFrequency, SignalId, SignalKind};
use herald_store::NewDestination;
use herald_testkit::db::Backend;
use herald_testkit::telegram::{SentMessage, TestChat};
use herald_tests::{Stack, WAIT, eventually, trader};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn buy(id: uuid::Uuid, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "kind": "buy", "asset": "BTC/USD",
        "entry_price": "42000", "target_price": "44000", "stop_loss": "41000",
        "timeframe": "4H", "confidence": 80, "generated_at": at.to_rfc3339(),
        "source_model": "momentum-v3"
    })
}

fn close(id: uuid::Uuid, closes: uuid::Uuid, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "kind": "close", "asset": "BTC/USD", "entry_price": "43260.5",
        "reason": "target", "confidence": 90, "generated_at": at.to_rfc3339(),
        "closes_signal_id": closes
    })
}

/// The one message of `chat` whose text starts with `lead`.
fn find<'a>(messages: &'a [SentMessage], lead: &str) -> &'a SentMessage {
    messages
        .iter()
        .find(|m| m.text.starts_with(lead))
        .unwrap_or_else(|| panic!("no message starting {lead:?} in {messages:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_close_answers_each_copy_and_each_copy_shows_the_outcome() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let (alice, bob, carol, dave) = (
        trader(7001, "Alice"),
        trader(7002, "Bob"),
        trader(7003, "Carol"),
        trader(7004, "Dave"),
    );
    stack
        .seed_subscribers(&[alice.id, bob.id, carol.id])
        .await?;
    let key = stack.api_key().await?;
    let opened = Utc::now().trunc_subsecs(0) - TimeDelta::minutes(90);
    let (buy_id, close_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (status, body) = stack
        .post_signal(Some(&key), buy(buy_id, opened).to_string())
        .await?;
    assert_eq!(status, 202, "{body}");
    let mut copies = Vec::new();
    for t in [&alice, &bob, &carol] {
        let got = stack.telegram.wait_for_messages(t.id, 1, WAIT).await?;
        copies.push(got[0].clone());
    }
    // Carol deletes her copy; Dave joins after the signal.
    assert!(
        stack
            .telegram
            .delete_message(carol.id, copies[2].message_id)
    );
    stack.seed_subscribers(&[dave.id]).await?;

    let closed = Utc::now().trunc_subsecs(0);
    let (status, body) = stack
        .post_signal(Some(&key), close(close_id, buy_id, closed).to_string())
        .await?;
    assert_eq!(status, 202, "{body}");

    // Alice and Bob: the close replies to their own copy, which now shows the outcome,
    // with its "Got it" button kept.
    for (t, copy) in [(&alice, &copies[0]), (&bob, &copies[1])] {
        let got = stack.telegram.wait_for_messages(t.id, 2, WAIT).await?;
        let reply = find(&got, "🔒 CLOSE SIGNAL: BTC/USD");
        assert_eq!(
            reply.reply_to_message_id,
            Some(copy.message_id),
            "{reply:#?}"
        );
        assert!(!reply.text.contains("Closes Signal"), "{}", reply.text);
        let edited = eventually("the copy edited", WAIT, || async {
            let now = stack
                .telegram
                .message(t.id, copy.message_id)
                .expect("the copy");
            Ok((now.edits == 1).then_some(now))
        })
        .await?;
        assert!(edited.text.starts_with(&copy.text), "{}", edited.text);
        let status = edited.text.lines().last().unwrap_or_default();
        assert!(status.contains("$43,260.5"), "{status}");
        assert!(status.contains("+3.00%"), "{status}");
        assert!(status.contains("1 h 30 min"), "{status}");
        assert_eq!(edited.inline_buttons(), copy.inline_buttons());
    }
    // Carol deleted her copy: the close stands alone, and the edit is skipped, on record,
    // after one attempt.
    let got = stack.telegram.wait_for_messages(carol.id, 2, WAIT).await?;
    let standalone = find(&got, "🔒 CLOSE SIGNAL: BTC/USD");
    assert_eq!(standalone.reply_to_message_id, None);
    assert!(
        standalone
            .text
            .contains("Closes Signal: BUY BTC/USD @ $42,000 ·"),
        "{}",
        standalone.text
    );
    // Dave never got the signal: a close that says what it closes.
    let got = stack.telegram.wait_for_messages(dave.id, 1, WAIT).await?;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].reply_to_message_id, None);
    assert!(
        got[0]
            .text
            .contains("Closes Signal: BUY BTC/USD @ $42,000 ·")
    );

    let store = stack.store().await?;
    let edits = eventually("every edit ended", WAIT, || async {
        let all = store.deliveries_for_signal(SignalId(close_id)).await?;
        let edits: Vec<_> = all
            .into_iter()
            .filter(|d| d.job == JobKind::Outcome)
            .collect();
        Ok((edits.len() == 3 && edits.iter().all(|d| d.status.is_final())).then_some(edits))
    })
    .await?;
    let carol_id = store
        .user_by_telegram_id(carol.id)
        .await?
        .expect("Carol")
        .id;
    for edit in &edits {
        if edit.user_id == Some(carol_id) {
            assert_eq!(edit.status, DeliveryStatus::Skipped, "{edit:?}");
            assert_eq!(edit.attempts, 1, "not retried: {edit:?}");
            assert!(
                edit.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("message to edit not found")),
                "{edit:?}"
            );
        } else {
            assert_eq!(edit.status, DeliveryStatus::Sent, "{edit:?}");
        }
    }
    let outcome = store
        .outcome_of_close(SignalId(close_id))
        .await?
        .expect("the outcome");
    assert_eq!(outcome.signal_id, SignalId(buy_id));
    assert_eq!(
        outcome.return_pct,
        Some("3.0011904761904761904761904762".parse::<Decimal>()?)
    );
    assert_eq!(outcome.reason, Some(herald_domain::CloseReason::Target));
    store.close().await?;
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_closes_are_refused_on_both_paths_with_their_reasons() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let alice = trader(7101, "Alice");
    stack.seed_subscribers(&[alice.id]).await?;
    let key = stack.api_key().await?;
    let at = Utc::now().trunc_subsecs(0) - TimeDelta::minutes(5);
    let (buy_id, close_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (status, _) = stack
        .post_signal(Some(&key), buy(buy_id, at).to_string())
        .await?;
    assert_eq!(status, 202);
    stack.telegram.wait_for_messages(alice.id, 1, WAIT).await?;

    let refused = |body: &Value| {
        (
            body["error"]["details"][0]["field"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["error"]["details"][0]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    };
    // A signal never accepted.
    let (status, body) = stack
        .post_signal(
            Some(&key),
            close(close_id, uuid::Uuid::new_v4(), Utc::now()).to_string(),
        )
        .await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        refused(&body),
        ("closes_signal_id".into(), "unknown_signal".into())
    );
    // Another asset.
    let mut eth = close(uuid::Uuid::new_v4(), buy_id, Utc::now());
    eth["asset"] = json!("ETH/USD");
    let (status, body) = stack.post_signal(Some(&key), eth.to_string()).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(refused(&body), ("asset".into(), "asset_mismatch".into()));
    // The close itself, then a second close of the same position.
    let (status, body) = stack
        .post_signal(Some(&key), close(close_id, buy_id, Utc::now()).to_string())
        .await?;
    assert_eq!(status, 202, "{body}");
    stack.telegram.wait_for_messages(alice.id, 2, WAIT).await?;
    let store = stack.store().await?;
    eventually("the outcome recorded", WAIT, || async {
        Ok(store.outcome_of_close(SignalId(close_id)).await?)
    })
    .await?;
    let second = close(uuid::Uuid::new_v4(), buy_id, Utc::now());
    let (status, body) = stack.post_signal(Some(&key), second.to_string()).await?;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        refused(&body),
        ("closes_signal_id".into(), "already_closed".into())
    );
    // The same close sent again is the duplicate it was, not a refusal.
    let (status, body) = stack
        .post_signal(Some(&key), close(close_id, buy_id, Utc::now()).to_string())
        .await?;
    assert_eq!(status, 200, "{body}");

    // On NATS the second close is parked on the dead-letter subject with its reason, and
    // nobody gets it.
    stack
        .publish_raw("signals.v1.BTC-USD", None, second.to_string().into_bytes())
        .await?;
    let js = async_nats::jetstream::new(stack.nats.client().await?);
    let stream_name = format!("{}_dead_letters", stack.nats.prefix);
    eventually("a dead letter", WAIT, || async {
        let mut stream = js.get_stream(&stream_name).await?;
        Ok((stream.info().await?.state.messages >= 1).then_some(()))
    })
    .await?;
    let consumer = js
        .get_stream(&stream_name)
        .await?
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await?;
    let mut batch = consumer.fetch().max_messages(1).messages().await?;
    let letter = batch
        .next()
        .await
        .expect("a letter")
        .map_err(|e| anyhow::anyhow!(e))?;
    let reason = letter
        .headers
        .as_ref()
        .and_then(|h| h.get(herald_bus::HEADER_REJECTION))
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(reason.contains("already closed"), "{reason}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.telegram.sent_to(alice.id).len(), 2);
    store.close().await?;
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_report_comes_at_the_traders_local_hour_with_a_chart() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Postgres, &[]).await?;
    let alice = trader(7201, "Alice");
    stack.seed_subscribers(&[alice.id]).await?;
    let store = stack.store().await?;
    let user = store
        .user_by_telegram_id(alice.id)
        .await?
        .expect("Alice")
        .id;
    // India is UTC+05:30: its hours start at half past the UTC hour.
    let zone: herald_domain::TimeZone = "Asia/Kolkata".parse().expect("a zone");
    let now = Utc::now();
    let hour = zone.local_hour(now);
    // Today's slot at that hour has passed (within the hour): the one the scheduler is
    // about to see due, as if the clock had just reached it.
    let tomorrow =
        herald_domain::next_report(ReportFrequency::Daily, hour, zone, now).expect("a slot");
    let today = tomorrow.at - TimeDelta::days(1);
    assert!(today <= now && now - today < TimeDelta::hours(1));

    // A position opened and closed before the slot, which Alice received.
    let key = stack.api_key().await?;
    let (buy_id, close_id) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy(buy_id, today - TimeDelta::minutes(20)).to_string(),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    let mut closing = close(close_id, buy_id, today - TimeDelta::minutes(10));
    closing["timeframe"] = json!("4H");
    let (status, body) = stack.post_signal(Some(&key), closing.to_string()).await?;
    assert_eq!(status, 202, "{body}");
    stack.telegram.wait_for_messages(alice.id, 2, WAIT).await?;

    // Daily reports at this hour, in India's time.
    store
        .set_preferences(
            user,
            &Preferences {
                reports: ReportFrequency::Daily,
                report_hour: hour,
                time_zone: zone,
                ..Preferences::default()
            },
            Utc::now(),
        )
        .await?;
    use sea_orm::ConnectionTrait;
    store
        .connection()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE user_preferences SET next_report_at = $1 WHERE user_id = $2",
            [today.into(), user.into()],
        ))
        .await?;

    let photos = stack
        .telegram
        .wait_for_photos(alice.id, 1, Duration::from_secs(30))
        .await?;
    let photo = photos[0].photo.as_ref().expect("a photo");
    assert_eq!((photo.width, photo.height), (800, 400));
    assert!(photo.bytes > 1_000 && photo.bytes < 1_000_000, "{photo:?}");
    let caption = &photos[0].text;
    assert!(caption.contains("+3.00%"), "{caption}");
    let report = eventually("the report recorded", WAIT, || async {
        let rows = store.report_jobs(user).await?;
        Ok(rows.into_iter().find(|d| d.status == DeliveryStatus::Sent))
    })
    .await?;
    assert_eq!(
        report.report_period.as_deref(),
        Some(format!("daily:{}", zone.local(today).date_naive()).as_str())
    );
    // The next one is tomorrow's.
    let prefs_next: Option<DateTime<Utc>> = store.next_report_at(user).await?;
    assert_eq!(prefs_next, Some(tomorrow.at));
    store.close().await?;
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn channels_groups_and_topics_get_what_their_filters_let_through() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    stack.telegram.enforce_group_limit(20);
    let channel = TestChat::channel(-1_007_001, "Herald signals");
    let group = TestChat::supergroup(-1_007_002, "Traders' room");
    let forum = TestChat::forum(-1_007_003, "Desk");
    for chat in [&channel, &group, &forum] {
        stack.telegram.add_chat(chat);
    }
    let btc_topic = stack.telegram.create_topic(&forum, "BTC");
    let store = stack.store().await?;
    let add =
        |chat_id: i64, thread_id: Option<i32>, kinds: &[SignalKind], assets: &[&str], min: u8| {
            NewDestination {
                chat_id,
                thread_id,
                name: format!("dest {chat_id}"),
                kinds: kinds.iter().copied().collect(),
                assets: assets
                    .iter()
                    .map(|a| herald_domain::Asset::parse(a).expect("an asset"))
                    .collect(),
                min_confidence: min,
                format: herald_domain::SignalFormat::Compact,
                language: herald_domain::Language::En,
                created_by: "test".into(),
            }
        };
    store
        .add_destination(
            &add(channel.id, None, &SignalKind::ALL, &[], 75),
            Utc::now(),
        )
        .await?;
    store
        .add_destination(
            &add(group.id, None, &[SignalKind::Alert], &[], 0),
            Utc::now(),
        )
        .await?;
    store
        .add_destination(
            &add(forum.id, Some(btc_topic), &SignalKind::ALL, &["BTC/USD"], 0),
            Utc::now(),
        )
        .await?;

    let key = stack.api_key().await?;
    let mut eth = buy(uuid::Uuid::new_v4(), Utc::now());
    eth["asset"] = json!("ETH/USD");
    eth["entry_price"] = json!("3000");
    eth["target_price"] = json!("3100");
    eth["stop_loss"] = json!("2950");
    let mut low = buy(uuid::Uuid::new_v4(), Utc::now());
    low["confidence"] = json!(60);
    for signal in [buy(uuid::Uuid::new_v4(), Utc::now()), eth, low] {
        let (status, body) = stack.post_signal(Some(&key), signal.to_string()).await?;
        assert_eq!(status, 202, "{body}");
    }
    // 22 alerts: more than a group may take in a minute.
    for i in 0..22 {
        let alert = json!({
            "kind": "alert", "asset": "BTC/USD", "confidence": 50,
            "generated_at": Utc::now().to_rfc3339(),
            "market_context": format!("Volatility update {i}")
        });
        let (status, body) = stack.post_signal(Some(&key), alert.to_string()).await?;
        assert_eq!(status, 202, "{body}");
    }
    // The channel: the two buys of confidence 80 (BTC and ETH), not the 60 nor the alerts.
    let got = stack
        .telegram
        .wait_for_messages(channel.id, 2, WAIT)
        .await?;
    // The forum topic: BTC only — both BTC buys and the 22 alerts, all in the topic.
    let topic = stack
        .telegram
        .wait_for_messages(forum.id, 24, Duration::from_secs(150))
        .await?;
    assert!(
        topic.iter().all(|m| m.thread_id == Some(btc_topic)),
        "{topic:#?}"
    );
    // The group: the 22 alerts, never more than 20 in a minute.
    let room = stack
        .telegram
        .wait_for_messages(group.id, 22, Duration::from_secs(150))
        .await?;
    assert!(
        room.iter().all(|m| m.text.starts_with("⚠️ ALERT")),
        "{room:#?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.telegram.sent_to(channel.id).len(), 2, "{got:#?}");
    assert_eq!(stack.telegram.sent_to(forum.id).len(), 24);
    assert_eq!(stack.telegram.sent_to(group.id).len(), 22);
    for chat in [&channel, &group, &forum] {
        assert!(
            stack
                .telegram
                .max_accepted_to_chat_in(chat.id, Duration::from_secs(60))
                <= 20
        );
    }
    assert_eq!(stack.telegram.too_many_requests_count(), 0);
    store.close().await?;
    stack.shutdown().await
}
