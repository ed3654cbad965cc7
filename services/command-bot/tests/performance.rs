//! `/performance` through the real teloxide loop: figures over signals with known outcomes,
//! seeded through the store as the ingest path and the dispatcher record them, read back in
//! English and Spanish; its buttons redrawing the one message; too little data; a bad
//! period.

mod common;

use chrono::{DateTime, Duration, Utc};
use herald_domain::{Signal, SignalFormat, judge_close, parse_signal};
use herald_store::{QueuedSignal, Recipient, Store};
use herald_testkit::telegram::TestUser;

use common::{Bot, start};

/// Stores a buy or sell generated at `at`, with its entry, target and stop.
async fn open(
    store: &Store,
    kind: &str,
    asset: &str,
    prices: [&str; 3],
    at: DateTime<Utc>,
) -> anyhow::Result<Signal> {
    let json = serde_json::json!({
        "kind": kind, "asset": asset, "confidence": 80, "timeframe": "1H",
        "entry_price": prices[0], "target_price": prices[1], "stop_loss": prices[2],
        "source_model": "momentum-v3", "generated_at": at,
    });
    let signal = parse_signal(&serde_json::to_vec(&json)?, at)?;
    store
        .insert_signal(&signal, at, at + Duration::hours(1))
        .await?;
    Ok(signal)
}

/// Closes `position` at `at`, at `exit` (or, without one, at its target), storing the close
/// and its outcome as the ingest path does.
async fn close(
    store: &Store,
    position: &Signal,
    exit: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut json = serde_json::json!({
        "kind": "close", "asset": position.asset.as_str(), "confidence": 90,
        "closes_signal_id": position.id.0.to_string(), "generated_at": at,
    });
    match exit {
        Some(price) => json["entry_price"] = price.into(),
        None => json["reason"] = "target".into(),
    }
    let close = parse_signal(&serde_json::to_vec(&json)?, at)?;
    let outcome = judge_close(&close, &store.position(position.id).await?)?
        .expect("a close that names its position has an outcome");
    store
        .insert_close(&close, at, at + Duration::hours(1), &outcome, at)
        .await?;
    Ok(())
}

/// Records `signal` as sent to `user` (a delivery, then Telegram's acceptance).
async fn deliver(bot: &Bot, signal: &Signal, user: &TestUser) -> anyhow::Result<()> {
    let store = &bot.store;
    let id = store
        .user_by_telegram_id(user.id)
        .await?
        .expect("registered")
        .id;
    let now = Utc::now();
    let queued = QueuedSignal::new(signal, Some(now + Duration::hours(1)));
    let recipient = Recipient::new(id, user.id, SignalFormat::Compact);
    store.create_deliveries(&queued, &[recipient], now).await?;
    let delivery = store
        .deliveries_for_signal(signal.id)
        .await?
        .into_iter()
        .find(|d| d.chat_id == user.id)
        .expect("the delivery")
        .id;
    store.record_sent(delivery, 1, now).await?;
    Ok(())
}

/// The positions of the tests, relative to `now`, for the traders in `to`:
///
/// | signal | when | outcome | sent to `to` |
/// |---|---|---|---|
/// | buy BTC/USD at 100 | 2 days ago | target 110 a day ago: +10% | yes |
/// | sell ETH/USD at 200 | 3 days ago | exit 204 two days ago: -2% | yes |
/// | buy SOL/USD at 50 | 10 days ago | exit 55 nine days ago: +10% | yes |
/// | buy ADA/USD at 1 | an hour ago | open | yes |
/// | buy XRP/USD at 10 | 20 hours ago | exit 11 twelve hours ago: +10% | no |
///
/// The closes themselves are signals too, sent to no one. Returns the open ADA/USD buy.
async fn seed(bot: &Bot, to: &[&TestUser], now: DateTime<Utc>) -> anyhow::Result<Signal> {
    let store = &bot.store;
    let hours = Duration::hours;
    let btc = open(
        store,
        "buy",
        "BTC/USD",
        ["100", "110", "95"],
        now - hours(48),
    )
    .await?;
    let eth = open(
        store,
        "sell",
        "ETH/USD",
        ["200", "180", "210"],
        now - hours(72),
    )
    .await?;
    let sol = open(
        store,
        "buy",
        "SOL/USD",
        ["50", "60", "45"],
        now - hours(240),
    )
    .await?;
    let ada = open(store, "buy", "ADA/USD", ["1", "1.2", "0.9"], now - hours(1)).await?;
    let xrp = open(store, "buy", "XRP/USD", ["10", "12", "9"], now - hours(20)).await?;
    for signal in [&btc, &eth, &sol, &ada] {
        for user in to {
            deliver(bot, signal, user).await?;
        }
    }
    close(store, &btc, None, now - hours(24)).await?;
    close(store, &eth, Some("204"), now - hours(48)).await?;
    close(store, &sol, Some("55"), now - hours(216)).await?;
    close(store, &xrp, Some("11"), now - hours(12)).await?;
    Ok(ada)
}

fn assert_has(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn performance_shows_the_traders_own_figures_in_their_language() -> anyhow::Result<()> {
    let bot = start().await?;
    let pat = TestUser::trader(310);
    let ana = TestUser::trader(311).with_language("es");
    bot.say(&pat, "/start").await?;
    bot.say(&ana, "/start").await?;
    seed(&bot, &[&pat, &ana], Utc::now()).await?;

    // The last 7 days by default: BTC +10%, ETH -2%, ADA open; not SOL (older), not XRP
    // (not sent to them).
    let week = bot.say_full(&pat, "/performance").await?;
    assert_has(
        &week.text,
        &[
            "📊 Performance · your signals · last 7 days",
            "📨 3 signals: Buy 2 · Sell 1 · Close 0 · Alert 0",
            "📂 3 positions (buys and sells): 2 closed · 1 open",
            "✅ 1 won · ❌ 1 lost · ⏹ 0 flat",
            "🎯 Win rate: 50.0% (1 of 2)",
            "📈 Average return: +4.00% · median +4.00%",
            "➕ Sum of returns: +8.00%",
            "🏆 Best: BTC/USD +10.00%",
            "📉 Worst: ETH/USD -2.00%",
            "• momentum-v3: 3 signals, 2 closed · win rate 50.0% · average +4.00%",
        ],
    );
    assert!(!week.text.contains("SOL/USD"), "{}", week.text);
    assert!(!week.text.contains("XRP/USD"), "{}", week.text);
    let labels: Vec<String> = week.inline_buttons().into_iter().map(|(l, _)| l).collect();
    assert_eq!(
        labels,
        [
            "24h",
            "• 7d",
            "30d",
            "All",
            "• 👤 Mine",
            "👥 All signals",
            "🔄 Refresh"
        ]
    );

    // A period given: the last 30 days take SOL in.
    let month = bot.say(&pat, "/performance 30d").await?;
    assert_has(
        &month,
        &[
            "📊 Performance · your signals · last 30 days",
            "📨 4 signals: Buy 3 · Sell 1 · Close 0 · Alert 0",
            "📂 4 positions (buys and sells): 3 closed · 1 open",
            "🎯 Win rate: 66.7% (2 of 3)",
            "📈 Average return: +6.00% · median +10.00%",
            "➕ Sum of returns: +18.00%",
            "🏆 Best: SOL/USD +10.00%",
        ],
    );

    // The same figures in Spanish.
    let semana = bot.say_full(&ana, "/performance").await?;
    assert_has(
        &semana.text,
        &[
            "📊 Rendimiento · tus señales · últimos 7 días",
            "📨 3 señales: Compra 2 · Venta 1 · Cierre 0 · Alerta 0",
            "📂 3 posiciones (compras y ventas): 2 cerradas · 1 abierta",
            "✅ 1 ganadora · ❌ 1 perdedora · ⏹ 0 neutras",
            "🎯 Tasa de acierto: 50.0% (1 de 2)",
            "📈 Rentabilidad media: +4.00% · mediana +4.00%",
            "➕ Suma de rentabilidades: +8.00%",
            "🏆 Mejor: BTC/USD +10.00%",
            "📉 Peor: ETH/USD -2.00%",
        ],
    );
    let etiquetas: Vec<String> = semana
        .inline_buttons()
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert_eq!(
        etiquetas,
        [
            "24 h",
            "• 7 d",
            "30 d",
            "Todo",
            "• 👤 Mis señales",
            "👥 Todas las señales",
            "🔄 Actualizar"
        ]
    );
    let todo = bot.say(&ana, "/performance all").await?;
    assert_has(
        &todo,
        &[
            "tus señales · desde el principio",
            "🎯 Tasa de acierto: 66.7% (2 de 3)",
        ],
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_buttons_switch_period_and_scope_and_refresh_in_place() -> anyhow::Result<()> {
    let bot = start().await?;
    let pat = TestUser::trader(320);
    bot.say(&pat, "/start").await?;
    let ada = seed(&bot, &[&pat], Utc::now()).await?;
    let message = bot.say_full(&pat, "/performance").await?;
    let sent_before = bot.double.sent_to(320).len();

    let (notice, month) = bot.press(&pat, &message, "30d").await?;
    assert_eq!(notice, None);
    assert_eq!(month.message_id, message.message_id);
    assert_has(
        &month.text,
        &["your signals · last 30 days", "➕ Sum of returns: +18.00%"],
    );
    assert!(
        month.inline_buttons().iter().any(|(l, _)| l == "• 30d"),
        "{:?}",
        month.inline_buttons()
    );

    // Every signal, not only theirs: XRP and the closes count too.
    let (_, everyone) = bot.press(&pat, &month, "👥 All signals").await?;
    assert_has(
        &everyone.text,
        &[
            "📊 Performance · all signals · last 30 days",
            "📨 9 signals: Buy 4 · Sell 1 · Close 4 · Alert 0",
            "📂 5 positions (buys and sells): 4 closed · 1 open",
            "🎯 Win rate: 75.0% (3 of 4)",
            "➕ Sum of returns: +28.00%",
        ],
    );
    let labels: Vec<String> = everyone
        .inline_buttons()
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    assert!(
        labels.contains(&"• 👥 All signals".to_string()) && labels.contains(&"• 30d".to_string()),
        "{labels:?}"
    );
    let (_, day) = bot.press(&pat, &everyone, "24h").await?;
    assert_has(
        &day.text,
        &[
            "all signals · last 24 hours",
            // ADA (open), XRP and its close; BTC's close came a day ago (out).
            "📨 3 signals: Buy 2 · Sell 0 · Close 1 · Alert 0",
            "🏆 Best: XRP/USD +10.00%",
        ],
    );

    // Back to their own signals over 7 days; then ADA closes, and Refresh shows it.
    let (_, mine) = bot.press(&pat, &day, "👤 Mine").await?;
    let (_, week) = bot.press(&pat, &mine, "7d").await?;
    assert_has(&week.text, &["your signals · last 7 days", "+8.00%"]);
    close(&bot.store, &ada, Some("1.05"), Utc::now()).await?;
    let (notice, refreshed) = bot.press(&pat, &week, "🔄 Refresh").await?;
    assert_eq!(notice, None);
    assert_has(
        &refreshed.text,
        &[
            "📂 3 positions (buys and sells): 3 closed · 0 open",
            "🎯 Win rate: 66.7% (2 of 3)",
            "➕ Sum of returns: +13.00%",
        ],
    );
    assert_eq!(refreshed.message_id, message.message_id);
    assert_eq!(
        bot.double.sent_to(320).len(),
        sent_before,
        "every press edited the one message; nothing new was sent"
    );
    assert_eq!(bot.double.edit_count(320), 6);
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn too_little_data_is_said_plainly() -> anyhow::Result<()> {
    let bot = start().await?;
    let neo = TestUser::trader(330);
    let eva = TestUser::trader(331).with_language("es");

    // A trader the bot has never met is registered, as by every command, and has no signals.
    let nothing = bot.say(&neo, "/performance").await?;
    assert_has(
        &nothing,
        &[
            "📊 Performance · your signals · last 7 days",
            "No signals in this period yet.",
        ],
    );
    assert!(!nothing.contains('%'), "no invented numbers: {nothing}");
    assert!(bot.store.user_by_telegram_id(330).await?.is_some());

    // Signals received, none closed yet.
    bot.say(&eva, "/start").await?;
    let now = Utc::now();
    let open = open(
        &bot.store,
        "buy",
        "BTC/USD",
        ["100", "110", "95"],
        now - Duration::hours(2),
    )
    .await?;
    deliver(&bot, &open, &neo).await?;
    deliver(&bot, &open, &eva).await?;
    let waiting = bot.say(&neo, "/performance").await?;
    assert_has(
        &waiting,
        &[
            "📨 1 signal: Buy 1 · Sell 0 · Close 0 · Alert 0",
            "📂 1 position (buys and sells): 0 closed · 1 open",
            "⏳ No position has closed in this period yet, so there are no returns to show.",
        ],
    );
    assert!(!waiting.contains("Win rate"), "{waiting}");
    let esperando = bot.say(&eva, "/performance 24h").await?;
    assert_has(
        &esperando,
        &["⏳ Todavía no se ha cerrado ninguna posición en este periodo"],
    );
    bot.stop().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_period_gets_the_choices() -> anyhow::Result<()> {
    let bot = start().await?;
    let leo = TestUser::trader(340);
    let answer = bot.say_full(&leo, "/performance 1y").await?;
    assert_eq!(
        answer.text,
        "I don't know the period “1y”. Pick one of 24h, 7d, 30d or all, e.g. /performance 30d."
    );
    assert!(answer.reply_markup.is_none());
    let tagged = bot.say(&leo, "/performance <b>month</b>").await?;
    assert!(tagged.contains("“<b>month</b>”"), "escaped: {tagged}");
    let two = bot.say(&leo, "/performance 7d mine").await?;
    assert!(
        two.starts_with("I don't know the period “7d mine”"),
        "{two}"
    );
    let mia = TestUser::trader(341).with_language("es");
    let spanish = bot.say(&mia, "/performance semana").await?;
    assert!(
        spanish.starts_with("No conozco el periodo “semana”. Elige 24h, 7d, 30d o all"),
        "{spanish}"
    );
    // Case does not matter, and the long names work too.
    assert!(
        bot.say(&leo, "/performance MONTH")
            .await?
            .contains("last 30 days")
    );
    bot.stop().await
}
