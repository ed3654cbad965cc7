//! Signals stored once, rebuilt from their payload.

use anyhow::ensure;
use chrono::Duration;
use herald_domain::{SignalId, SignalKind};
use herald_store::entity::signals;
use herald_store::{QueuedSignal, Store};
use sea_orm::EntityTrait;

use crate::common::{noon, on_both_backends, signal, subscriber};

on_both_backends!(signal_round_trip_and_dedupe, fanout_progress_and_sweeps);

async fn signal_round_trip_and_dedupe(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let later = now + Duration::hours(4);
    let buy = signal(SignalKind::Buy, 85, now);
    ensure!(!store.signal_exists(buy.id).await?);
    ensure!(store.signal(buy.id).await?.is_none());
    ensure!(
        store.insert_signal(&buy, now, later).await?,
        "first insert stores it"
    );
    ensure!(
        !store.insert_signal(&buy, now, later).await?,
        "a repeat is ignored"
    );
    ensure!(store.signal_exists(buy.id).await?);
    let back = store.signal(buy.id).await?.expect("stored");
    ensure!(back == buy, "rebuilt exactly: {back:?} vs {buy:?}");

    let row = signals::Entity::find_by_id(buy.id.0)
        .one(store.connection())
        .await?
        .expect("row");
    ensure!(row.kind == "buy" && row.asset == "BTC/USD" && row.confidence == 85);
    ensure!(row.generated_at == buy.generated_at && row.received_at == now);
    ensure!(row.deadline == Some(later));
    ensure!(
        row.payload.contains(r#""entry_price":"45250.5""#),
        "prices are decimal strings in the payload: {}",
        row.payload
    );
    ensure!(row.payload.contains(r#""stop_loss":"44000.125""#));

    for kind in [SignalKind::Sell, SignalKind::Close, SignalKind::Alert] {
        let s = signal(kind, 40, now);
        ensure!(store.insert_signal(&s, now, later).await?);
        ensure!(
            store.signal(s.id).await?.as_ref() == Some(&s),
            "{kind} round trip"
        );
    }
    ensure!(!store.signal_exists(SignalId::new()).await?);
    Ok(())
}

async fn fanout_progress_and_sweeps(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let deadline = now + Duration::minutes(10);
    let s = signal(SignalKind::Buy, 70, now);
    store.insert_signal(&s, now, deadline).await?;
    let fanout = store.fanout(s.id).await?.expect("stored");
    ensure!(fanout.received_at == now && fanout.deadline == Some(deadline));
    ensure!(fanout.cursor.is_none() && !fanout.done);
    ensure!(store.fanout(SignalId::new()).await?.is_none());

    // Unfinished and old enough: the reconciler's to publish again.
    ensure!(
        store.unfinished_fanouts(now, 10).await?.is_empty(),
        "not yet old"
    );
    ensure!(
        store
            .unfinished_fanouts(now + Duration::minutes(3), 10)
            .await?
            == vec![(s.id, None)]
    );

    let a = subscriber(&store, 1, now).await?;
    let b = subscriber(&store, 2, now).await?;
    let (first, second) = if a.id < b.id { (a, b) } else { (b, a) };
    let queued = QueuedSignal::new(&s, Some(deadline));
    let page = store.recipients_page(&s, now, None, 1).await?;
    ensure!(page.recipients.len() == 1 && page.last_scanned == Some(first.id) && !page.exhausted);
    store
        .record_fanout_page(&queued, &page.recipients, page.last_scanned, false, now)
        .await?;
    ensure!(store.fanout(s.id).await?.unwrap().cursor == Some(first.id));
    ensure!(
        store
            .unfinished_fanouts(now + Duration::minutes(3), 10)
            .await?
            == vec![(s.id, Some(first.id))],
        "the reconciler sees how far an unfinished fan-out has got"
    );
    // A late, slower worker cannot move the cursor back.
    store
        .record_fanout_page(&queued, &[], None, false, now)
        .await?;
    let page = store.recipients_page(&s, now, Some(first.id), 1).await?;
    ensure!(page.last_scanned == Some(second.id));
    store
        .record_fanout_page(&queued, &page.recipients, page.last_scanned, false, now)
        .await?;
    let page = store.recipients_page(&s, now, Some(second.id), 1).await?;
    ensure!(page.recipients.is_empty() && page.last_scanned.is_none() && page.exhausted);
    store
        .record_fanout_page(&queued, &page.recipients, Some(second.id), true, now)
        .await?;
    let fanout = store.fanout(s.id).await?.unwrap();
    ensure!(fanout.done && fanout.cursor == Some(second.id));
    ensure!(
        store
            .unfinished_fanouts(now + Duration::days(1), 10)
            .await?
            .is_empty()
    );

    // Past-deadline look-ups see each deadline once, in the window asked for.
    ensure!(
        store.signals_past_deadline(now, deadline).await?.is_empty(),
        "not yet"
    );
    ensure!(
        store
            .signals_past_deadline(now, deadline + Duration::seconds(1))
            .await?
            == vec![s.id]
    );
    ensure!(
        store
            .signals_past_deadline(deadline + Duration::seconds(1), now + Duration::days(1))
            .await?
            .is_empty()
    );
    Ok(())
}
