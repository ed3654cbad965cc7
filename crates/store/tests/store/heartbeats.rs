//! Heartbeats: beat, list, forget, the pruning of day-old beats, and the beating task.

use std::time::Duration as StdDuration;

use anyhow::ensure;
use chrono::{Duration, Utc};
use herald_store::heartbeats::{self, DISPATCHER, INGEST_API};
use herald_store::{Heartbeat, Store};
use tokio_util::sync::CancellationToken;

use crate::common::{noon, on_both_backends};

on_both_backends!(
    beats_are_listed_refreshed_and_forgotten,
    day_old_beats_are_pruned,
    the_task_beats_at_once_and_forgets_on_shutdown,
);

async fn beats_are_listed_refreshed_and_forgotten(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let started = now - Duration::minutes(5);
    ensure!(store.heartbeats().await?.is_empty());
    store.beat(INGEST_API, "b-1", started, now).await?;
    store.beat(DISPATCHER, "b-2", started, now).await?;
    store.beat(DISPATCHER, "a-1", started, now).await?;
    let beats = store.heartbeats().await?;
    let keys: Vec<(&str, &str)> = beats
        .iter()
        .map(|b| (b.service.as_str(), b.instance.as_str()))
        .collect();
    ensure!(
        keys == [
            (DISPATCHER, "a-1"),
            (DISPATCHER, "b-2"),
            (INGEST_API, "b-1")
        ],
        "by service then instance: {keys:?}"
    );

    // A later beat refreshes the row (a restart under the same name also moves started_at).
    let later = now + Duration::seconds(5);
    store.beat(DISPATCHER, "a-1", later, later).await?;
    let beats = store.heartbeats().await?;
    ensure!(beats.len() == 3, "still one row per instance: {beats:?}");
    ensure!(
        beats[0]
            == Heartbeat {
                service: DISPATCHER.into(),
                instance: "a-1".into(),
                started_at: later,
                beat_at: later,
            },
        "{beats:?}"
    );
    ensure!(beats[1].beat_at == now && beats[1].started_at == started);
    ensure!(heartbeats::alive(
        &beats,
        DISPATCHER,
        later + Duration::seconds(15)
    ));
    ensure!(!heartbeats::alive(
        &beats,
        INGEST_API,
        later + Duration::seconds(15)
    ));

    // Forgetting removes exactly that instance; forgetting an unknown one is fine.
    store.forget_instance(DISPATCHER, "a-1").await?;
    store.forget_instance(DISPATCHER, "gone").await?;
    store.forget_instance(INGEST_API, "b-2").await?;
    let left: Vec<(String, String)> = store
        .heartbeats()
        .await?
        .into_iter()
        .map(|b| (b.service, b.instance))
        .collect();
    ensure!(
        left == [
            (DISPATCHER.to_string(), "b-2".to_string()),
            (INGEST_API.to_string(), "b-1".to_string())
        ],
        "{left:?}"
    );
    Ok(())
}

async fn day_old_beats_are_pruned(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let day_ago = now - Duration::days(1);
    store
        .beat(
            INGEST_API,
            "crashed",
            day_ago,
            day_ago - Duration::seconds(1),
        )
        .await?;
    store
        .beat(DISPATCHER, "just-a-day", day_ago, day_ago)
        .await?;
    store
        .beat(
            DISPATCHER,
            "scaled-away",
            day_ago,
            now - Duration::hours(23),
        )
        .await?;
    ensure!(store.heartbeats().await?.len() == 3, "nothing pruned yet");

    // Any service's beat prunes every service's instances silent for more than a day.
    store.beat(DISPATCHER, "live", now, now).await?;
    let instances: Vec<String> = store
        .heartbeats()
        .await?
        .into_iter()
        .map(|b| b.instance)
        .collect();
    ensure!(
        instances == ["just-a-day", "live", "scaled-away"],
        "{instances:?}"
    );
    Ok(())
}

async fn the_task_beats_at_once_and_forgets_on_shutdown(store: Store) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let task = heartbeats::spawn(store.clone(), INGEST_API, shutdown.clone());
    let instance = heartbeats::instance_name();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    let beat = loop {
        let beats = store.heartbeats().await?;
        if let Some(b) = beats.into_iter().find(|b| b.service == INGEST_API) {
            break b;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no beat within 10 s; the first is due at once"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    };
    ensure!(beat.instance == instance, "{beat:?}");
    let now = Utc::now();
    ensure!((now - beat.beat_at).num_seconds().abs() < 5, "{beat:?}");
    ensure!(heartbeats::alive(&[beat], INGEST_API, now));

    shutdown.cancel();
    tokio::time::timeout(StdDuration::from_secs(10), task).await??;
    ensure!(
        store.heartbeats().await?.is_empty(),
        "a cleanly stopped instance is forgotten"
    );
    Ok(())
}
