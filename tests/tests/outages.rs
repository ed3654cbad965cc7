//! Broadcasts survive their infrastructure failing under them. Each test runs `herald all`
//! against servers of its own (never the shared ones), starts a broadcast to a few hundred
//! traders paced at 100 messages a second (so it lasts about three seconds), and pulls a
//! server out from under it once the first traders have their message:
//!
//! - a node of a three-node NATS cluster (R3 streams) is killed with SIGKILL;
//! - a single nats-server is killed and started again on its own store;
//! - PostgreSQL is stopped (immediate mode, like a crash) and started again.
//!
//! Every trader ends with the signal, and every delivery is recorded `sent`. A trader may get
//! a second copy only of a send that was in flight when it failed, so the duplicates are
//! bounded by the sends in flight at once (`HERALD_DISPATCHER_CONCURRENCY`); none of these
//! failures kills the dispatcher, so in practice there are none.

use std::collections::HashMap;

use herald_domain::{DeliveryStatus, SignalId};
use herald_testkit::db::{Backend, TestDatabase};
use herald_tests::servers::{NatsCluster, NatsNode, PrivatePostgres};
use herald_tests::{Stack, WAIT, buy_signal, eventually};

const TRADERS: i64 = 300;
const CONCURRENCY: usize = 8;
const FIRST_ID: i64 = 7_000_000;

/// The settings every broadcast here runs with, beside the servers'.
fn broadcast_settings(concurrency: &str) -> Vec<(&str, &str)> {
    vec![
        // A paid broadcast's pace, so the broadcast lasts long enough to interrupt.
        ("HERALD_TELEGRAM_PAID_BROADCAST", "true"),
        ("HERALD_TELEGRAM_RATE_LIMIT", "100"),
        ("HERALD_DISPATCHER_CONCURRENCY", concurrency),
        ("HERALD_ACK_WAIT_SECS", "5"),
    ]
}

/// Registers and subscribes `TRADERS` traders straight in the database (the command path
/// has tests of its own; a few hundred chats through it would only slow this down).
async fn seed_traders(stack: &Stack) -> anyhow::Result<Vec<i64>> {
    let ids: Vec<i64> = (0..TRADERS).map(|i| FIRST_ID + i).collect();
    stack.seed_subscribers(&ids).await?;
    Ok(ids)
}

/// Posts a signal as the Signal Engine does: a 503 (NATS could not store it right now) is
/// retried with the same id until it is accepted.
async fn post(stack: &Stack, key: &str, id: uuid::Uuid, asset: &str) -> anyhow::Result<()> {
    let body = buy_signal(id, asset).to_string();
    let deadline = std::time::Instant::now() + WAIT * 2;
    loop {
        let (status, answer) = stack.post_signal(Some(key), body.clone()).await?;
        match status {
            200 | 202 => return Ok(()),
            503 if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            _ => anyhow::bail!("the signal was not accepted: {status} {answer}"),
        }
    }
}

/// How many messages naming `asset` each chat got.
fn copies(stack: &Stack, asset: &str) -> HashMap<i64, usize> {
    let mut counts = HashMap::new();
    for m in stack.telegram.sent() {
        if m.text.contains(asset) {
            *counts.entry(m.chat_id).or_default() += 1;
        }
    }
    counts
}

/// Waits until at least `n` traders have the `asset` signal.
async fn until_delivered(stack: &Stack, asset: &str, n: usize) -> anyhow::Result<()> {
    eventually(&format!("{n} traders to get {asset}"), WAIT, || async {
        Ok((copies(stack, asset).len() >= n).then_some(()))
    })
    .await
}

/// Waits until every trader has the signal and every delivery is recorded `sent`, then
/// checks the duplicates; returns how many there were.
async fn all_delivered(
    stack: &Stack,
    traders: &[i64],
    id: uuid::Uuid,
    asset: &str,
) -> anyhow::Result<usize> {
    let store = stack.store().await?;
    eventually("every delivery to be recorded sent", WAIT * 3, || async {
        let Ok(d) = store.deliveries_for_signal(SignalId(id)).await else {
            return Ok(None);
        };
        Ok(
            (d.len() == traders.len() && d.iter().all(|d| d.status == DeliveryStatus::Sent))
                .then_some(()),
        )
    })
    .await?;
    let counts = copies(stack, asset);
    let mut duplicated = 0;
    for t in traders {
        let n = counts.get(t).copied().unwrap_or(0);
        anyhow::ensure!(n >= 1, "trader {t} never got {asset}");
        anyhow::ensure!(n <= 2, "trader {t} got {asset} {n} times");
        duplicated += usize::from(n == 2);
    }
    anyhow::ensure!(
        duplicated <= CONCURRENCY,
        "{duplicated} traders got {asset} twice, but at most {CONCURRENCY} sends were in flight"
    );
    Ok(duplicated)
}

/// Starts the broadcast of `asset` and waits until it is under way (and not over).
async fn broadcast_under_way(stack: &Stack, key: &str, asset: &str) -> anyhow::Result<uuid::Uuid> {
    let id = uuid::Uuid::new_v4();
    post(stack, key, id, asset).await?;
    until_delivered(stack, asset, 30).await?;
    Ok(id)
}

/// Fails unless the broadcast of `asset` was still going on: a failure injected after it
/// ended would prove nothing.
fn still_going(stack: &Stack, asset: &str) -> anyhow::Result<()> {
    let done = copies(stack, asset).len();
    anyhow::ensure!(
        done < TRADERS as usize,
        "the broadcast was over ({done} traders) before the failure; the test proves nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nats_node_lost_mid_broadcast_loses_nothing() -> anyhow::Result<()> {
    let mut cluster = NatsCluster::start(3).await?;
    let url = cluster.url();
    let concurrency = CONCURRENCY.to_string();
    let mut settings = broadcast_settings(&concurrency);
    settings.extend([
        ("HERALD_NATS_URL", url.as_str()),
        ("HERALD_NATS_STREAM_REPLICAS", "3"),
    ]);
    let stack = Stack::start_all(Backend::Postgres, &settings).await?;
    let traders = seed_traders(&stack).await?;
    let key = stack.api_key().await?;

    // The streams really are kept on all three nodes.
    let js = async_nats::jetstream::new(stack.nats.client().await?);
    let mut stream = js
        .get_stream(format!("{}_signals", stack.nats.prefix))
        .await?;
    let info = stream.info().await?;
    assert_eq!(info.config.num_replicas, 3);

    let first = broadcast_under_way(&stack, &key, "SOL/USD").await?;
    // Kill the node leading the signals stream: the hardest node to lose.
    let leader = stream
        .info()
        .await?
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .unwrap_or_else(|| "n1".into());
    still_going(&stack, "SOL/USD")?;
    cluster
        .node_mut(&leader)
        .expect("the leader is one of ours")
        .kill();

    let result = async {
        let duplicated = all_delivered(&stack, &traders, first, "SOL/USD").await?;
        // Two nodes of three still hold every stream: new signals are accepted and sent.
        let second = uuid::Uuid::new_v4();
        post(&stack, &key, second, "AVAX/USD").await?;
        let again = all_delivered(&stack, &traders, second, "AVAX/USD").await?;
        eprintln!(
            "killed {leader}; duplicates: {duplicated} of the broadcast under way, {again} after"
        );
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        eprintln!("{}", cluster.logs());
    }
    result?;
    drop(cluster);
    stack.shutdown_without_nats().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nats_restart_mid_broadcast_loses_nothing() -> anyhow::Result<()> {
    let mut nats = NatsNode::single("").await?;
    let url = nats.url();
    let concurrency = CONCURRENCY.to_string();
    let mut settings = broadcast_settings(&concurrency);
    settings.push(("HERALD_NATS_URL", url.as_str()));
    let stack = Stack::start_all(Backend::Postgres, &settings).await?;
    let traders = seed_traders(&stack).await?;
    let key = stack.api_key().await?;

    let first = broadcast_under_way(&stack, &key, "SOL/USD").await?;
    still_going(&stack, "SOL/USD")?;
    nats.kill();
    nats.start()?;
    nats.ready().await?;

    let result = async {
        let duplicated = all_delivered(&stack, &traders, first, "SOL/USD").await?;
        let second = uuid::Uuid::new_v4();
        post(&stack, &key, second, "AVAX/USD").await?;
        all_delivered(&stack, &traders, second, "AVAX/USD").await?;
        eprintln!("duplicates after the NATS restart: {duplicated}");
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        eprintln!("===== nats-server =====\n{}", nats.log());
    }
    result?;
    drop(nats);
    stack.shutdown_without_nats().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_mid_broadcast_loses_nothing() -> anyhow::Result<()> {
    let pg = PrivatePostgres::start().await?;
    let db = TestDatabase::postgres_on(pg.url()).await?;
    let concurrency = CONCURRENCY.to_string();
    let stack = Stack::start_all_on(db, &broadcast_settings(&concurrency)).await?;
    let traders = seed_traders(&stack).await?;
    let key = stack.api_key().await?;

    let first = broadcast_under_way(&stack, &key, "SOL/USD").await?;
    still_going(&stack, "SOL/USD")?;
    pg.stop()?;
    // Down until the dispatcher has noticed (its health says so): claims, records of sends
    // and lease renewals fail meanwhile.
    let health = format!("{}/api/health", stack.ops_url("DISPATCHER"));
    eventually(
        "the dispatcher to notice the database is down",
        WAIT,
        || async {
            let status = reqwest::get(&health).await?.status();
            Ok((status == 503).then_some(()))
        },
    )
    .await?;
    still_going(&stack, "SOL/USD")?;
    pg.start_again()?;

    let result = async {
        let duplicated = all_delivered(&stack, &traders, first, "SOL/USD").await?;
        let second = uuid::Uuid::new_v4();
        post(&stack, &key, second, "AVAX/USD").await?;
        all_delivered(&stack, &traders, second, "AVAX/USD").await?;
        eprintln!("duplicates after the PostgreSQL restart: {duplicated}");
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        eprintln!("===== postgres =====\n{}", pg.log());
    }
    result?;
    stack.shutdown().await?;
    drop(pg);
    Ok(())
}
