//! What the operators' gauges read: open deliveries by job, the traders signals go to, and
//! the pool's use.

use anyhow::ensure;
use chrono::Duration;
use herald_domain::{JobKind, SignalFormat, SignalKind};
use herald_store::{OpenJobs, QueuedSignal, Recipient, Store};

use crate::common::{noon, on_both_backends, profile, signal, subscriber};

on_both_backends!(open_deliveries_and_active_traders, the_pool_in_use);

async fn open_deliveries_and_active_traders(store: Store) -> anyhow::Result<()> {
    ensure!(
        store.open_deliveries().await?.is_empty(),
        "nothing queued yet"
    );
    let mut users = Vec::new();
    for n in 1..=4 {
        users.push(subscriber(&store, n, noon()).await?);
    }
    // Registered, never subscribed; and a subscriber who blocked the bot.
    store.register_user(&profile(5), noon()).await?;
    store.deactivate_user(users[3].id, noon()).await?;
    ensure!(store.active_traders(noon()).await? == 3);

    let s = signal(SignalKind::Buy, 80, noon());
    let deadline = noon() + Duration::hours(1);
    store.insert_signal(&s, noon(), deadline).await?;
    let queued = QueuedSignal::new(&s, Some(deadline));
    let recipients: Vec<Recipient> = users[..3]
        .iter()
        .map(|u| Recipient::new(u.id, u.chat_id, SignalFormat::Detailed))
        .collect();
    store
        .record_fanout_page(&queued, &recipients, None, true, noon())
        .await?;
    let later = noon() + Duration::minutes(1);
    let claimed = store
        .claim_deliveries(2, later, Duration::seconds(30), Duration::seconds(1))
        .await?;
    ensure!(claimed.len() == 2);
    store.record_sent(claimed[0].delivery_id, 7, later).await?;

    // One sent; one claimed (`sending`) and one `pending` are still open.
    let open = store.open_deliveries().await?;
    ensure!(
        open == [OpenJobs {
            job: JobKind::Signal,
            count: 2,
            oldest: Some(noon()),
        }],
        "{open:?}"
    );
    Ok(())
}

async fn the_pool_in_use(store: Store) -> anyhow::Result<()> {
    store.ping().await?;
    let pool = store.pool_use();
    let max = if store.backend_name() == "postgres" {
        16
    } else {
        8
    };
    ensure!(pool.max == max, "{pool:?}");
    ensure!(
        pool.idle + pool.in_use >= 1,
        "the ping opened one: {pool:?}"
    );
    ensure!(pool.idle + pool.in_use <= pool.max, "{pool:?}");
    Ok(())
}
