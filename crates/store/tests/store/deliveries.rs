//! Deliveries: creation (idempotent, batched) and each step of their life.

use anyhow::ensure;
use chrono::Duration;
use herald_domain::{DeliveryStatus, Signal, SignalFormat, SignalKind};
use herald_store::entity::{signal_deliveries, users};
use herald_store::{AttemptStart, Recipient, Store, StoreError};
use sea_orm::{ActiveValue::Set, EntityTrait, SqlErr};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, signal, subscriber};

on_both_backends!(
    create_deliveries_is_idempotent,
    large_fan_out_is_batched,
    attempt_lifecycle,
    final_outcomes,
    unknown_deliveries,
    batched_attempts_and_sends,
    sending_is_a_lease,
);

async fn stored_signal(store: &Store) -> anyhow::Result<Signal> {
    let s = signal(SignalKind::Buy, 80, noon());
    store.insert_signal(&s, noon()).await?;
    Ok(s)
}

async fn create_deliveries_is_idempotent(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let s = stored_signal(&store).await?;
    for n in 0..3 {
        subscriber(&store, n, now).await?;
    }
    let recipients = store.recipients(&s, now).await?;
    ensure!(recipients.len() == 3);
    ensure!(store.create_deliveries(s.id, &recipients, now).await? == 3);
    ensure!(
        store.create_deliveries(s.id, &recipients, now).await? == 0,
        "re-run adds none"
    );
    ensure!(store.create_deliveries(s.id, &[], now).await? == 0);

    let newcomer = subscriber(&store, 9, now).await?;
    let recipients = store.recipients(&s, now).await?;
    ensure!(
        store.create_deliveries(s.id, &recipients, now).await? == 1,
        "only the new one"
    );

    let all = store.deliveries_for_signal(s.id).await?;
    ensure!(all.len() == 4);
    for d in &all {
        ensure!(d.status == DeliveryStatus::Pending && d.attempts == 0);
        ensure!(d.signal_id == s.id && d.format == SignalFormat::Detailed);
        ensure!(d.created_at == now && d.updated_at == now && d.delivered_at.is_none());
    }
    let unsent = store.unsent_deliveries(s.id).await?;
    ensure!(unsent.len() == 4);
    let mine = unsent.iter().find(|p| p.user_id == newcomer.id).unwrap();
    ensure!(mine.chat_id == newcomer.chat_id);
    ensure!(store.delivery(mine.delivery_id).await?.unwrap().user_id == newcomer.id);

    // The database itself refuses a second delivery for the same (signal, user).
    let duplicate = signal_deliveries::Entity::insert(signal_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        signal_id: Set(s.id.0),
        user_id: Set(newcomer.id),
        chat_id: Set(newcomer.chat_id),
        format: Set("detailed".into()),
        status: Set("pending".into()),
        attempts: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
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
    let s = stored_signal(&store).await?;
    let recipients: Vec<Recipient> = (0..USERS)
        .map(|n| Recipient {
            user_id: Uuid::now_v7(),
            chat_id: 5_000_000 + n as i64,
            format: if n % 2 == 0 {
                SignalFormat::Detailed
            } else {
                SignalFormat::Compact
            },
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
        }))
        .exec_without_returning(store.connection())
        .await?;
    }
    ensure!(store.create_deliveries(s.id, &recipients, now).await? == USERS as u64);
    ensure!(store.create_deliveries(s.id, &recipients, now).await? == 0);
    let unsent = store.unsent_deliveries(s.id).await?;
    ensure!(unsent.len() == USERS);
    let compact = unsent
        .iter()
        .filter(|p| p.format == SignalFormat::Compact)
        .count();
    ensure!(compact == USERS / 2, "formats kept: {compact}");
    ensure!(store.delivery_counts().await?.pending == USERS as u64);
    Ok(())
}

async fn attempt_lifecycle(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let s = stored_signal(&store).await?;
    subscriber(&store, 1, now).await?;
    let recipients = store.recipients(&s, now).await?;
    store.create_deliveries(s.id, &recipients, now).await?;
    let id = store.unsent_deliveries(s.id).await?[0].delivery_id;

    let t1 = now + Duration::seconds(1);
    let start = store.begin_attempt(id, t1).await?;
    ensure!(
        start
            == AttemptStart::Proceed {
                attempt: 1,
                created_at: now
            },
        "{start:?}"
    );
    let d = store.delivery(id).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Sending && d.attempts == 1 && d.updated_at == t1);
    ensure!(
        store.unsent_deliveries(s.id).await?.is_empty(),
        "attempted: not unsent"
    );

    // A crash left it `sending`: the next attempt may proceed.
    let t2 = now + Duration::seconds(2);
    ensure!(
        store.begin_attempt(id, t2).await?
            == AttemptStart::Proceed {
                attempt: 2,
                created_at: now
            }
    );

    let t3 = now + Duration::seconds(3);
    store
        .record_retry(id, "429 Too Many Requests: retry after 3", t3)
        .await?;
    let d = store.delivery(id).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Pending && d.attempts == 2);
    ensure!(d.last_error.as_deref() == Some("429 Too Many Requests: retry after 3"));
    ensure!(
        store.unsent_deliveries(s.id).await?.is_empty(),
        "retried: not unsent"
    );

    let t4 = now + Duration::seconds(6);
    ensure!(
        store.begin_attempt(id, t4).await?
            == AttemptStart::Proceed {
                attempt: 3,
                created_at: now
            }
    );
    store.record_sent(id, 777, t4).await?;
    let d = store.delivery(id).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Sent && d.attempts == 3);
    ensure!(d.telegram_message_id == Some(777) && d.delivered_at == Some(t4));
    ensure!(d.updated_at == t4);

    ensure!(store.begin_attempt(id, t4).await? == AttemptStart::AlreadyFinal(DeliveryStatus::Sent));
    // A late retry or failure cannot undo a sent delivery.
    store.record_retry(id, "late", t4).await?;
    store
        .record_final(id, DeliveryStatus::Failed, Some("late"), t4)
        .await?;
    let d = store.delivery(id).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Sent && d.attempts == 3);

    let counts = store.delivery_counts().await?;
    ensure!(counts.sent == 1 && counts.total() == 1, "{counts:?}");
    ensure!(store.begin_attempt(Uuid::now_v7(), t4).await? == AttemptStart::Missing);
    Ok(())
}

async fn final_outcomes(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let s = stored_signal(&store).await?;
    for n in 0..4 {
        subscriber(&store, n, now).await?;
    }
    let recipients = store.recipients(&s, now).await?;
    store.create_deliveries(s.id, &recipients, now).await?;
    let ids: Vec<Uuid> = store
        .unsent_deliveries(s.id)
        .await?
        .iter()
        .map(|p| p.delivery_id)
        .collect();
    let later = now + Duration::minutes(1);

    store.begin_attempt(ids[0], later).await?;
    store
        .record_final(
            ids[0],
            DeliveryStatus::Blocked,
            Some("403 Forbidden: bot was blocked"),
            later,
        )
        .await?;
    store.begin_attempt(ids[1], later).await?;
    store
        .record_final(
            ids[1],
            DeliveryStatus::Failed,
            Some("400 Bad Request"),
            later,
        )
        .await?;
    // Expired without ever being attempted, and without an error text.
    store
        .record_final(ids[2], DeliveryStatus::Expired, None, later)
        .await?;

    let d = store.delivery(ids[0]).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Blocked && d.updated_at == later);
    ensure!(d.last_error.as_deref() == Some("403 Forbidden: bot was blocked"));
    ensure!(d.delivered_at.is_none());
    ensure!(store.delivery(ids[1]).await?.unwrap().status == DeliveryStatus::Failed);
    let d = store.delivery(ids[2]).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Expired && d.attempts == 0 && d.last_error.is_none());

    // The first final outcome stands.
    store
        .record_final(ids[0], DeliveryStatus::Failed, Some("other"), later)
        .await?;
    store.record_retry(ids[0], "other", later).await?;
    let d = store.delivery(ids[0]).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Blocked);
    ensure!(d.last_error.as_deref() == Some("403 Forbidden: bot was blocked"));
    ensure!(
        store.begin_attempt(ids[0], later).await?
            == AttemptStart::AlreadyFinal(DeliveryStatus::Blocked)
    );

    for not_final in [
        DeliveryStatus::Sent,
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
    ] {
        match store.record_final(ids[3], not_final, None, later).await {
            Err(StoreError::Invalid(_)) => {}
            other => anyhow::bail!("record_final({not_final}) should be refused: {other:?}"),
        }
    }
    // Long errors are cut, not refused.
    store
        .record_retry(ids[3], &"x".repeat(10_000), later)
        .await?;
    let d = store.delivery(ids[3]).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Pending && d.last_error.unwrap().len() == 2000);

    let counts = store.delivery_counts().await?;
    ensure!(counts.blocked == 1 && counts.failed == 1 && counts.expired == 1);
    ensure!(counts.pending == 1 && counts.sent == 0 && counts.sending == 0);
    ensure!(counts.iter().count() == 6 && counts.total() == 4);
    Ok(())
}

async fn unknown_deliveries(store: Store) -> anyhow::Result<()> {
    let missing = Uuid::now_v7();
    let now = noon();
    ensure!(store.delivery(missing).await?.is_none());
    for result in [
        store.record_sent(missing, 1, now).await,
        store.record_retry(missing, "e", now).await,
        store
            .record_final(missing, DeliveryStatus::Failed, None, now)
            .await,
    ] {
        match result {
            Err(StoreError::UnknownDelivery(id)) if id == missing => {}
            other => anyhow::bail!("expected UnknownDelivery, got {other:?}"),
        }
    }
    let s = stored_signal(&store).await?;
    ensure!(store.deliveries_for_signal(s.id).await?.is_empty());
    ensure!(store.unsent_deliveries(s.id).await?.is_empty());
    ensure!(store.delivery_counts().await?.total() == 0);
    Ok(())
}

async fn batched_attempts_and_sends(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let s = stored_signal(&store).await?;
    const USERS: i64 = 700; // more than one batch
    for n in 0..USERS {
        subscriber(&store, n, now).await?;
    }
    let recipients = store.recipients(&s, now).await?;
    store.create_deliveries(s.id, &recipients, now).await?;
    let mut ids: Vec<Uuid> = store
        .unsent_deliveries(s.id)
        .await?
        .into_iter()
        .map(|d| d.delivery_id)
        .collect();
    // One already sent, one unknown: answered in place, in order.
    let done = ids[3];
    store.begin_attempt(done, now).await?;
    store.record_sent(done, 1, now).await?;
    let unknown = Uuid::now_v7();
    ids.push(unknown);

    let t1 = now + Duration::seconds(1);
    let starts = store
        .begin_attempts(&ids, t1, Duration::seconds(30))
        .await?;
    ensure!(starts.len() == ids.len());
    ensure!(starts[3] == AttemptStart::AlreadyFinal(DeliveryStatus::Sent));
    ensure!(*starts.last().unwrap() == AttemptStart::Missing);
    let proceeding: Vec<Uuid> = ids
        .iter()
        .zip(&starts)
        .filter(|(_, s)| matches!(s, AttemptStart::Proceed { attempt: 1, .. }))
        .map(|(id, _)| *id)
        .collect();
    ensure!(
        proceeding.len() == USERS as usize - 1,
        "{}",
        proceeding.len()
    );

    let sent: Vec<(Uuid, i64)> = proceeding
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, 1000 + i as i64))
        .collect();
    store.record_sent_many(&sent, t1).await?;
    for (id, message) in [sent[0], sent[499], sent[500], *sent.last().unwrap()] {
        let d = store.delivery(id).await?.unwrap();
        ensure!(d.status == DeliveryStatus::Sent, "{d:?}");
        ensure!(d.telegram_message_id == Some(message) && d.delivered_at == Some(t1));
    }
    ensure!(store.delivery_counts().await?.sent == USERS as u64);
    ensure!(matches!(
        store.record_sent_many(&[(unknown, 5)], t1).await,
        Err(StoreError::UnknownDelivery(_))
    ));
    Ok(())
}

async fn sending_is_a_lease(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let s = stored_signal(&store).await?;
    subscriber(&store, 1, now).await?;
    let recipients = store.recipients(&s, now).await?;
    store.create_deliveries(s.id, &recipients, now).await?;
    let id = store.unsent_deliveries(s.id).await?[0].delivery_id;
    let lease = Duration::seconds(30);
    let at = |secs| now + Duration::seconds(secs);

    ensure!(matches!(
        store.begin_attempts(&[id], at(0), lease).await?[0],
        AttemptStart::Proceed { attempt: 1, .. }
    ));
    // A second copy of the job while the first holds the lease: hands off.
    ensure!(store.begin_attempts(&[id], at(10), lease).await?[0] == AttemptStart::InProgress);
    // A slow send renews its lease.
    store.touch_attempt(id, at(25)).await?;
    ensure!(store.begin_attempts(&[id], at(40), lease).await?[0] == AttemptStart::InProgress);
    // Untouched for longer than the lease: the attempt crashed; take over.
    ensure!(matches!(
        store.begin_attempts(&[id], at(56), lease).await?[0],
        AttemptStart::Proceed { attempt: 2, .. }
    ));

    // A 429 gives the attempt back.
    store
        .record_throttled(id, "429 retry after 3", at(57))
        .await?;
    let d = store.delivery(id).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Pending && d.attempts == 1,
        "{d:?}"
    );
    ensure!(d.last_error.as_deref() == Some("429 retry after 3"));
    ensure!(matches!(
        store.begin_attempts(&[id], at(58), lease).await?[0],
        AttemptStart::Proceed { attempt: 2, .. }
    ));
    store.record_sent(id, 9, at(59)).await?;
    // Nothing moves a sent delivery back.
    store.record_throttled(id, "late", at(60)).await?;
    store.touch_attempt(id, at(60)).await?;
    let d = store.delivery(id).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Sent && d.attempts == 2 && d.updated_at == at(59));
    Ok(())
}
