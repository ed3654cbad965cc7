//! The operator's `herald tiers` and `herald users set-tier`, run as the real binary against a
//! fresh database on each backend: the default tier listed, a tier created, changed one
//! option at a time and made the default, bad values refused naming the option, and a
//! registered trader put on a tier (and the refusals for an unknown trader or tier).

use chrono::Utc;
use herald_domain::{Asset, SignalKind, Tier};
use herald_store::{TelegramProfile, TierRecord};
use herald_testkit::db::Backend;
use herald_tests::Stack;

/// The registered trader's Telegram id (and chat).
const TRADER: i64 = 9_100;

/// Runs `herald args…` with the stack's settings: exit code, stdout, stderr.
async fn run(stack: &Stack, args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let out = stack.herald_command(args)?.output().await?;
    Ok((
        out.status.code(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

/// `herald tiers`' rows (header left out), each split into its cells.
fn rows(out: &str) -> Vec<Vec<String>> {
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "TIER",
            "DEFAULT",
            "KINDS",
            "ASSETS",
            "MIN",
            "CONFIDENCE",
            "DELAY",
            "EXPIRY"
        ],
        "{out}"
    );
    lines
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn gold(delay_minutes: i64) -> Tier {
    Tier {
        name: "gold".into(),
        kinds: [SignalKind::Buy, SignalKind::Sell].into(),
        assets: ["BTC/USD", "ETH/USD"]
            .map(|a| Asset::parse(a).unwrap())
            .into(),
        min_confidence: 70,
        delay: chrono::TimeDelta::minutes(delay_minutes),
        expiry: Some(chrono::TimeDelta::days(30)),
    }
}

async fn tiers_and_set_tier(backend: Backend) -> anyhow::Result<()> {
    let stack = Stack::new(backend, &[]).await?;

    // A fresh database: the command creates the schema, whose default tier is `standard`.
    let out = stack.herald(&["tiers"]).await?;
    let standard = row(&[
        "standard",
        "yes",
        "buy,sell,close,alert",
        "all",
        "0",
        "0",
        "never",
    ]);
    assert_eq!(rows(&out), std::slice::from_ref(&standard), "{out}");
    assert_eq!(stack.herald(&["tiers", "list"]).await?, out);

    // Created with every option.
    let out = stack
        .herald(&[
            "tiers",
            "set",
            "gold",
            "--kinds",
            "buy,SELL",
            "--assets",
            "BTC/USD,eth/usd",
            "--min-confidence",
            "70",
            "--delay",
            "15m",
            "--expiry",
            "30d",
        ])
        .await?;
    assert_eq!(
        out.trim(),
        "created tier gold: kinds buy,sell; assets BTC/USD,ETH/USD; min confidence 70; delay 15m; expiry 30d"
    );
    let store = stack.store().await?;
    let gold_row = |delay: &str, default: &str| {
        row(&[
            "gold",
            default,
            "buy,sell",
            "BTC/USD,ETH/USD",
            "70",
            delay,
            "30d",
        ])
    };
    let out = stack.herald(&["tiers"]).await?;
    assert_eq!(
        rows(&out),
        [gold_row("15m", "no"), standard.clone()],
        "{out}"
    );
    assert_eq!(
        store.list_tiers().await?[0],
        TierRecord {
            tier: gold(15),
            is_default: false
        }
    );

    // One option changed, the others kept.
    let out = stack
        .herald(&["tiers", "set", "gold", "--delay", "5m"])
        .await?;
    assert_eq!(out.trim(), "updated tier gold: delay 15m → 5m");
    assert_eq!(
        store.list_tiers().await?[0],
        TierRecord {
            tier: gold(5),
            is_default: false
        }
    );

    // Made the default: in place of standard, which is otherwise untouched.
    let out = stack.herald(&["tiers", "set", "gold", "--default"]).await?;
    assert_eq!(
        out.trim(),
        "updated tier gold: now the default tier, in place of standard"
    );
    let out = stack.herald(&["tiers"]).await?;
    let standard_now = row(&[
        "standard",
        "no",
        "buy,sell,close,alert",
        "all",
        "0",
        "0",
        "never",
    ]);
    assert_eq!(
        rows(&out),
        [gold_row("5m", "yes"), standard_now.clone()],
        "{out}"
    );
    assert_eq!(store.tiers().await?.default_tier(), &gold(5));

    // Bad values: refused before anything is written, naming the option and the value.
    for (option, value, why) in [
        ("--delay", "25h", "24 hours"),
        ("--delay", "soon", "not a duration"),
        ("--kinds", "buy,hold", "unknown signal kind"),
        ("--assets", "BTC/USD/EUR", "more than one '/'"),
        ("--min-confidence", "101", "0..=100"),
        ("--expiry", "36h", "whole days"),
    ] {
        let (code, stdout, stderr) = run(&stack, &["tiers", "set", "gold", option, value]).await?;
        assert_eq!(code, Some(2), "{option} {value}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{option} "))
                && stderr.contains(why),
            "{option} {value}: {stderr}"
        );
    }
    let (code, _, stderr) = run(&stack, &["tiers", "set", "Gold Plus"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("tier name \"Gold Plus\""), "{stderr}");
    assert_eq!(
        rows(&stack.herald(&["tiers"]).await?),
        [gold_row("5m", "yes"), standard_now],
        "nothing changed"
    );

    // A registered trader, on the default tier until put on another.
    let profile = TelegramProfile {
        telegram_id: TRADER,
        chat_id: TRADER,
        username: Some("tier_trader".into()),
        first_name: Some("Tia".into()),
        last_name: None,
        language_code: None,
    };
    let user = store.register_user(&profile, Utc::now()).await?.user;
    assert_eq!(store.user_tier(user.id).await?.name, "gold");
    let id = TRADER.to_string();
    let out = stack
        .herald(&["users", "set-tier", "--telegram-id", &id, "standard"])
        .await?;
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("trader 9100 (@tier_trader): the default tier (gold) → tier standard"),
        "{out}"
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.contains("once they /subscribe")),
        "{out}"
    );
    assert_eq!(store.user_tier(user.id).await?.name, "standard");
    let subscription = store.subscription(user.id, Utc::now()).await?;
    assert!(
        subscription.is_some_and(|s| s.tier.as_deref() == Some("standard") && !s.current),
        "put on the tier, not subscribed"
    );
    let out = stack
        .herald(&["users", "set-tier", "--telegram-id", &id, "standard"])
        .await?;
    assert_eq!(
        out.trim(),
        "trader 9100 (@tier_trader) is already on tier standard; nothing changed"
    );

    // Subscribed: the new tier from now on; the end date from the next /subscribe.
    store.subscribe(user.id, Utc::now()).await?;
    let out = stack
        .herald(&["users", "set-tier", "--telegram-id", &id, "gold"])
        .await?;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "trader 9100 (@tier_trader): tier standard → tier gold",
            "subscribed: signals from now on follow tier gold; their subscription still has no end date, the tier's 30-day expiry applies from their next /subscribe",
        ],
        "{out}"
    );
    let subscription = store.subscription(user.id, Utc::now()).await?;
    assert!(
        subscription.is_some_and(|s| s.tier.as_deref() == Some("gold") && s.current),
        "still subscribed, on gold"
    );
    assert_eq!(store.user_tier(user.id).await?.name, "gold");

    // An unknown trader, an unknown tier: one line saying so, and nothing changed.
    let (code, stdout, stderr) = run(
        &stack,
        &["users", "set-tier", "--telegram-id", "424242", "gold"],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: no trader with Telegram id 424242"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(
        &stack,
        &["users", "set-tier", "--telegram-id", &id, "platinum"],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: there is no tier \"platinum\"")
            && stderr.contains("gold, standard"),
        "{stderr}"
    );
    let subscription = store.subscription(user.id, Utc::now()).await?;
    assert_eq!(subscription.and_then(|s| s.tier).as_deref(), Some("gold"));

    store.close().await?;
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn tiers_and_set_tier_on_sqlite() -> anyhow::Result<()> {
    tiers_and_set_tier(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tiers_and_set_tier_on_postgres() -> anyhow::Result<()> {
    tiers_and_set_tier(Backend::Postgres).await
}
