//! Nothing is lost when a dispatcher dies: with deliveries outstanding, the dispatcher is
//! killed with SIGKILL and started again; every eligible trader ends with the message, and
//! only sends that were in flight at the kill may arrive twice.

use chrono::Utc;
use herald_domain::{DeliveryStatus, SignalId};
use herald_testkit::db::Backend;
use herald_testkit::telegram::Fault;
use herald_tests::{Service, Stack, WAIT, eventually, trader};
use serde_json::json;
use std::time::Duration;

const TRADERS: i64 = 40;
const CONCURRENCY: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_dispatcher_loses_no_delivery() -> anyhow::Result<()> {
    let concurrency = CONCURRENCY.to_string();
    let mut stack = Stack::start_separate(
        Backend::Postgres,
        &[
            ("HERALD_ACK_WAIT_SECS", "3"),
            ("HERALD_DISPATCHER_CONCURRENCY", &concurrency),
            ("HERALD_TELEGRAM_RATE_LIMIT", "0"),
        ],
    )
    .await?;
    let traders: Vec<_> = (0..TRADERS).map(|i| trader(3000 + i, "Trader")).collect();
    for t in &traders {
        stack.subscribe(t).await?;
        // Every send to this trader takes a while, so deliveries are outstanding at the kill.
        stack
            .telegram
            .set_fault(t.id, Fault::Delay(Duration::from_millis(150)));
    }

    let key = stack.api_key().await?;
    let id = uuid::Uuid::new_v4();
    let signal = json!({
        "id": id, "kind": "buy", "asset": "SOL/USD",
        "entry_price": "150", "target_price": "160", "stop_loss": "145",
        "timeframe": "5m", "confidence": 77, "generated_at": Utc::now().to_rfc3339(),
    });
    let (status, body) = stack.post_signal(Some(&key), signal.to_string()).await?;
    assert_eq!(status, 202, "{body}");

    let signal_messages = |stack: &Stack, chat| {
        stack
            .telegram
            .sent_to(chat)
            .into_iter()
            .filter(|m| m.text.contains("SOL/USD"))
            .count()
    };
    let delivered = |stack: &Stack| {
        traders
            .iter()
            .filter(|t| signal_messages(stack, t.id) > 0)
            .count()
    };
    // Kill it part-way through the fan-out.
    let deadline = std::time::Instant::now() + WAIT;
    while delivered(&stack) < 6 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no deliveries started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stack.kill(Service::Dispatcher)?;
    let at_kill = delivered(&stack);
    assert!(
        at_kill < TRADERS as usize,
        "the kill came after every delivery ({at_kill}); the test proves nothing"
    );

    stack.spawn(Service::Dispatcher).await?;
    let store = stack.store().await?;
    eventually("every delivery to be recorded sent", WAIT * 2, || async {
        let d = store.deliveries_for_signal(SignalId(id)).await?;
        Ok(
            (d.len() == TRADERS as usize && d.iter().all(|d| d.status == DeliveryStatus::Sent))
                .then_some(()),
        )
    })
    .await?;

    let mut duplicated = 0;
    for t in &traders {
        let n = signal_messages(&stack, t.id);
        assert!(n >= 1, "trader {} never got the signal", t.id);
        assert!(n <= 2, "trader {} got it {n} times", t.id);
        if n == 2 {
            duplicated += 1;
        }
    }
    assert!(
        duplicated <= CONCURRENCY,
        "{duplicated} duplicates, but at most {CONCURRENCY} sends were in flight"
    );
    stack.shutdown().await
}
