//! Signals stored once, rebuilt from their payload.

use anyhow::ensure;
use herald_domain::{SignalId, SignalKind};
use herald_store::Store;
use herald_store::entity::signals;
use sea_orm::EntityTrait;

use crate::common::{noon, on_both_backends, signal};

on_both_backends!(signal_round_trip_and_dedupe);

async fn signal_round_trip_and_dedupe(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let buy = signal(SignalKind::Buy, 85, now);
    ensure!(!store.signal_exists(buy.id).await?);
    ensure!(store.signal(buy.id).await?.is_none());
    ensure!(
        store.insert_signal(&buy, now).await?,
        "first insert stores it"
    );
    ensure!(
        !store.insert_signal(&buy, now).await?,
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
    ensure!(
        row.payload.contains(r#""entry_price":"45250.5""#),
        "prices are decimal strings in the payload: {}",
        row.payload
    );
    ensure!(row.payload.contains(r#""stop_loss":"44000.125""#));

    for kind in [SignalKind::Sell, SignalKind::Close, SignalKind::Alert] {
        let s = signal(kind, 40, now);
        ensure!(store.insert_signal(&s, now).await?);
        ensure!(
            store.signal(s.id).await?.as_ref() == Some(&s),
            "{kind} round trip"
        );
    }
    ensure!(!store.signal_exists(SignalId::new()).await?);
    Ok(())
}
