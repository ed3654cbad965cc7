//! The operator's `herald destinations add|list|remove`, run as the real binary against a
//! fresh database on each backend: destinations registered with every option and with the
//! defaults, listed with their state and the bot's chats, stopped when the bot leaves their
//! chat, removed; bad values refused naming the option, a chat registered twice and unknown
//! or removed ids refused in one line; every change audited as `cli`.

use std::collections::BTreeSet;

use chrono::Utc;
use herald_domain::{Asset, Language, SignalFormat, SignalKind};
use herald_store::{AuditFilter, BOT_REMOVED, BotChat};
use herald_testkit::db::Backend;
use herald_tests::Stack;
use uuid::Uuid;

/// The channel registered.
const CHANNEL: &str = "-1001234567890";
/// A forum group, one of whose topics is registered.
const FORUM: i64 = -1_009_876_543_210;

/// Runs `herald args…` with the stack's settings: exit code, stdout, stderr.
async fn run(stack: &Stack, args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let out = stack.herald_command(args)?.output().await?;
    Ok((
        out.status.code(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

/// The id `herald destinations add` printed.
fn added_id(out: &str) -> Uuid {
    out.strip_prefix("added destination ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id in {out:?}"))
}

/// The destinations table's line for `id`.
fn line_of(list: &str, id: Uuid) -> &str {
    list.lines()
        .find(|l| l.starts_with(&id.to_string()))
        .unwrap_or_else(|| panic!("{id} not listed:\n{list}"))
}

async fn destinations(backend: Backend) -> anyhow::Result<()> {
    let stack = Stack::new(backend, &[]).await?;

    // A fresh database: the command creates the schema; nothing registered, no chats known.
    let out = stack.herald(&["destinations", "list"]).await?;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "Destinations:",
            "  none: `herald destinations add --chat ID --name NAME` registers one",
            "",
            "Groups and channels of the bot (as Telegram last told):",
            "  none yet: they are recorded when the bot is added to a group or channel while the command-bot runs",
        ],
        "{out}"
    );

    // Every option.
    let (code, out, err) = run(
        &stack,
        &[
            "destinations",
            "add",
            "--chat",
            CHANNEL,
            "--name",
            "VIP channel",
            "--kinds",
            "buy,SELL",
            "--assets",
            "btc/usd,ETH/USD",
            "--min-confidence",
            "70",
            "--format",
            "compact",
            "--language",
            "es",
        ],
    )
    .await?;
    assert_eq!(code, Some(0), "{err}");
    let vip = added_id(&out);
    assert_eq!(
        out.trim(),
        format!(
            "added destination {vip} (\"VIP channel\"): chat {CHANNEL}; kinds buy,sell; assets BTC/USD,ETH/USD; min confidence 70; format compact; language es"
        )
    );
    assert!(
        err.starts_with("note: Herald has not seen the bot join chat -1001234567890"),
        "{err}"
    );
    let store = stack.store().await?;
    let stored = store.destination(vip).await?.expect("stored");
    assert_eq!(
        (
            stored.chat_id,
            stored.thread_id,
            stored.name.as_str(),
            &stored.kinds,
            stored.min_confidence,
            stored.format,
            stored.language,
            stored.active,
            stored.created_by.as_str(),
        ),
        (
            -1_001_234_567_890,
            None,
            "VIP channel",
            &BTreeSet::from([SignalKind::Buy, SignalKind::Sell]),
            70,
            SignalFormat::Compact,
            Language::Es,
            true,
            "cli",
        )
    );
    assert_eq!(
        stored.assets,
        ["BTC/USD", "ETH/USD"]
            .map(|a| Asset::parse(a).unwrap())
            .into()
    );

    // The defaults: every kind and asset, 0, detailed, English; a topic of a forum the bot
    // is known to be in (no note then).
    store
        .record_bot_chat(&BotChat {
            chat_id: FORUM,
            kind: "supergroup".into(),
            title: Some("Traders forum".into()),
            is_forum: true,
            status: "administrator".into(),
            changed_by: Some(555),
            updated_at: Utc::now(),
        })
        .await?;
    let forum = FORUM.to_string();
    let (code, out, err) = run(
        &stack,
        &[
            "destinations",
            "add",
            "--chat",
            &forum,
            "--topic",
            "7",
            "--name",
            "Forum: BTC",
        ],
    )
    .await?;
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let topic = added_id(&out);
    assert_eq!(
        out.trim(),
        format!(
            "added destination {topic} (\"Forum: BTC\"): chat {FORUM} topic 7; kinds buy,sell,close,alert; assets all; min confidence 0; format detailed; language en"
        )
    );

    let list = stack.herald(&["destinations", "list"]).await?;
    let header = list.lines().nth(1).unwrap_or_default();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        [
            "ID",
            "NAME",
            "CHAT",
            "TOPIC",
            "KINDS",
            "ASSETS",
            "MIN",
            "CONFIDENCE",
            "FORMAT",
            "LANGUAGE",
            "STATUS"
        ],
        "{list}"
    );
    let cells = |line: &str| -> Vec<String> { line.split_whitespace().map(String::from).collect() };
    assert_eq!(
        cells(line_of(&list, vip))[1..],
        [
            "VIP",
            "channel",
            CHANNEL,
            "-",
            "buy,sell",
            "BTC/USD,ETH/USD",
            "70",
            "compact",
            "es",
            "active"
        ],
        "{list}"
    );
    assert_eq!(
        cells(line_of(&list, topic))[1..],
        [
            "Forum:",
            "BTC",
            &forum,
            "7",
            "buy,sell,close,alert",
            "all",
            "0",
            "detailed",
            "en",
            "active"
        ],
        "{list}"
    );
    let chat_line = list
        .lines()
        .find(|l| l.starts_with(&forum))
        .unwrap_or_else(|| panic!("the forum is not among the bot's chats:\n{list}"));
    assert_eq!(
        cells(chat_line)[..6],
        [
            forum.as_str(),
            "supergroup",
            "Traders",
            "forum",
            "yes",
            "administrator"
        ],
        "{list}"
    );

    // The bot removed from the forum: its destination stops, and the list says why.
    store
        .record_bot_chat(&BotChat {
            chat_id: FORUM,
            kind: "supergroup".into(),
            title: Some("Traders forum".into()),
            is_forum: true,
            status: "kicked".into(),
            changed_by: Some(555),
            updated_at: Utc::now(),
        })
        .await?;
    let list = stack.herald(&["destinations", "list"]).await?;
    assert!(
        line_of(&list, topic).ends_with(&format!("inactive: {BOT_REMOVED}")),
        "{list}"
    );
    assert!(line_of(&list, vip).ends_with("active"), "{list}");
    assert!(list.contains("kicked (cannot post)"), "{list}");

    // Bad values: refused before anything is written, naming the option and the value.
    for (option, value, why) in [
        ("--chat", "12345", "negative"),
        ("--chat", "@vip", "not a chat id"),
        ("--topic", "0", "0 is not in 1.."),
        ("--name", " ", "1 to 100 characters"),
        ("--kinds", "buy,hold", "unknown signal kind"),
        ("--kinds", ",", "at least one"),
        ("--assets", "BTC/USD/EUR", "more than one '/'"),
        ("--min-confidence", "101", "0..=100"),
        ("--format", "fancy", "detailed or compact"),
        ("--language", "fr", "unknown language"),
    ] {
        let mut args = vec!["destinations", "add"];
        for (good, good_value) in [("--chat", "-100555"), ("--name", "x")] {
            if good != option {
                args.extend([good, good_value]);
            }
        }
        args.extend([option, value]);
        let (code, stdout, stderr) = run(&stack, &args).await?;
        assert_eq!(code, Some(2), "{option} {value}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{option} "))
                && stderr.contains(why),
            "{option} {value}: {stderr}"
        );
    }
    let (code, _, stderr) = run(&stack, &["destinations", "add", "--chat", "-100555"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--name <NAME>"), "{stderr}");

    // The same chat again: one line naming the destination registered.
    let (code, stdout, stderr) = run(
        &stack,
        &["destinations", "add", "--chat", CHANNEL, "--name", "again"],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: chat {CHANNEL} is already destination {vip} (\"VIP channel\")"
        )),
        "{stderr}"
    );
    assert_eq!(store.destinations(false).await?.len(), 2, "nothing added");

    // Removed: gone from the list, shown with --all; removing again, an unknown id or a
    // malformed one is refused.
    let id = topic.to_string();
    let out = stack.herald(&["destinations", "remove", &id]).await?;
    assert_eq!(
        out.trim(),
        format!(
            "removed destination {topic} (\"Forum: BTC\", chat {FORUM} topic 7): nothing more is sent there"
        )
    );
    let list = stack.herald(&["destinations", "list"]).await?;
    assert!(!list.contains(&id), "{list}");
    let all = stack.herald(&["destinations", "list", "--all"]).await?;
    assert!(line_of(&all, topic).ends_with("removed"), "{all}");
    let (code, _, stderr) = run(&stack, &["destinations", "remove", &id]).await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("error: destination {topic} (\"Forum: BTC\") was removed already")
    );
    let unknown = Uuid::now_v7().to_string();
    let (code, _, stderr) = run(&stack, &["destinations", "remove", &unknown]).await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "error: there is no destination {unknown} (`herald destinations list --all` lists them)"
        )
    );
    let (code, _, stderr) = run(&stack, &["destinations", "remove", "xyz"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'xyz' for '<ID>'"),
        "{stderr}"
    );

    // The topic can be registered again once removed.
    let (code, _, stderr) = run(
        &stack,
        &[
            "destinations",
            "add",
            "--chat",
            &forum,
            "--topic",
            "7",
            "--name",
            "Forum: BTC again",
        ],
    )
    .await?;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.starts_with("warning: the bot is not in chat"),
        "{stderr}"
    );

    // Every change audited as the CLI, newest first.
    let audit = store
        .audit_page(
            &AuditFilter {
                action: Some("destination.".into()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await?;
    let entries: Vec<(&str, &str, Option<&str>)> = audit
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_deref()))
        .collect();
    let target = |id: Uuid| format!("destination:{id}");
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert_eq!(
        entries[1..],
        [
            ("cli", "destination.remove", Some(target(topic).as_str())),
            ("cli", "destination.add", Some(target(topic).as_str())),
            ("cli", "destination.add", Some(target(vip).as_str())),
        ]
    );
    assert_eq!(entries[0].1, "destination.add");
    assert_eq!(
        audit[3].details,
        Some(serde_json::json!({
            "chat_id": -1_001_234_567_890_i64, "thread_id": null, "name": "VIP channel",
            "kinds": ["buy", "sell"], "assets": ["BTC/USD", "ETH/USD"], "min_confidence": 70,
            "format": "compact", "language": "es",
        }))
    );

    store.close().await?;
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn destinations_on_sqlite() -> anyhow::Result<()> {
    destinations(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread")]
async fn destinations_on_postgres() -> anyhow::Result<()> {
    destinations(Backend::Postgres).await
}
