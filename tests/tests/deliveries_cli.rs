//! The operator's `herald deliveries status` and `retry`, run as the real binary against a
//! database holding a signal whose deliveries are in every state: the counts it prints,
//! exactly the failed ones requeued, then sent by a running `herald all`, and `--watch`
//! following the broadcast to its end.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{DeliveryStatus, SignalFormat, SignalId, parse_signal};
use herald_store::{QueuedSignal, Recipient, Store, TelegramProfile};
use herald_testkit::db::Backend;
use herald_tests::{Service, Stack, WAIT, eventually};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

const TRADERS: usize = 10;
/// Telegram id (and chat) of trader `n`.
const fn chat(n: usize) -> i64 {
    7_000 + n as i64
}

/// What the fixture made of each trader's delivery, by trader number.
const PENDING: [usize; 2] = [0, 1];
const SENT: [usize; 2] = [2, 3];
const FAILED: [usize; 3] = [4, 5, 6];
const MAYBE_DELIVERED: usize = 7;
const BLOCKED: usize = 8;
const EXPIRED: usize = 9;

/// A 1H BTC/USD buy generated 11 minutes ago, fanned out to ten traders whose deliveries
/// are then put in every state as a dispatcher would have: see the constants above.
/// Returns the signal and each trader's delivery id.
async fn fixture(store: &Store) -> anyhow::Result<(SignalId, Vec<Uuid>)> {
    let now = Utc::now();
    let t0 = now - TimeDelta::minutes(10);
    let json = serde_json::json!({
        "id": Uuid::new_v4(), "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": "1H", "confidence": 85,
        "generated_at": (now - TimeDelta::minutes(11)).to_rfc3339(),
    });
    let signal = parse_signal(json.to_string().as_bytes(), t0).expect("a valid signal");
    let deadline = signal.deadline(Duration::from_secs(900));
    store.insert_signal(&signal, t0, deadline).await?;
    let mut recipients = Vec::new();
    for n in 0..TRADERS {
        let profile = TelegramProfile {
            telegram_id: chat(n),
            chat_id: chat(n),
            username: Some(format!("cli_trader_{n}")),
            first_name: Some(format!("Trader{n}")),
            last_name: None,
            language_code: None,
        };
        let user = store.register_user(&profile, t0).await?.user;
        store.subscribe(user.id, t0).await?;
        recipients.push(Recipient::new(user.id, chat(n), SignalFormat::Compact));
    }
    let queued = QueuedSignal::new(&signal, Some(deadline));
    store
        .record_fanout_page(&queued, &recipients, None, true, t0)
        .await?;

    let lease = TimeDelta::seconds(30);
    let claims = store
        .claim_deliveries(TRADERS, t0, lease, TimeDelta::seconds(1))
        .await?;
    anyhow::ensure!(claims.len() == TRADERS);
    let ids: Vec<Uuid> = recipients
        .iter()
        .map(|r| {
            claims
                .iter()
                .find(|c| c.user_id == Some(r.user_id))
                .expect("claimed")
                .delivery_id
        })
        .collect();
    let at = |minutes| t0 + TimeDelta::minutes(minutes);
    // Its send timed out; the one retry fails for good below.
    store
        .record_unknown(ids[MAYBE_DELIVERED], "timed out", at(1), t0)
        .await?;
    // Waiting for a retry, due before now.
    store
        .release_claims(&PENDING.map(|n| ids[n]), at(2), t0)
        .await?;
    let again = store
        .claim_deliveries(1, at(1), lease, TimeDelta::seconds(1))
        .await?;
    anyhow::ensure!(again.len() == 1 && again[0].delivery_id == ids[MAYBE_DELIVERED]);
    for (i, n) in SENT.into_iter().enumerate() {
        store.record_sent(ids[n], 100 + i as i64, t0).await?;
    }
    for n in FAILED.into_iter().chain([MAYBE_DELIVERED]) {
        store
            .record_final(ids[n], DeliveryStatus::Failed, Some("Telegram 500"), at(1))
            .await?;
    }
    store
        .record_final(ids[BLOCKED], DeliveryStatus::Blocked, Some("blocked"), t0)
        .await?;
    store.record_expired_many(&[ids[EXPIRED]], t0).await?;
    Ok((signal.id, ids))
}

/// The `  status  count` lines of `deliveries status`.
fn counts(out: &str) -> BTreeMap<String, u64> {
    out.lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let status = words.next()?.to_string();
            let n = words.next()?.replace(',', "").parse().ok()?;
            Some((status, n))
        })
        .collect()
}

fn expect_counts(out: &str, expected: &[(&str, u64)]) {
    let got = counts(out);
    let want: BTreeMap<String, u64> = expected.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(got, want, "counts in:\n{out}");
}

/// Messages about the fixture's signal received by trader `n`.
fn received(stack: &Stack, n: usize) -> usize {
    stack
        .telegram
        .sent_to(chat(n))
        .iter()
        .filter(|m| m.text.contains("BTC/USD"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_retry_drive_a_broadcast_to_its_end() -> anyhow::Result<()> {
    let mut stack = Stack::new(Backend::Postgres, &[("HERALD_TELEGRAM_RATE_LIMIT", "0")]).await?;
    stack.herald(&["migrate"]).await?;
    let store = stack.store().await?;
    let (signal, ids) = fixture(&store).await?;
    let id = signal.to_string();

    // status: the signal and the count of every state.
    let out = stack
        .herald(&["deliveries", "status", "--signal", &id])
        .await?;
    assert!(
        out.contains(&format!("signal      {id}  BUY BTC/USD 1H, confidence 85")),
        "{out}"
    );
    assert!(out.contains("fan-out     done"), "{out}");
    assert!(out.contains("deliveries  10\n"), "{out}");
    expect_counts(
        &out,
        &[
            ("pending", 2),
            ("sending", 0),
            ("unknown", 0),
            ("sent", 2),
            ("failed", 4),
            ("blocked", 1),
            ("expired", 1),
            ("skipped", 0),
        ],
    );

    // retry with NATS down: exactly the failed ones that surely never arrived, and it says so.
    let out = stack
        .herald_command(&["deliveries", "retry", "--signal", &id])?
        .env("HERALD_NATS_URL", "nats://127.0.0.1:1")
        .output()
        .await?;
    let (stdout, stderr) = (
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "requeued 3 failed deliveries of signal {id} (BUY BTC/USD 1H); new deadline "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("held back 1 delivery"), "{stdout}");
    assert!(stderr.contains("within a second by polling"), "{stderr}");
    let now = Utc::now();
    let new_deadline: Option<DateTime<Utc>> =
        store.delivery(ids[FAILED[0]]).await?.unwrap().deadline;
    for n in FAILED {
        let d = store.delivery(ids[n]).await?.unwrap();
        assert_eq!(
            (d.status, d.attempts),
            (DeliveryStatus::Pending, 0),
            "trader {n}"
        );
        assert_eq!(d.deadline, new_deadline);
        assert!(d.next_attempt_at.is_some_and(|t| t <= now));
    }
    // A 1H signal: an hour from the retry (well past its own deadline, 49 minutes away).
    let new_deadline = new_deadline.expect("a deadline");
    assert!(
        new_deadline > now + TimeDelta::minutes(55) && new_deadline <= now + TimeDelta::hours(1)
    );
    let untouched = [
        (MAYBE_DELIVERED, DeliveryStatus::Failed),
        (BLOCKED, DeliveryStatus::Blocked),
        (EXPIRED, DeliveryStatus::Expired),
        (SENT[0], DeliveryStatus::Sent),
        (PENDING[0], DeliveryStatus::Pending),
    ];
    for (n, status) in untouched {
        assert_eq!(store.status_of(ids[n]).await?, Some(status), "trader {n}");
    }

    // --watch on a pipe: plain lines, from before the dispatcher starts to the end.
    let mut watch = stack
        .herald_command(&[
            "deliveries",
            "status",
            "--signal",
            &id,
            "--watch",
            "--interval",
            "200ms",
        ])?
        .spawn()?;
    let mut lines = BufReader::new(watch.stdout.take().expect("piped")).lines();
    let mut seen = Vec::new();
    let first_progress = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await? {
            seen.push(line.clone());
            if line.contains(" final ") {
                return anyhow::Ok(line);
            }
        }
        anyhow::bail!("the watch ended early: {seen:#?}")
    })
    .await??;
    assert!(
        first_progress.contains("final 5/10 (50.0%) · sent 2 · "),
        "{first_progress}"
    );

    stack.spawn(Service::All).await?;
    let rest = tokio::time::timeout(WAIT * 2, async {
        let mut rest = Vec::new();
        while let Some(line) = lines.next_line().await? {
            rest.push(line);
        }
        anyhow::Ok(rest)
    })
    .await??;
    let status = watch.wait().await?;
    assert!(status.success(), "watch exited with {status}: {rest:#?}");
    let progress: Vec<&String> = rest.iter().filter(|l| l.contains(" final ")).collect();
    let last = progress.last().expect("progress lines");
    assert!(
        last.contains("final 10/10 (100.0%) · sent 7 · "),
        "{rest:#?}"
    );
    assert!(
        DateTime::parse_from_rfc3339(last.split(' ').next().unwrap()).is_ok(),
        "each line starts with the time: {last}"
    );
    let summary =
        format!("every delivery of signal {id} is final: 7 sent, 1 failed, 1 blocked, 1 expired");
    assert!(rest.iter().any(|l| l == &summary), "{rest:#?}");

    // Exactly the pending and the requeued traders got the signal.
    for n in 0..TRADERS {
        let expected = usize::from(PENDING.contains(&n) || FAILED.contains(&n));
        assert_eq!(received(&stack, n), expected, "trader {n}");
    }

    // The expired one, for another 30 minutes: the dispatchers are nudged and send it.
    let out = stack
        .herald_command(&[
            "deliveries",
            "retry",
            "--signal",
            &id,
            "--status",
            "expired",
            "--for",
            "30m",
        ])?
        .output()
        .await?;
    let (stdout, stderr) = (
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("requeued 1 expired delivery of signal"),
        "{stdout}"
    );
    assert!(stdout.contains("--for"), "{stdout}");
    assert!(stderr.contains("nudged the dispatchers"), "{stderr}");
    stack
        .telegram
        .wait_for_messages(chat(EXPIRED), 1, WAIT)
        .await?;
    eventually("the expired delivery to be recorded sent", WAIT, || async {
        Ok((store.status_of(ids[EXPIRED]).await? == Some(DeliveryStatus::Sent)).then_some(()))
    })
    .await?;
    let out = stack
        .herald(&["deliveries", "status", "--signal", &id])
        .await?;
    assert_eq!(counts(&out)["sent"], 8, "{out}");
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_mistakes_get_one_clear_line() -> anyhow::Result<()> {
    let stack = Stack::new(Backend::Sqlite, &[]).await?;
    stack.herald(&["migrate"]).await?;
    let store = stack.store().await?;
    let (signal, ids) = fixture(&store).await?;
    let id = signal.to_string();
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        let stack = &stack;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut command = stack.herald_command(&args)?;
            command.envs(env);
            let out = command.output().await?;
            anyhow::Ok((
                out.status.code(),
                String::from_utf8(out.stdout)?,
                String::from_utf8(out.stderr)?,
            ))
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let unknown = Uuid::new_v4().to_string();
    let (code, stdout, stderr) = run(
        args(&["deliveries", "status", "--signal", &unknown]),
        vec![],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: no signal {unknown}")),
        "{stderr}"
    );

    let (code, _, stderr) =
        run(args(&["deliveries", "retry", "--signal", "BTC-42"]), vec![]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("\"BTC-42\" is not a signal id"), "{stderr}");

    for (status, why) in [
        ("sent", "twice"),
        ("blocked", "/subscribe"),
        ("pending", "still in the queue"),
    ] {
        let (code, _, stderr) = run(
            args(&["deliveries", "retry", "--signal", &id, "--status", status]),
            vec![],
        )
        .await?;
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(why), "{status}: {stderr}");
    }

    let (code, _, stderr) = run(
        args(&[
            "deliveries",
            "retry",
            "--signal",
            &id,
            "--until",
            "2020-01-01T00:00:00Z",
        ]),
        vec![],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not in the future"), "{stderr}");
    for n in FAILED {
        assert_eq!(
            store.status_of(ids[n]).await?,
            Some(DeliveryStatus::Failed),
            "nothing changed"
        );
    }

    // A database that cannot be reached: one line, and no password.
    let (code, _, stderr) = run(
        args(&["deliveries", "status", "--signal", &id]),
        vec![(
            "HERALD_DATABASE_URL",
            "postgres://herald:s3cr3t-pw@127.0.0.1:1/herald".into(),
        )],
    )
    .await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("opening the database") && !stderr.contains("s3cr3t-pw"),
        "{stderr}"
    );
    stack.shutdown().await
}
