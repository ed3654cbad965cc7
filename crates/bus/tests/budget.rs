//! The shared Telegram budget across processes: several [`SharedBudget`]s, each on its own
//! NATS connection (as separate replicas would be), sending through real `Sender`s to one
//! Bot API double that enforces Telegram's limits and answers 429 beyond them.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use herald_bus::Subjects;
use herald_bus::budget::{BudgetConfig, SharedBudget};
use herald_telegram::{Budget, LimiterConfig, Priority, Sender, bot};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{Fault, Limits, TelegramDouble};
use tokio::task::JoinSet;

const TOKEN: &str = "7777:budget-test";
const WAIT: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

/// One "process": a budget on its own connection and a sender drawing on it.
struct Process {
    budget: SharedBudget,
    sender: Sender,
}

/// The tests here measure how sends are spread in time; run side by side on a small machine
/// they would measure each other. One at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Rig {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    nats: TestNats,
    double: TelegramDouble,
    processes: Vec<Process>,
}

async fn rig(count: usize, limits: LimiterConfig) -> anyhow::Result<Rig> {
    let turn = ONE_AT_A_TIME.lock().await;
    let nats = TestNats::new();
    let double = TelegramDouble::start(TOKEN).await?;
    double.enforce_limits(Limits::default());
    let mut processes = Vec::new();
    for _ in 0..count {
        let client = nats.client().await?;
        let budget = SharedBudget::start(
            client,
            &Subjects::new(&nats.prefix),
            BudgetConfig::new(limits),
        )
        .await?;
        let sender = Sender::new(bot(TOKEN, &double.api_url())?, Arc::new(budget.clone()));
        processes.push(Process { budget, sender });
    }
    Ok(Rig {
        _turn: turn,
        nats,
        double,
        processes,
    })
}

impl Rig {
    /// Sends one message to each of `chats` from process `p`, all at once, in the background.
    fn send_all(&self, p: usize, chats: impl IntoIterator<Item = i64>, tasks: &mut JoinSet<()>) {
        for chat in chats {
            let sender = self.processes[p].sender.clone();
            tasks.spawn(async move {
                sender
                    .send_html(chat, &format!("from {p}"), Priority::Bulk)
                    .await
                    .unwrap_or_else(|e| panic!("send to {chat} from {p}: {e}"));
            });
        }
    }

    fn pacers(&self) -> Vec<usize> {
        (0..self.processes.len())
            .filter(|&p| self.processes[p].budget.is_pacer())
            .collect()
    }

    async fn finish(self) -> anyhow::Result<()> {
        for process in &self.processes {
            process.budget.close().await;
        }
        self.nats.cleanup().await
    }
}

async fn join(mut tasks: JoinSet<()>) {
    tokio::time::timeout(WAIT, async {
        while let Some(done) = tasks.join_next().await {
            done.expect("a send task panicked");
        }
    })
    .await
    .expect("every send finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_budget_and_use_it() -> anyhow::Result<()> {
    let rig = rig(3, LimiterConfig::default()).await?;
    // Warm up: elect the pacer and open the HTTP connections, out of the timed run.
    let mut warm = JoinSet::new();
    for p in 0..3 {
        rig.send_all(p, [-1_000_000 - p as i64], &mut warm);
    }
    join(warm).await;
    let warm_sends = rig.double.sent().len();
    tokio::time::sleep(SECOND + SECOND / 10).await;

    let started = StdInstant::now();
    let mut tasks = JoinSet::new();
    for p in 0..3 {
        // 100 traders of its own each, and 10 traders every process sends to.
        let own = (0..100).map(|i| (p as i64 + 1) * 1000 + i);
        rig.send_all(p, own.chain(1..=10), &mut tasks);
    }
    join(tasks).await;
    let elapsed = started.elapsed();

    let total = 3 * 110;
    assert_eq!(
        rig.double.sent().len(),
        warm_sends + total,
        "every message arrived"
    );
    assert_eq!(rig.double.too_many_requests_count(), 0, "no 429");
    assert!(rig.double.max_accepted_in(SECOND) <= 30);
    for shared in 1..=10 {
        assert_eq!(rig.double.max_accepted_to_chat_in(shared, SECOND), 1);
    }
    assert_eq!(rig.pacers().len(), 1, "one pacer");
    // The bound the issue sets: the spare budget is not left idle.
    let ideal = Duration::from_secs_f64(total as f64 / 30.0);
    assert!(
        elapsed < ideal.mul_f64(1.25),
        "{total} sends took {elapsed:?}; at 30/s that is {ideal:?}"
    );
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_pacer_stops_another_takes_over_and_every_message_goes_out() -> anyhow::Result<()>
{
    let rig = rig(3, LimiterConfig::default()).await?;
    let mut tasks = JoinSet::new();
    for p in 0..3 {
        rig.send_all(p, (0..40).map(|i| (p as i64 + 1) * 1000 + i), &mut tasks);
    }
    rig.double
        .wait_until(|d| d.sent().len() >= 30, WAIT)
        .await?;
    let first = rig.pacers();
    assert_eq!(first.len(), 1);
    // The pacer's process shuts down its part; its own sends go on through the others.
    rig.processes[first[0]].budget.close().await;
    assert!(!rig.processes[first[0]].budget.is_pacer());
    join(tasks).await;

    assert_eq!(rig.double.sent().len(), 120, "every message arrived");
    assert_eq!(
        rig.double.too_many_requests_count(),
        0,
        "no 429 across the handover"
    );
    let now = rig.pacers();
    assert_eq!(now.len(), 1, "another process paces");
    assert_ne!(now, first);
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_pacer_dies_another_takes_over_after_its_lease() -> anyhow::Result<()> {
    let rig = rig(2, LimiterConfig::default()).await?;
    let nats = rig.nats.clone();
    // A third process on a runtime of its own, so that it can die with everything it runs.
    let (doomed_tx, doomed_rx) = std::sync::mpsc::channel();
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let api_url = rig.double.api_url();
    let doomed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let budget = SharedBudget::start(
                nats.client().await.unwrap(),
                &Subjects::new(&nats.prefix),
                BudgetConfig::default(),
            )
            .await
            .unwrap();
            let sender = Sender::new(bot(TOKEN, &api_url).unwrap(), Arc::new(budget.clone()));
            // Its first send makes it the pacer.
            sender.send_html(-1, "first", Priority::Bulk).await.unwrap();
            doomed_tx.send(budget.is_pacer()).unwrap();
            let _ = kill_rx.await;
        });
        // Dropping the runtime drops its tasks and its NATS connection mid-flight.
        drop(runtime);
    });
    let was_pacer = tokio::task::spawn_blocking(move || doomed_rx.recv()).await??;
    assert!(was_pacer, "the first process to send paces");

    let mut tasks = JoinSet::new();
    for p in 0..2 {
        rig.send_all(p, (0..30).map(|i| (p as i64 + 1) * 1000 + i), &mut tasks);
    }
    rig.double
        .wait_until(|d| d.sent().len() >= 11, WAIT)
        .await?;
    let _ = kill_tx.send(());
    tokio::task::spawn_blocking(move || doomed.join())
        .await?
        .unwrap();
    join(tasks).await;

    assert_eq!(rig.double.sent().len(), 61, "every message arrived");
    assert_eq!(
        rig.double.too_many_requests_count(),
        0,
        "no 429 across the failover"
    );
    assert_eq!(rig.pacers().len(), 1, "a survivor paces");
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_one_process_pauses_all_of_them() -> anyhow::Result<()> {
    let rig = rig(3, LimiterConfig::with_rate(10)).await?;
    let mut tasks = JoinSet::new();
    for p in 1..3 {
        rig.send_all(p, (0..15).map(|i| (p as i64 + 1) * 1000 + i), &mut tasks);
    }
    rig.double.wait_until(|d| d.sent().len() >= 5, WAIT).await?;

    rig.double
        .script_faults(42, [Fault::TooManyRequests { retry_after: 2 }]);
    let err = rig.processes[0]
        .sender
        .send_html(42, "refused", Priority::Bulk)
        .await
        .unwrap_err();
    let refused_at = StdInstant::now();
    assert_eq!(err, herald_telegram::SendError::RetryAfter(2 * SECOND));

    let mut pause_ends = Vec::new();
    for process in &rig.processes {
        let budget = process.budget.clone();
        let until = tokio::time::timeout(WAIT, async move {
            loop {
                if let Some(until) = budget.paused_until() {
                    return until;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await?;
        pause_ends.push(until.into_std());
    }
    join(tasks).await;

    let pause_end = pause_ends.iter().min().copied().unwrap();
    assert!(pause_end >= refused_at + 2 * SECOND - Duration::from_millis(100));
    let during_pause = rig
        .double
        .accepted_at()
        .iter()
        .filter(|(_, at)| *at > refused_at && *at < pause_end)
        .count();
    // At most the one send that had already left when the notice arrived.
    assert!(
        during_pause <= 1,
        "{during_pause} sends went out during the pause"
    );
    assert_eq!(rig.double.sent().len(), 30, "every other message arrived");
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_sends_overtake_a_bulk_backlog() -> anyhow::Result<()> {
    let rig = rig(3, LimiterConfig::with_rate(10)).await?;
    let mut tasks = JoinSet::new();
    for p in 1..3 {
        rig.send_all(p, (0..25).map(|i| (p as i64 + 1) * 1000 + i), &mut tasks);
    }
    rig.double.wait_until(|d| d.sent().len() >= 5, WAIT).await?;
    let before = rig.double.sent().len();
    rig.processes[0].sender.reply_html(99, "pong").await?;
    join(tasks).await;

    let order: Vec<i64> = rig.double.sent().iter().map(|m| m.chat_id).collect();
    let reply = order.iter().position(|&c| c == 99).unwrap();
    // Behind the reply: at most the slots already granted within the horizon (250 ms at
    // 10/s: 3), and the one in flight.
    assert!(
        reply <= before + 4,
        "the reply went out {}th, {before} had gone out when it was asked",
        reply + 1
    );
    assert!(
        order.len() - reply > 40,
        "most of the backlog went after it"
    );
    assert_eq!(rig.double.too_many_requests_count(), 0);
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sends_asks_for_its_slots_in_batches() -> anyhow::Result<()> {
    // No overall rate (a paid broadcast's budget is far above what this burst needs): every
    // slot lies within the horizon, so a batch is granted whole.
    let rig = rig(2, LimiterConfig::unlimited()).await?;
    rig.double.enforce_limits(Limits {
        per_second: 1_000_000,
        per_chat_per_second: 1,
    });
    // Warm up: elect the pacer, out of the counted burst.
    let mut warm = JoinSet::new();
    rig.send_all(0, [-1], &mut warm);
    rig.send_all(1, [-2], &mut warm);
    join(warm).await;
    let watcher = rig.nats.client().await?;
    let mut requests = watcher
        .subscribe(Subjects::new(&rig.nats.prefix).budget_acquire())
        .await?;
    watcher.flush().await?;
    let mut tasks = JoinSet::new();
    rig.send_all(0, 1..=1000, &mut tasks);
    rig.send_all(1, 2001..=2500, &mut tasks);
    join(tasks).await;

    assert_eq!(rig.double.sent().len(), 1502, "every message arrived");
    let mut asked = 0;
    let mut chats = 0;
    while let Ok(Some(request)) = tokio::time::timeout(
        Duration::from_millis(200),
        futures::StreamExt::next(&mut requests),
    )
    .await
    {
        let body: serde_json::Value = serde_json::from_slice(&request.payload)?;
        asked += 1;
        chats += 1 + body["more"].as_array().map_or(0, Vec::len);
    }
    assert!(
        chats >= 1500,
        "every send asked for its slot ({chats} slots asked)"
    );
    assert!(
        asked * 5 < 1500,
        "{asked} requests for 1,500 slots: they were not gathered into batches"
    );
    rig.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_sends_that_must_wait_do_not_hold_up_the_others() -> anyhow::Result<()> {
    let rig = rig(
        1,
        LimiterConfig {
            messages_per_second: None,
            ..LimiterConfig::default()
        },
    )
    .await?;
    rig.double.enforce_limits(Limits {
        per_second: 1_000_000,
        per_chat_per_second: 1,
    });
    let mut warm = JoinSet::new();
    rig.send_all(0, [-1], &mut warm);
    join(warm).await;
    // Chats 1 and 2 twice: their second sends must wait a second, and each goes to the pacer
    // alone (the broadcast lane's two requests on the wire). Then a hundred other chats: they
    // need not wait for those two.
    let mut tasks = JoinSet::new();
    rig.send_all(0, [1, 2], &mut tasks);
    tokio::time::sleep(Duration::from_millis(50)).await;
    rig.send_all(0, [1], &mut tasks);
    rig.send_all(0, [2], &mut tasks);
    tokio::time::sleep(Duration::from_millis(20)).await;
    rig.send_all(0, 1000..1100, &mut tasks);
    join(tasks).await;

    let order: Vec<i64> = rig.double.sent().iter().map(|m| m.chat_id).collect();
    assert_eq!(order.len(), 1 + 104);
    let mut last_two = order[order.len() - 2..].to_vec();
    last_two.sort_unstable();
    assert_eq!(
        last_two,
        [1, 2],
        "the second messages to chats 1 and 2 went out last, a second after their first; the others did not wait for them: {order:?}"
    );
    assert_eq!(rig.double.too_many_requests_count(), 0);
    rig.finish().await
}

#[tokio::test]
async fn the_lease_bucket_follows_the_settings() -> anyhow::Result<()> {
    let nats = TestNats::new();
    let subjects = Subjects::new(&nats.prefix);
    let start = |config: BudgetConfig| {
        let nats = &nats;
        let subjects = &subjects;
        async move {
            SharedBudget::start(nats.client().await?, subjects, config)
                .await
                .map_err(anyhow::Error::from)
        }
    };
    let first = start(BudgetConfig::default()).await?;
    // A longer lease: the bucket's key lifetime follows.
    let longer = BudgetConfig {
        lease_ttl: Duration::from_secs(5),
        ..BudgetConfig::default()
    };
    let second = start(longer).await?;
    let js = async_nats::jetstream::new(nats.client().await?);
    let mut stream = js
        .get_stream(format!("KV_{}", subjects.budget_bucket()))
        .await?;
    assert_eq!(stream.info().await?.config.max_age, Duration::from_secs(5));
    drop((first, second));
    nats.cleanup().await
}
