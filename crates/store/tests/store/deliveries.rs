//! Deliveries: creation (idempotent, batched, page by page) and counts.

use anyhow::ensure;
use chrono::Duration;
use herald_domain::{DeliveryStatus, Signal, SignalFormat, SignalKind};
use herald_store::entity::{signal_deliveries, users};
use herald_store::{QueuedSignal, Recipient, Store};
use sea_orm::{ActiveValue::Set, EntityTrait, SqlErr};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, signal, subscriber};

on_both_backends!(
    create_deliveries_is_idempotent,
    large_fan_out_is_batched,
    deliveries_copy_the_signal_for_the_queue,
);

/// A stored buy signal, due by one hour after `noon`, and its queue view.
pub async fn stored_signal(
    store: &Store,
    kind: SignalKind,
) -> anyhow::Result<(Signal, QueuedSignal)> {
    let s = signal(kind, 80, noon());
    let deadline = noon() + Duration::hours(1);
    store.insert_signal(&s, noon(), deadline).await?;
    Ok((s.clone(), QueuedSignal::new(&s, Some(deadline))))
}

async fn create_deliveries_is_idempotent(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let (s, q) = stored_signal(&store, SignalKind::Buy).await?;
    for n in 0..3 {
        subscriber(&store, n, now).await?;
    }
    let recipients = store.recipients(&s, now).await?;
    ensure!(recipients.len() == 3);
    ensure!(store.create_deliveries(&q, &recipients, now).await? == 3);
    ensure!(
        store.create_deliveries(&q, &recipients, now).await? == 0,
        "re-run adds none"
    );
    ensure!(store.create_deliveries(&q, &[], now).await? == 0);

    let newcomer = subscriber(&store, 9, now).await?;
    let recipients = store.recipients(&s, now).await?;
    ensure!(
        store.create_deliveries(&q, &recipients, now).await? == 1,
        "only the new one"
    );

    let all = store.deliveries_for_signal(s.id).await?;
    ensure!(all.len() == 4);
    for d in &all {
        ensure!(d.status == DeliveryStatus::Pending && d.attempts == 0);
        ensure!(d.signal_id == Some(s.id) && d.format == SignalFormat::Detailed);
        ensure!(d.created_at == now && d.updated_at == now && d.delivered_at.is_none());
    }
    let mine = all.iter().find(|d| d.user_id == Some(newcomer.id)).unwrap();
    ensure!(mine.chat_id == newcomer.chat_id);

    // The database itself refuses a second delivery for the same (signal, user).
    let duplicate = signal_deliveries::Entity::insert(signal_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        signal_id: Set(Some(s.id.0)),
        user_id: Set(Some(newcomer.id)),
        chat_id: Set(newcomer.chat_id),
        format: Set("detailed".into()),
        status: Set("pending".into()),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        priority: Set(2),
        unknown_sends: Set(0),
        ..Default::default()
    })
    .exec_without_returning(store.connection())
    .await;
    match duplicate {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
        other => anyhow::bail!("expected a unique violation, got {other:?}"),
    }
    Ok(())
}

async fn large_fan_out_is_batched(store: Store) -> anyhow::Result<()> {
    const USERS: usize = 2345; // three INSERTs: 1000 + 1000 + 345
    let now = noon();
    let (s, q) = stored_signal(&store, SignalKind::Buy).await?;
    let recipients: Vec<Recipient> = (0..USERS)
        .map(|n| {
            let format = if n % 2 == 0 {
                SignalFormat::Detailed
            } else {
                SignalFormat::Compact
            };
            Recipient::new(Uuid::now_v7(), 5_000_000 + n as i64, format)
        })
        .collect();
    for chunk in recipients.chunks(500) {
        users::Entity::insert_many(chunk.iter().map(|r| users::ActiveModel {
            id: Set(r.user_id),
            telegram_id: Set(r.chat_id),
            chat_id: Set(r.chat_id),
            username: Set(None),
            first_name: Set(None),
            last_name: Set(None),
            created_at: Set(now),
            is_active: Set(true),
            is_admin: Set(false),
            language_code: Set(None),
            staff_role: Set(None),
            staff_since: Set(None),
            totp_secret: Set(None),
            totp_last_step: Set(None),
        }))
        .exec_without_returning(store.connection())
        .await?;
    }
    ensure!(store.create_deliveries(&q, &recipients, now).await? == USERS as u64);
    ensure!(store.create_deliveries(&q, &recipients, now).await? == 0);
    let all = store.deliveries_for_signal(s.id).await?;
    ensure!(all.len() == USERS);
    let compact = all
        .iter()
        .filter(|d| d.format == SignalFormat::Compact)
        .count();
    ensure!(compact == USERS / 2, "formats kept: {compact}");
    let counts = store.signal_delivery_counts(s.id).await?;
    ensure!(counts.pending == USERS as u64 && counts.total() == USERS as u64);
    ensure!(store.delivery_counts().await?.pending == USERS as u64);
    Ok(())
}

async fn deliveries_copy_the_signal_for_the_queue(store: Store) -> anyhow::Result<()> {
    let now = noon();
    subscriber(&store, 1, now).await?;
    for (kind, priority) in [
        (SignalKind::Buy, 2),
        (SignalKind::Sell, 2),
        (SignalKind::Close, 1),
        (SignalKind::Alert, 1),
    ] {
        let (s, q) = stored_signal(&store, kind).await?;
        let recipients = store.recipients(&s, now).await?;
        store.create_deliveries(&q, &recipients, now).await?;
        let d = &store.deliveries_for_signal(s.id).await?[0];
        ensure!(d.priority == priority, "{kind}: {}", d.priority);
        ensure!(d.deadline == Some(noon() + Duration::hours(1)));
        ensure!(d.next_attempt_at == Some(now) && d.unknown_sends == 0);
    }
    let counts = store.delivery_counts().await?;
    ensure!(counts.pending == 4 && counts.iter().count() == 8);
    Ok(())
}
