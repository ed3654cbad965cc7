//! Inline buttons through the real teloxide loop: the /settings menu editing itself in place,
//! stale and forged presses, languages, and a signal's "Got it".

mod common;

use chrono::Utc;
use herald_domain::callback::stamp;
use herald_domain::{
    Callback, Language, NotifyMode, OutsideHours, ReportFrequency, SettingsAction, SignalFormat,
    SignalKind,
};
use herald_store::{QueuedSignal, Recipient};
use herald_testkit::telegram::TestUser;

use common::start;

#[tokio::test(flavor = "multi_thread")]
async fn the_settings_menu_edits_itself_and_saves_each_press() -> anyhow::Result<()> {
    let bot = start().await?;
    let ivy = TestUser::trader(90);
    let menu = bot.say_full(&ivy, "/settings").await?;
    assert!(menu.text.starts_with("⚙️ Your settings"), "{}", menu.text);
    let user = bot.store.user_by_telegram_id(90).await?.expect("user");
    let sent_before = bot.double.sent_to(90).len();

    // The kinds cycle on → silent → off.
    let (notice, menu) = bot.press(&ivy, &menu, "Sell: 🔔 on").await?;
    assert_eq!(notice.as_deref(), Some("Saved."));
    assert!(menu.text.contains("Sell 🔕 silent"), "{}", menu.text);
    let (_, menu) = bot.press(&ivy, &menu, "Sell: 🔕 silent").await?;
    assert!(menu.text.contains("Sell ⛔ off"), "{}", menu.text);
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(prefs.mode(SignalKind::Sell), NotifyMode::Off);

    // A page, a choice, and back on the main page.
    let (notice, page) = bot.press(&ivy, &menu, "Confidence: 0%").await?;
    assert_eq!(notice, None, "opening a page changes nothing");
    assert!(
        page.text.starts_with("Pick the lowest confidence"),
        "{}",
        page.text
    );
    let (_, menu) = bot.press(&ivy, &page, "80%").await?;
    assert!(
        menu.text.contains("Minimum confidence: 80%"),
        "{}",
        menu.text
    );

    let (_, page) = bot.press(&ivy, &menu, "Hours: any time").await?;
    let (_, menu) = bot.press(&ivy, &page, "22-06").await?;
    assert!(
        menu.text.contains("Notification hours: 22-06 (UTC)"),
        "{}",
        menu.text
    );
    let (_, menu) = bot
        .press(&ivy, &menu, "Outside hours: delivered silently")
        .await?;
    assert!(
        menu.text.contains("Outside your hours: skipped"),
        "{}",
        menu.text
    );

    let (_, page) = bot.press(&ivy, &menu, "Time zone: UTC").await?;
    let (_, menu) = bot.press(&ivy, &page, "Tokyo").await?;
    assert!(menu.text.contains("Time zone: Asia/Tokyo"), "{}", menu.text);

    let (_, menu) = bot.press(&ivy, &menu, "Format: detailed").await?;
    assert!(menu.text.contains("Format: compact"), "{}", menu.text);
    // Reports have a page of their own: how often, and at what time.
    let (notice, page) = bot.press(&ivy, &menu, "Reports: weekly").await?;
    assert_eq!(notice, None, "opening a page changes nothing");
    let (notice, page) = bot.press(&ivy, &page, "Off").await?;
    assert_eq!(notice.as_deref(), Some("Saved."));
    assert!(
        page.text.starts_with("Performance reports: off"),
        "{}",
        page.text
    );
    let (_, menu) = bot.press(&ivy, &page, "« Back").await?;
    assert!(
        menu.text.contains("Performance reports: off"),
        "{}",
        menu.text
    );
    let (_, menu) = bot.press(&ivy, &menu, "Report sound: 🔔 on").await?;
    assert!(menu.text.contains("(🔕 silent)"), "{}", menu.text);

    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(prefs.min_confidence, 80);
    assert_eq!(prefs.outside_hours, OutsideHours::Skip);
    assert_eq!(prefs.time_zone.to_string(), "Asia/Tokyo");
    assert_eq!(prefs.format, SignalFormat::Compact);
    assert!(prefs.reports_silent);

    // Languages: the menu redraws itself in Spanish.
    let (_, page) = bot.press(&ivy, &menu, "Language: English").await?;
    let (notice, menu) = bot.press(&ivy, &page, "Español").await?;
    assert_eq!(notice.as_deref(), Some("Guardado."), "{notice:?}");
    assert!(!menu.text.contains("Your settings"), "{}", menu.text);
    assert_eq!(bot.store.preferences(user.id).await?.language, Language::Es);

    assert_eq!(
        bot.double.sent_to(90).len(),
        sent_before,
        "every press edited the one menu; nothing new was sent"
    );
    assert!(bot.double.edit_count(90) >= 14);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_time_is_chosen_on_the_reports_page() -> anyhow::Result<()> {
    let bot = start().await?;
    let uma = TestUser::trader(89);
    let menu = bot.say_full(&uma, "/settings").await?;
    assert!(
        menu.text
            .contains("Performance reports: weekly, Mondays at 08:00 (🔔 on)"),
        "{}",
        menu.text
    );
    let user = bot.store.user_by_telegram_id(89).await?.expect("user");
    let sent_before = bot.double.sent_to(89).len();

    let (_, page) = bot.press(&uma, &menu, "Reports: weekly").await?;
    assert!(
        page.text.contains("at what time in your time zone (UTC)"),
        "{}",
        page.text
    );
    let labels = |m: &herald_testkit::telegram::SentMessage| -> Vec<String> {
        m.inline_buttons().into_iter().map(|(l, _)| l).collect()
    };
    assert_eq!(
        labels(&page),
        [
            "Off",
            "Daily",
            "• Weekly",
            "06:00",
            "• 08:00",
            "12:00",
            "18:00",
            "21:00",
            "« Back"
        ]
    );

    // An hour, then the frequency: the page stays open for both.
    let (notice, page) = bot.press(&uma, &page, "18:00").await?;
    assert_eq!(notice.as_deref(), Some("Saved."));
    assert!(
        page.text
            .starts_with("Performance reports: weekly, Mondays at 18:00"),
        "{}",
        page.text
    );
    assert!(labels(&page).contains(&"• 18:00".to_string()));
    assert_eq!(bot.store.preferences(user.id).await?.report_hour, 18);
    let (_, page) = bot.press(&uma, &page, "Daily").await?;
    let (_, menu) = bot.press(&uma, &page, "« Back").await?;
    assert!(
        menu.text
            .contains("Performance reports: daily at 18:00 (🔔 on)"),
        "{}",
        menu.text
    );
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(
        (prefs.reports, prefs.report_hour),
        (ReportFrequency::Daily, 18)
    );
    assert_eq!(bot.double.sent_to(89).len(), sent_before, "all edits");

    // An hour set elsewhere (the admin API) is offered too, marked; and read in Spanish.
    let (mut prefs, version) = bot.store.preferences_versioned(user.id).await?;
    prefs.report_hour = 23;
    prefs.language = Language::Es;
    assert!(
        bot.store
            .update_preferences(user.id, version, &prefs, Utc::now())
            .await?
    );
    let menu = bot.say_full(&uma, "/settings").await?;
    assert!(
        menu.text
            .contains("Informes de rendimiento: diarios a las 23:00 (🔔 activado)"),
        "{}",
        menu.text
    );
    let (_, page) = bot.press(&uma, &menu, "Informes: diarios").await?;
    assert_eq!(
        labels(&page),
        [
            "Desactivados",
            "• Diarios",
            "Semanales",
            "06:00",
            "08:00",
            "12:00",
            "18:00",
            "21:00",
            "• 23:00",
            "« Volver"
        ]
    );
    let (_, page) = bot.press(&uma, &page, "06:00").await?;
    assert!(
        page.text
            .starts_with("Informes de rendimiento: diarios a las 06:00"),
        "{}",
        page.text
    );
    assert_eq!(bot.store.preferences(user.id).await?.report_hour, 6);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_are_followed_from_the_latest_signals() -> anyhow::Result<()> {
    let bot = start().await?;
    let jo = TestUser::trader(91);
    let now = Utc::now();
    for asset in ["BTC/USD", "ETH/USD"] {
        let json = serde_json::json!({
            "kind": "alert", "asset": asset, "confidence": 70, "generated_at": now,
        });
        let signal = herald_domain::parse_signal(&serde_json::to_vec(&json)?, now)?;
        bot.store
            .insert_signal(&signal, now, now + chrono::Duration::hours(1))
            .await?;
    }
    let menu = bot.say_full(&jo, "/settings").await?;
    let (_, page) = bot.press(&jo, &menu, "Assets: all").await?;
    let (_, page) = bot.press(&jo, &page, "ETH/USD").await?;
    assert!(
        page.inline_buttons().iter().any(|(t, _)| t == "✅ ETH/USD"),
        "{:?}",
        page.inline_buttons()
    );
    let user = bot.store.user_by_telegram_id(91).await?.expect("user");
    let prefs = bot.store.preferences(user.id).await?;
    assert_eq!(
        prefs.assets.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        ["ETH/USD"]
    );
    let (_, page) = bot.press(&jo, &page, "All assets").await?;
    let (_, menu) = bot.press(&jo, &page, "« Back").await?;
    assert!(menu.text.contains("Assets: all"), "{}", menu.text);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_and_forged_presses_change_nothing() -> anyhow::Result<()> {
    let bot = start().await?;
    let kim = TestUser::trader(92);
    let lee = TestUser::trader(93);
    let old = bot.say_full(&kim, "/settings").await?;
    let user = bot.store.user_by_telegram_id(92).await?.expect("user");
    // A second menu changes something: the first is now out of date.
    let second = bot.say_full(&kim, "/settings").await?;
    bot.press(&kim, &second, "Buy: 🔔 on").await?;
    let prefs = bot.store.preferences(user.id).await?;

    let (notice, redrawn) = bot.press(&kim, &old, "Close: 🔔 on").await?;
    assert_eq!(
        notice.as_deref(),
        Some("This menu was out of date: here it is as it stands now.")
    );
    assert!(redrawn.text.contains("Buy 🔕 silent"), "{}", redrawn.text);
    assert_eq!(bot.store.preferences(user.id).await?, prefs);

    // Malformed data, and data Herald never builds.
    for data in [
        "",
        "garbage",
        "s:zzzzzzzz:c:50",
        "s:00000000:c:500",
        "r:1234",
    ] {
        let (notice, _) = bot.press_data(&kim, &second, data).await?;
        assert_eq!(
            notice.as_deref(),
            Some("This button is no longer valid."),
            "{data:?}"
        );
    }
    assert_eq!(bot.store.preferences(user.id).await?, prefs);

    // A well-formed press on another trader's menu, from that trader's stamp: it is in
    // Kim's chat, so it is not Lee's to press; and Lee's own chat has no such menu.
    bot.say(&lee, "/start").await?;
    let forged = Callback::Settings {
        stamp: stamp(&prefs),
        action: SettingsAction::Confidence(90),
    }
    .encode();
    let (notice, _) = bot.press_data(&lee, &second, &forged).await?;
    assert_eq!(notice.as_deref(), Some("This button is no longer valid."));
    assert_eq!(bot.store.preferences(user.id).await?, prefs);
    let lee_user = bot.store.user_by_telegram_id(93).await?.expect("lee");
    assert_eq!(bot.store.preferences(lee_user.id).await?.min_confidence, 0);

    // A press from someone the bot never met.
    let stranger = TestUser::trader(94);
    let (notice, _) = bot.press_data(&stranger, &second, &forged).await?;
    assert_eq!(notice.as_deref(), Some("This button is no longer valid."));
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_got_it_button_fills_read_at_for_its_own_trader_only() -> anyhow::Result<()> {
    let bot = start().await?;
    let max = TestUser::trader(95);
    let nia = TestUser::trader(96);
    let menu = bot.say_full(&max, "/help").await?;
    bot.say(&nia, "/help").await?;
    let now = Utc::now();
    let json = serde_json::json!({
        "kind": "alert", "asset": "BTC/USD", "confidence": 70, "generated_at": now,
    });
    let signal = herald_domain::parse_signal(&serde_json::to_vec(&json)?, now)?;
    let deadline = now + chrono::Duration::hours(1);
    bot.store.insert_signal(&signal, now, deadline).await?;
    let mut recipients = Vec::new();
    for id in [95, 96] {
        let user = bot.store.user_by_telegram_id(id).await?.expect("user");
        recipients.push(Recipient::new(user.id, id, SignalFormat::Compact));
    }
    bot.store
        .record_fanout_page(
            &QueuedSignal::new(&signal, Some(deadline)),
            &recipients,
            None,
            true,
            now,
        )
        .await?;
    let deliveries = bot.store.deliveries_for_signal(signal.id).await?;
    let mine = deliveries.iter().find(|d| d.chat_id == 95).unwrap().id;
    let hers = deliveries.iter().find(|d| d.chat_id == 96).unwrap().id;

    let (notice, _) = bot
        .press_data(&max, &menu, &Callback::Read(mine).encode())
        .await?;
    assert_eq!(notice.as_deref(), Some("Marked as read."));
    assert!(bot.store.delivery(mine).await?.unwrap().read_at.is_some());
    let (notice, _) = bot
        .press_data(&max, &menu, &Callback::Read(mine).encode())
        .await?;
    assert_eq!(notice.as_deref(), Some("Already marked as read."));
    // Nia's delivery, pressed from Max's chat: refused.
    let (notice, _) = bot
        .press_data(&max, &menu, &Callback::Read(hers).encode())
        .await?;
    assert_eq!(notice.as_deref(), Some("This button is no longer valid."));
    assert!(bot.store.delivery(hers).await?.unwrap().read_at.is_none());
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spanish_trader_is_answered_in_spanish() -> anyhow::Result<()> {
    let bot = start().await?;
    let ana = TestUser::trader(97).with_language("es-ES");
    let welcome = bot.say(&ana, "/start").await?;
    assert!(welcome.contains("Herald"), "{welcome}");
    assert!(!welcome.contains("Welcome"), "{welcome}");
    let user = bot.store.user_by_telegram_id(97).await?.expect("user");
    assert_eq!(bot.store.preferences(user.id).await?.language, Language::Es);
    let unknown = bot.say(&ana, "/luna").await?;
    assert!(
        unknown.contains("/luna") && !unknown.contains("I don't know"),
        "{unknown}"
    );

    // /language switches, by name or by button.
    let english = bot.say(&ana, "/language en").await?;
    assert_eq!(english, "✅ I'll speak English from now on.");
    let picker = bot.say_full(&ana, "/language").await?;
    let (notice, edited) = bot.press(&ana, &picker, "Español").await?;
    assert_eq!(
        notice.as_deref(),
        Some("✅ A partir de ahora te hablaré en español.")
    );
    assert_eq!(edited.text, "✅ A partir de ahora te hablaré en español.");
    let bad = bot.say(&ana, "/language xx").await?;
    assert!(bad.contains("English (en), Español (es)"), "{bad}");
    bot.stop().await
}
