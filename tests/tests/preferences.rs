//! Every preference a trader sets in chat changes what the dispatcher sends them, end to end:
//! traders talk to the real bot (commands, typed time zones, /settings buttons), the
//! operator assigns tiers with the `herald` CLI, the Signal Engine posts signals over HTTP,
//! and each trader gets exactly what they asked for — or a `skipped` record — through
//! `herald all` on SQLite.
//!
//! Hours are checked against the real clock: each trader's zone is chosen so that "now" falls
//! where the test needs it (inside a window across midnight, or outside one). Daylight-saving
//! days cannot be brought about through a running stack; the store's fan-out and the domain
//! test them at fixed instants.

use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};
use herald_domain::{DeliveryStatus, SignalId};
use herald_testkit::db::Backend;
use herald_testkit::telegram::{SentMessage, TestUser};
use herald_tests::{Stack, WAIT, eventually, trader};
use serde_json::json;

/// Says `text` as `user` and waits for the answer.
async fn say(stack: &Stack, user: &TestUser, text: &str) -> anyhow::Result<SentMessage> {
    let before = stack.telegram.sent_to(user.id).len();
    stack.telegram.inject_message(user, text);
    let sent = stack
        .telegram
        .wait_for_messages(user.id, before + 1, WAIT)
        .await?;
    Ok(sent[before].clone())
}

/// A UTC offset that makes the local hour `hour` right now, as a trader would type it.
fn offset_for_local_hour(hour: u32) -> String {
    let utc = Utc::now().hour() as i32;
    let mut diff = hour as i32 - utc;
    if diff > 14 {
        diff -= 24;
    }
    if diff < -12 {
        diff += 24;
    }
    format!(
        "UTC{}{:02}:00",
        if diff < 0 { '-' } else { '+' },
        diff.abs()
    )
}

fn buy(id: uuid::Uuid, asset: &str, confidence: u8) -> serde_json::Value {
    json!({
        "id": id, "kind": "buy", "asset": asset, "entry_price": "100",
        "target_price": "110", "stop_loss": "95", "timeframe": "1H",
        "confidence": confidence, "generated_at": Utc::now().to_rfc3339(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_preference_changes_what_is_delivered() -> anyhow::Result<()> {
    // (An hour turning between setting a zone and the signal moves "now" by one hour: 23:00
    // stays inside 22-06, 03:00 stays outside 08-20.)
    let stack = Stack::start_all(Backend::Sqlite, &[]).await?;
    let plain = trader(2001, "Plain");
    let sells = trader(2002, "Sells");
    let picky = trader(2003, "Picky");
    let eth = trader(2004, "Eth");
    let compact = trader(2005, "Compact");
    let spanish = trader(2006, "Spanish");
    let hushed = trader(2007, "Hushed");
    let night = trader(2008, "Night");
    let skipper = trader(2009, "Skipper");
    let quiet = trader(2010, "Quiet");
    let late = trader(2011, "Late");
    let alerts = trader(2012, "Alerts");
    let everyone = [
        &plain, &sells, &picky, &eth, &compact, &spanish, &hushed, &night, &skipper, &quiet, &late,
        &alerts,
    ];
    for t in everyone {
        stack.subscribe(t).await?;
    }
    say(&stack, &sells, "/filter types:sell").await?;
    say(&stack, &picky, "/filter confidence:90").await?;
    say(&stack, &eth, "/filter assets:ETH/USD").await?;
    say(&stack, &compact, "/filter format:compact").await?;
    say(&stack, &spanish, "/language es").await?;
    // Buys silent, through the settings menu.
    let menu = say(&stack, &hushed, "/settings").await?;
    let press = stack
        .telegram
        .press_button(&hushed, &menu, "Buy: 🔔 on")
        .expect("a Buy button");
    stack
        .telegram
        .wait_for_callback_answer(&press.query_id, WAIT)
        .await
        .expect("answered");
    // Night owl: 22-06 where it is 23:00 now — inside the window across midnight.
    say(&stack, &night, &offset_for_local_hour(23)).await?;
    say(&stack, &night, "/filter hours:22-06").await?;
    // Skipper: 08-20 where it is 03:00 now, outside, and skips what comes then.
    say(&stack, &skipper, &offset_for_local_hour(3)).await?;
    say(&stack, &skipper, "/filter hours:08-20").await?;
    let menu = say(&stack, &skipper, "/settings").await?;
    let press = stack
        .telegram
        .press_button(&skipper, &menu, "Outside hours: delivered silently")
        .expect("an outside-hours button");
    stack
        .telegram
        .wait_for_callback_answer(&press.query_id, WAIT)
        .await
        .expect("answered");
    // Quiet: the same hours, but outside them signals come silently (the default).
    say(&stack, &quiet, &offset_for_local_hour(3)).await?;
    say(&stack, &quiet, "/filter hours:08-20").await?;
    // Tiers, by the operator: a delayed tier, and one that carries alerts only.
    stack
        .herald(&["tiers", "set", "delayed", "--delay", "4s"])
        .await?;
    stack
        .herald(&["tiers", "set", "alerts-only", "--kinds", "alert"])
        .await?;
    stack
        .herald(&["users", "set-tier", "--telegram-id", "2011", "delayed"])
        .await?;
    stack
        .herald(&["users", "set-tier", "--telegram-id", "2012", "alerts-only"])
        .await?;

    let counts: Vec<usize> = everyone
        .iter()
        .map(|t| stack.telegram.sent_to(t.id).len())
        .collect();
    let key = stack.api_key().await?;
    let id = uuid::Uuid::new_v4();
    let posted = Instant::now();
    let (status, body) = stack
        .post_signal(Some(&key), buy(id, "BTC/USD", 85).to_string())
        .await?;
    assert_eq!(status, 202, "{body}");

    let store = stack.store().await?;
    let deliveries = eventually("every delivery to end", WAIT, || async {
        let d = store.deliveries_for_signal(SignalId(id)).await?;
        Ok((d.len() == 8 && d.iter().all(|d| d.status.is_final())).then_some(d))
    })
    .await?;
    let got = |t: &TestUser, before: usize| -> Vec<SentMessage> {
        stack.telegram.sent_to(t.id)[before..].to_vec()
    };
    let index = |t: &TestUser| everyone.iter().position(|x| x.id == t.id).unwrap();
    let only = |t: &TestUser| -> SentMessage {
        let new = got(t, counts[index(t)]);
        assert_eq!(new.len(), 1, "{}: {new:?}", t.first_name);
        new[0].clone()
    };

    // Defaults: detailed, English, with a sound, and the "Got it" button.
    let message = only(&plain);
    assert!(
        message.text.starts_with("🚨 TRADING SIGNAL: BUY BTC/USD"),
        "{}",
        message.text
    );
    assert!(!message.disable_notification);
    assert_eq!(message.inline_buttons()[0].0, "✅ Got it");
    // Kinds, confidence, assets: nothing, and no delivery on record.
    for t in [&sells, &picky, &eth, &alerts] {
        assert!(got(t, counts[index(t)]).is_empty(), "{}", t.first_name);
    }
    // Format and language.
    assert!(only(&compact).text.starts_with("🟢 BUY BTC/USD @ $100"));
    let es = only(&spanish);
    assert!(
        es.text.starts_with("🚨 SEÑAL DE TRADING: COMPRA BTC/USD"),
        "{}",
        es.text
    );
    assert_ne!(
        es.inline_buttons()[0].0,
        "✅ Got it",
        "the button speaks Spanish too"
    );
    // Silent kinds and hours.
    assert!(
        only(&hushed).disable_notification,
        "buys are silent for Hushed"
    );
    assert!(
        !only(&night).disable_notification,
        "inside the night window"
    );
    assert!(
        only(&quiet).disable_notification,
        "outside the hours: silent"
    );
    assert!(got(&skipper, counts[index(&skipper)]).is_empty());
    let skipper_user = store.user_by_telegram_id(skipper.id).await?.unwrap();
    let skipped = deliveries
        .iter()
        .find(|d| d.user_id == Some(skipper_user.id))
        .expect("the skip is on record");
    assert_eq!(skipped.status, DeliveryStatus::Skipped);
    // The delayed tier: sent, but not before its delay.
    let late_message = only(&late);
    let late_at = stack
        .telegram
        .accepted_at()
        .into_iter()
        .filter(|(chat, _)| *chat == late.id)
        .map(|(_, at)| at)
        .max()
        .unwrap();
    assert!(
        late_at.duration_since(posted) >= Duration::from_secs(4),
        "the delayed tier's message came {:?} after the post",
        late_at.duration_since(posted)
    );
    assert!(late_message.text.starts_with("🚨 TRADING SIGNAL"));

    // An ETH signal reaches the ETH follower.
    let id = uuid::Uuid::new_v4();
    let (status, _) = stack
        .post_signal(Some(&key), buy(id, "ETH/USD", 85).to_string())
        .await?;
    assert_eq!(status, 202);
    stack
        .telegram
        .wait_for_messages(eth.id, counts[index(&eth)] + 1, WAIT)
        .await?;

    // "Got it" fills read_at for that delivery.
    let press = stack
        .telegram
        .press_button(&plain, &message, "✅ Got it")
        .expect("the read button");
    let answer = stack
        .telegram
        .wait_for_callback_answer(&press.query_id, WAIT)
        .await
        .expect("answered");
    assert_eq!(answer.text.as_deref(), Some("Marked as read."));
    let plain_user = store.user_by_telegram_id(plain.id).await?.unwrap();
    let read = store
        .deliveries_for_signal(deliveries[0].signal_id.expect("a signal's delivery"))
        .await?
        .into_iter()
        .find(|d| d.user_id == Some(plain_user.id))
        .unwrap();
    assert!(read.read_at.is_some());
    store.close().await?;
    stack.shutdown().await
}
