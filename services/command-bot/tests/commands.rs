//! The commands through the real teloxide polling loop, against the Telegram double and a
//! real database: what traders type, what they read back, and what the store records.

mod common;

use std::time::Duration;

use chrono::Utc;
use herald_domain::{NotificationHours, SignalFormat, SignalKind, Tier};
use herald_testkit::telegram::{Fault, TestChat, TestUser};

use common::{WAIT, start, start_with};

#[tokio::test(flavor = "multi_thread")]
async fn the_command_menu_is_registered_in_every_language() -> anyhow::Result<()> {
    let bot = start().await?;
    let names: Vec<String> = bot.double.commands().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "start",
            "help",
            "settings",
            "subscribe",
            "unsubscribe",
            "filter",
            "signals",
            "status",
            "performance",
            "language"
        ]
    );
    let english = bot.double.commands();
    let spanish = bot.double.commands_for("es");
    assert_eq!(spanish.len(), english.len());
    assert_eq!(english[0].1, "register and see how Herald works");
    assert_ne!(spanish[0].1, english[0].1, "Spanish descriptions");
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn start_registers_asks_the_zone_and_is_harmless_again() -> anyhow::Result<()> {
    let bot = start().await?;
    let ada = TestUser::new(77, "Ada")
        .with_username("ada")
        .with_last_name("Lovelace");

    let welcome = bot.say_full(&ada, "/start").await?;
    let text = &welcome.text;
    assert!(
        text.starts_with("👋 Welcome to Herald, Ada! You are registered."),
        "{text}"
    );
    for part in [
        "not financial advice",
        "Which time zone are you in?",
        "/subscribe",
        "/settings",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    let user = bot
        .store
        .user_by_telegram_id(77)
        .await?
        .expect("registered");
    assert_eq!(user.username.as_deref(), Some("ada"));
    assert_eq!(user.last_name.as_deref(), Some("Lovelace"));
    assert!(!bot.store.is_subscribed(user.id, Utc::now()).await?);

    // A zone button sets the zone.
    let before = bot.double.sent_to(77).len();
    bot.tap(&ada, &welcome, "Madrid").await?;
    let sent = bot.double.wait_for_messages(77, before + 1, WAIT).await?;
    assert!(
        sent[before]
            .text
            .starts_with("🕒 Time zone set to Europe/Madrid"),
        "{}",
        sent[before].text
    );
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(prefs.time_zone.to_string(), "Europe/Madrid");

    // Typing a zone works too, names and offsets.
    let typed = bot.say(&ada, "america/new_york").await?;
    assert!(typed.contains("America/New_York"), "{typed}");
    let typed = bot.say(&ada, "UTC+5:30").await?;
    assert!(typed.contains("UTC+05:30"), "{typed}");

    // Again: harmless, with the current state; no zone question once one was chosen.
    let again = bot.say_full(&ada, "/start").await?;
    assert!(
        again
            .text
            .starts_with("👋 Welcome back, Ada! You are already registered."),
        "{}",
        again.text
    );
    assert!(
        again.text.contains("Time zone: UTC+05:30"),
        "{}",
        again.text
    );
    assert!(again.reply_markup.is_none());
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_without_onboarding_gets_utc_and_the_defaults() -> anyhow::Result<()> {
    let bot = start().await?;
    let bo = TestUser::trader(78);
    let answer = bot.say(&bo, "/subscribe").await?;
    assert!(answer.starts_with("✅ Subscribed!"), "{answer}");
    let user = bot
        .store
        .user_by_telegram_id(78)
        .await?
        .expect("registered");
    assert!(bot.store.is_subscribed(user.id, Utc::now()).await?);
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(prefs, herald_domain::Preferences::default());
    assert!(
        bot.say(&bo, "/subscribe")
            .await?
            .starts_with("You are already subscribed.")
    );
    assert!(
        bot.say(&bo, "/unsubscribe")
            .await?
            .starts_with("🔕 Unsubscribed.")
    );
    assert!(!bot.store.is_subscribed(user.id, Utc::now()).await?);
    assert!(
        bot.say(&bo, "/unsubscribe")
            .await?
            .starts_with("You are not subscribed.")
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trader_who_blocked_the_bot_is_told_their_subscription_was_paused() -> anyhow::Result<()>
{
    let bot = start().await?;
    let bo = TestUser::trader(79);
    bot.say(&bo, "/subscribe").await?;
    let user = bot
        .store
        .user_by_telegram_id(79)
        .await?
        .expect("registered");
    // The dispatcher found the bot blocked.
    bot.store
        .deactivate_user(user.id, chrono::Utc::now())
        .await?;
    // Back, with another command first: told all the same.
    let status = bot.say(&bo, "/status").await?;
    assert!(status.starts_with("You had blocked the bot"), "{status}");
    bot.store
        .deactivate_user(user.id, chrono::Utc::now())
        .await?;
    let back = bot.say(&bo, "/start").await?;
    assert!(back.contains("your subscription was paused"), "{back}");
    assert!(back.contains("/subscribe"), "{back}");
    let user = bot.store.user_by_telegram_id(79).await?.expect("user");
    assert!(user.is_active);
    assert!(!bot.store.is_subscribed(user.id, Utc::now()).await?);
    assert!(
        bot.say(&bo, "/subscribe")
            .await?
            .starts_with("✅ Subscribed!")
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_and_explains_and_unknown_input_points_to_it() -> anyhow::Result<()> {
    let bot = start().await?;
    let cy = TestUser::new(80, "<Cy & co>");
    let help = bot.say(&cy, "/help").await?;
    for usage in [
        "/start",
        "/help [command]",
        "/settings",
        "/subscribe",
        "/unsubscribe",
        "/filter [key:value …] | reset",
        "/signals [count]",
        "/status",
        "/performance [24h|7d|30d|all]",
        "/language [code]",
    ] {
        assert!(help.contains(usage), "{usage} in {help}");
    }
    let filter = bot.say(&cy, "/help filter").await?;
    assert!(filter.contains("confidence:"), "{filter}");
    assert!(filter.contains("Example: /filter"), "{filter}");
    let performance = bot.say(&cy, "/help performance").await?;
    assert!(performance.contains("24h, 7d, 30d or all"), "{performance}");
    assert!(
        performance.contains("Example: /performance 30d"),
        "{performance}"
    );
    let settings = bot.say(&cy, "/help settings").await?;
    assert!(settings.contains("at what time"), "{settings}");
    let none = bot.say(&cy, "/help moon").await?;
    assert!(none.contains("There is no command “moon”"), "{none}");

    let unknown = bot.say(&cy, "/moon now").await?;
    assert_eq!(
        unknown,
        "I don't know the command /moon. /help lists what I can do."
    );
    let text = bot.say(&cy, "hello?").await?;
    assert!(text.starts_with("I answer commands only."), "{text}");
    let welcome = bot.say(&cy, "/start").await?;
    assert!(
        welcome.contains(", <Cy & co>!"),
        "a hostile name is shown as typed: {welcome}"
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_shows_sets_resets_and_names_bad_tokens() -> anyhow::Result<()> {
    let bot = start().await?;
    let di = TestUser::trader(81);
    let shown = bot.say(&di, "/filter").await?;
    for part in [
        "Types: Buy, Sell, Close, Alert",
        "Minimum confidence: 0%",
        "Assets: all",
        "Hours: any time",
        "Format: detailed",
        "/filter reset",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
    let set = bot
        .say(
            &di,
            "/filter confidence:80 types:buy,sell assets:btc/usd,ETH/USD hours:22-06 format:compact",
        )
        .await?;
    assert!(set.starts_with("✅ Filters saved."), "{set}");
    assert!(set.contains("Types: Buy, Sell"), "{set}");
    assert!(set.contains("Assets: BTC/USD, ETH/USD"), "{set}");
    assert!(set.contains("Hours: 22-06 (UTC)"), "{set}");
    let user = bot.store.user_by_telegram_id(81).await?.expect("user");
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(prefs.min_confidence, 80);
    assert_eq!(
        prefs.wanted_kinds(),
        [SignalKind::Buy, SignalKind::Sell].into()
    );
    assert_eq!(prefs.format, SignalFormat::Compact);
    assert_eq!(
        prefs.notification_hours,
        Some(NotificationHours::new(22, 6).unwrap())
    );

    // A bad token is named with an example; nothing changes, not even the good tokens.
    let bad = bot.say(&di, "/filter confidence:50 hours:8-25").await?;
    assert!(bad.starts_with("❌ “hours:8-25”:"), "{bad}");
    assert!(bad.contains("Example: hours:08-22"), "{bad}");
    assert_eq!(bot.store.preferences(user.id).await?, prefs);
    let bad = bot.say(&di, "/filter colour:red").await?;
    assert!(
        bad.contains("“colour:red”: there is no such filter"),
        "{bad}"
    );
    let bad = bot.say(&di, "/filter <b>").await?;
    assert!(bad.contains("“<b>”"), "shown as typed: {bad}");

    let reset = bot.say(&di, "/filter reset").await?;
    assert!(
        reset.starts_with("✅ Filters back to the defaults."),
        "{reset}"
    );
    let reset_prefs = bot.store.preferences(user.id).await?;
    assert_eq!(reset_prefs.min_confidence, 0);
    assert!(reset_prefs.assets.is_empty());
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_shows_the_latest_the_tier_allows() -> anyhow::Result<()> {
    let bot = start().await?;
    let ed = TestUser::trader(82);
    assert!(
        bot.say(&ed, "/signals")
            .await?
            .starts_with("No signals yet.")
    );
    // Seven signals, one a minute, the last an alert.
    let now = Utc::now();
    for n in 0..7 {
        let at = now - chrono::Duration::minutes(10 - n);
        let kind = if n == 6 { "alert" } else { "buy" };
        let mut json = serde_json::json!({
            "kind": kind, "asset": format!("AS{n}/USD"), "confidence": 70 + n,
            "timeframe": "1H", "generated_at": at,
        });
        if kind == "buy" {
            json["entry_price"] = "100".into();
            json["target_price"] = "110".into();
            json["stop_loss"] = "95".into();
        }
        let signal = herald_domain::parse_signal(&serde_json::to_vec(&json)?, at)?;
        bot.store
            .insert_signal(&signal, at, at + chrono::Duration::hours(1))
            .await?;
    }
    let five = bot.say(&ed, "/signals").await?;
    assert!(five.starts_with("🗂 The latest 5 signals:"), "{five}");
    assert!(five.contains("⚠️ ALERT AS6/USD"), "newest first: {five}");
    assert!(!five.contains("AS1/USD"), "{five}");
    let two = bot.say(&ed, "/signals 2").await?;
    assert!(two.starts_with("🗂 The latest 2 signals:"), "{two}");
    let one = bot.say(&ed, "/signals 1").await?;
    assert!(one.starts_with("🗂 The latest signal:"), "{one}");
    for bad in ["/signals 0", "/signals 21", "/signals many"] {
        let usage = bot.say(&ed, bad).await?;
        assert!(
            usage.starts_with("Usage: /signals [count]"),
            "{bad}: {usage}"
        );
    }

    // A tier that carries only buys of confidence 75 and up.
    let mut basic = Tier::standard();
    basic.name = "basic".into();
    basic.kinds = [SignalKind::Buy].into();
    basic.min_confidence = 75;
    bot.store.upsert_tier(&basic, false, now).await?;
    let user = bot.store.user_by_telegram_id(82).await?.expect("user");
    bot.store.set_tier(user.id, "basic", now).await?;
    let entitled = bot.say(&ed, "/signals 20").await?;
    assert!(entitled.starts_with("🗂 The latest signal:"), "{entitled}");
    assert!(entitled.contains("AS5/USD"), "{entitled}");
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_services_signals_and_the_trader() -> anyhow::Result<()> {
    let bot = start().await?;
    let fay = TestUser::trader(83);
    bot.say(&fay, "/subscribe").await?;
    // The command-bot beats itself; the others are not running in this test.
    let status = bot.say_full(&fay, "/status").await?;
    let text = &status.text;
    for part in [
        "✅ Chat bot: running",
        "❌ Signal intake: not running",
        "❌ Delivery: not running",
        "Last signal: none yet",
        "Messages waiting to go out: 0",
        "Subscription: ✅ active",
        "Tier: standard",
        "Filters: Buy, Sell, Close, Alert · from 0% · assets: all · hours: any time",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    // Another service starts; Refresh edits the message in place.
    let now = Utc::now();
    bot.store.beat("dispatcher", "test-1", now, now).await?;
    let sent_before = bot.double.sent_to(83).len();
    let (_, refreshed) = bot.press(&fay, &status, "🔄 Refresh").await?;
    assert!(
        refreshed.text.contains("✅ Delivery: running"),
        "{}",
        refreshed.text
    );
    assert_eq!(refreshed.message_id, status.message_id);
    assert_eq!(
        bot.double.sent_to(83).len(),
        sent_before,
        "edited, not sent"
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_in_a_group_point_to_a_private_chat() -> anyhow::Result<()> {
    let bot = start().await?;
    let gus = TestUser::trader(85);
    let group = TestChat::group(-1001, "Traders");
    let addressed = format!("/subscribe@{}", bot.double.bot_username());
    bot.double.inject_group_message(&group, &gus, &addressed);
    bot.double
        .inject_group_message(&group, &gus, "/start@some_other_bot");
    bot.double
        .inject_group_message(&group, &gus, "just chatting");
    bot.double.inject_group_message(&group, &gus, "/help");
    let sent = bot.double.wait_for_messages(-1001, 2, WAIT).await?;
    assert!(
        sent[0]
            .text
            .starts_with("I take commands in a private chat only")
    );
    assert!(
        sent[1].text.contains("/signals [count]"),
        "{}",
        sent[1].text
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.double.sent_to(-1001).len(), 2, "plain chat is ignored");
    assert!(bot.store.user_by_telegram_id(85).await?.is_none());
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trader_over_the_rate_limit_is_told_once_then_ignored() -> anyhow::Result<()> {
    let bot = start_with(|s| s.command_bot_rate_limit = 3).await?;
    let hal = TestUser::trader(86);
    let other = TestUser::trader(87);
    for _ in 0..6 {
        bot.double.inject_message(&hal, "/help");
    }
    let sent = bot.double.wait_for_messages(86, 4, WAIT).await?;
    let slow: Vec<_> = sent.iter().filter(|m| m.text.starts_with("✋")).collect();
    assert_eq!(slow.len(), 1, "{sent:?}");
    assert_eq!(
        sent.iter().filter(|m| m.text.contains("/start")).count(),
        3,
        "the three allowed are answered"
    );
    // Others are answered as usual, and the limited trader gets nothing more.
    assert!(bot.say(&other, "/help").await?.contains("/start"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.double.sent_to(86).len(), 4);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_refused_with_429_is_sent_again_after_the_wait() -> anyhow::Result<()> {
    let bot = start().await?;
    let trader = TestUser::trader(4290);
    bot.double
        .script_faults(trader.id, [Fault::TooManyRequests { retry_after: 1 }]);
    let started = std::time::Instant::now();
    let answer = bot.say(&trader, "/help").await?;
    assert!(answer.contains("/subscribe"), "{answer}");
    assert_eq!(
        bot.double.attempts_to(trader.id),
        2,
        "refused once, then sent"
    );
    let accepted = bot.double.accepted_at();
    let (_, at) = accepted
        .iter()
        .find(|(chat, _)| *chat == trader.id)
        .unwrap();
    assert!(
        at.duration_since(started) >= Duration::from_secs(1),
        "sent again only after Telegram's retry_after"
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_traders_at_once_each_get_their_own_answer() -> anyhow::Result<()> {
    let bot = start_with(|s| s.command_bot_rate_limit = 0).await?;
    let traders: Vec<TestUser> = (0..500).map(|n| TestUser::trader(10_000 + n)).collect();
    // Everyone at once: a filter of their own, so that a mixed-up answer would show.
    for (n, t) in traders.iter().enumerate() {
        bot.double
            .inject_message(t, &format!("/filter confidence:{}", n % 101));
    }
    for (n, t) in traders.iter().enumerate() {
        let sent = bot.double.wait_for_messages(t.id, 1, WAIT * 4).await?;
        assert_eq!(sent.len(), 1, "trader {n}");
        assert!(
            sent[0]
                .text
                .contains(&format!("Minimum confidence: {}%", n % 101)),
            "trader {n}: {}",
            sent[0].text
        );
    }
    for (n, t) in traders.iter().enumerate().step_by(50) {
        let user = bot.store.user_by_telegram_id(t.id).await?.expect("user");
        assert_eq!(
            bot.store.preferences(user.id).await?.min_confidence,
            (n % 101) as u8
        );
    }
    bot.stop().await
}
