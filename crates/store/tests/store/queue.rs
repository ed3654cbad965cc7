//! The delivery queue: what a claim takes and in which order, leases, and every outcome.

use std::collections::HashSet;

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use herald_domain::{DeliveryStatus, SignalKind};
use herald_store::{
    Claim, ClaimRef, PULLED_AHEAD, QueuedSignal, Recipient, Store, StoreError, User,
};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, signal, subscriber};

on_both_backends!(
    urgent_and_newer_go_first,
    one_traders_messages_keep_their_order,
    a_retried_message_holds_back_the_next,
    an_older_signal_still_fanning_out_holds_back_a_newer_one,
    leases_and_their_reclaim,
    outcomes,
    sweeps_and_requeue,
    requeue_rules,
    concurrent_claims_never_overlap,
    a_lapsed_claim_cannot_touch_the_next_one,
);

const LEASE: Duration = Duration::seconds(30);
const ORDER_WAIT: Duration = Duration::seconds(1);

/// A signal of `kind` generated `minutes_ago` before `noon`, queued for `to`.
async fn queued(
    store: &Store,
    kind: SignalKind,
    minutes_ago: i64,
    to: &[&User],
) -> anyhow::Result<QueuedSignal> {
    let s = signal(kind, 80, noon() - Duration::minutes(minutes_ago - 1));
    let deadline = noon() + Duration::hours(1);
    store.insert_signal(&s, noon(), deadline).await?;
    let q = QueuedSignal::new(&s, Some(deadline));
    let recipients: Vec<Recipient> = to
        .iter()
        .map(|u| Recipient::new(u.id, u.chat_id, herald_domain::SignalFormat::Detailed))
        .collect();
    // The whole fan-out, done.
    store
        .record_fanout_page(&q, &recipients, None, true, noon())
        .await?;
    Ok(q)
}

async fn claim(store: &Store, n: usize, at: DateTime<Utc>) -> anyhow::Result<Vec<Claim>> {
    Ok(store.claim_deliveries(n, at, LEASE, ORDER_WAIT).await?)
}

fn signals_of(claims: &[Claim]) -> Vec<herald_domain::SignalId> {
    claims.iter().filter_map(|c| c.signal_id).collect()
}

async fn urgent_and_newer_go_first(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..6 {
        users.push(subscriber(&store, n, now).await?);
    }
    let old_buy = queued(
        &store,
        SignalKind::Buy,
        30,
        &[&users[0], &users[1], &users[2]],
    )
    .await?;
    let alert = queued(&store, SignalKind::Alert, 40, &[&users[3], &users[4]]).await?;
    let new_buy = queued(&store, SignalKind::Buy, 5, &[&users[5]]).await?;

    let first = claim(&store, 3, now).await?;
    ensure!(
        signals_of(&first) == vec![alert.id, alert.id, new_buy.id],
        "alerts, then the newer buy: {first:?}"
    );
    for c in &first {
        ensure!(c.attempt == 1 && c.unknown_sends == 0 && c.deadline == alert.deadline);
        ensure!(store.status_of(c.delivery_id).await? == Some(DeliveryStatus::Sending));
    }
    let rest = claim(&store, 10, now).await?;
    ensure!(signals_of(&rest) == vec![old_buy.id; 3]);
    ensure!(claim(&store, 10, now).await?.is_empty(), "all claimed");
    Ok(())
}

async fn one_traders_messages_keep_their_order(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let trader = subscriber(&store, 1, now).await?;
    let buy = queued(&store, SignalKind::Buy, 10, &[&trader]).await?;
    let close = queued(&store, SignalKind::Close, 2, &[&trader]).await?;

    // Both in one claim: the buy first, though the close is more urgent.
    let both = claim(&store, 10, now).await?;
    ensure!(signals_of(&both) == vec![buy.id, close.id], "{both:?}");
    let ids: Vec<Uuid> = both.iter().map(|c| c.delivery_id).collect();
    store.release_claims(&ids, now, now).await?;

    // One at a time: the close comes up first, is given back, and the buy is pulled ahead.
    ensure!(claim(&store, 1, now).await?.is_empty(), "the close waits");
    let close_row = store.deliveries_for_signal(close.id).await?.remove(0);
    ensure!(close_row.status == DeliveryStatus::Pending && close_row.attempts == 0);
    ensure!(close_row.next_attempt_at == Some(now + ORDER_WAIT));
    let buy_row = store.deliveries_for_signal(buy.id).await?.remove(0);
    ensure!(buy_row.priority == PULLED_AHEAD);

    let next = claim(&store, 1, now).await?;
    ensure!(signals_of(&next) == vec![buy.id], "{next:?}");
    // While the buy is in flight, the close still waits.
    ensure!(claim(&store, 1, now + ORDER_WAIT).await?.is_empty());
    store.record_sent(next[0].delivery_id, 11, now).await?;
    let last = claim(&store, 1, now + ORDER_WAIT * 2).await?;
    ensure!(signals_of(&last) == vec![close.id]);
    Ok(())
}

async fn a_retried_message_holds_back_the_next(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let trader = subscriber(&store, 1, now).await?;
    let other = subscriber(&store, 2, now).await?;
    let buy = queued(&store, SignalKind::Buy, 10, &[&trader]).await?;
    let first = claim(&store, 1, now).await?;
    ensure!(signals_of(&first) == vec![buy.id]);
    // The buy's send fails; it is due again in 5 s.
    store
        .record_retry(
            first[0].delivery_id,
            "502 Bad Gateway",
            now + Duration::seconds(5),
            now,
        )
        .await?;
    let close = queued(&store, SignalKind::Close, 1, &[&trader, &other]).await?;
    let claimed = claim(&store, 10, now + Duration::seconds(1)).await?;
    ensure!(
        claimed.len() == 1 && claimed[0].user_id == Some(other.id),
        "the trader's close waits for their buy: {claimed:?}"
    );
    // When the buy is due again, both come in one claim, the buy first.
    let retried = claim(&store, 10, now + Duration::seconds(5)).await?;
    ensure!(
        signals_of(&retried) == vec![buy.id, close.id],
        "{retried:?}"
    );
    ensure!(retried[0].attempt == 2 && retried[1].user_id == Some(trader.id));
    Ok(())
}

async fn leases_and_their_reclaim(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let trader = subscriber(&store, 1, now).await?;
    queued(&store, SignalKind::Buy, 10, &[&trader]).await?;
    let at = |secs| now + Duration::seconds(secs);
    let id = claim(&store, 1, at(0)).await?[0].delivery_id;

    ensure!(
        store.reclaim_abandoned(at(20), at(50)).await? == 0,
        "lease holds"
    );
    store.renew_leases(&[id], at(60)).await?;
    ensure!(
        store.reclaim_abandoned(at(45), at(75)).await? == 0,
        "renewed"
    );
    // Its replica died: the claim comes back as unknown, due later.
    ensure!(store.reclaim_abandoned(at(61), at(91)).await? == 1);
    let d = store.delivery(id).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Unknown && d.unknown_sends == 1,
        "{d:?}"
    );
    ensure!(d.next_attempt_at == Some(at(91)));
    ensure!(
        claim(&store, 1, at(90)).await?.is_empty(),
        "not before its retry"
    );
    let again = claim(&store, 1, at(91)).await?;
    ensure!(again.len() == 1 && again[0].attempt == 2 && again[0].unknown_sends == 1);
    // The retry dies too: given up, never sent a third time.
    ensure!(store.reclaim_abandoned(at(200), at(230)).await? == 1);
    let d = store.delivery(id).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Failed && d.unknown_sends == 2,
        "{d:?}"
    );
    ensure!(d.last_error.as_deref() == Some(herald_store::UNKNOWN_TWICE));
    Ok(())
}

/// A replica that stalled past its lease (its delivery reclaimed and claimed again by
/// another) and then wakes up cannot move the new claim: every write it makes is refused, and
/// says so.
async fn a_lapsed_claim_cannot_touch_the_next_one(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let traders = [
        subscriber(&store, 1, now).await?,
        subscriber(&store, 2, now).await?,
    ];
    queued(&store, SignalKind::Buy, 10, &[&traders[0], &traders[1]]).await?;
    let at = |secs| now + Duration::seconds(secs);
    let stale = claim(&store, 2, at(0)).await?;
    ensure!(stale.len() == 2);
    ensure!(store.reclaim_abandoned(at(31), at(31)).await? == 2);
    let fresh = claim(&store, 2, at(31)).await?;
    ensure!(fresh.len() == 2 && fresh.iter().all(|c| c.attempt == 2));

    let (a, b) = (&stale[0], &stale[1]);
    ensure!(!store.record_retry(a, "late", at(40), at(32)).await?);
    ensure!(!store.record_unknown(a, "late", at(40), at(32)).await?);
    ensure!(!store.record_throttled(a, "late", at(40), at(32)).await?);
    ensure!(
        !store
            .record_final(a, DeliveryStatus::Failed, Some("late"), at(32))
            .await?
    );
    store
        .record_expired_many(&[ClaimRef::from(b)], at(32))
        .await?;
    store
        .release_claims(&[ClaimRef::from(a), ClaimRef::from(b)], at(40), at(32))
        .await?;
    store
        .renew_leases(&[ClaimRef::from(a), ClaimRef::from(b)], at(500))
        .await?;
    for c in &fresh {
        let d = store.delivery(c.delivery_id).await?.unwrap();
        ensure!(
            d.status == DeliveryStatus::Sending && d.attempts == 2,
            "the new claim was moved by the lapsed one: {d:?}"
        );
    }
    // A claim's own writes apply.
    ensure!(store.record_retry(&fresh[0], "500", at(40), at(32)).await?);
    ensure!(store.delivery(fresh[0].delivery_id).await?.unwrap().status == DeliveryStatus::Unknown);
    // The lapsed claim's renewal did not extend the new claim's lease: it runs out at 61 s.
    ensure!(store.reclaim_abandoned(at(62), at(62)).await? == 1);
    Ok(())
}

async fn outcomes(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..5 {
        users.push(subscriber(&store, n, now).await?);
    }
    let refs: Vec<&User> = users.iter().collect();
    queued(&store, SignalKind::Buy, 10, &refs).await?;
    let claims = claim(&store, 10, now).await?;
    let id = |i: usize| claims[i].delivery_id;
    let later = now + Duration::seconds(10);

    // 429: the attempt is given back; due after the wait.
    store
        .record_throttled(id(0), "429 retry after 10", later, now)
        .await?;
    let d = store.delivery(id(0)).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Pending && d.attempts == 0 && d.next_attempt_at == Some(later)
    );
    ensure!(d.last_error.as_deref() == Some("429 retry after 10"));
    // A surely failed send: the attempt counts.
    store
        .record_retry(id(1), &"x".repeat(10_000), later, now)
        .await?;
    let d = store.delivery(id(1)).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Pending && d.attempts == 1);
    ensure!(
        d.last_error.unwrap().len() == 2000,
        "long errors are cut, not refused"
    );
    // A timed-out send.
    store.record_unknown(id(2), "timed out", later, now).await?;
    let d = store.delivery(id(2)).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Unknown && d.unknown_sends == 1);
    // Final outcomes, and only final ones.
    store
        .record_final(
            id(3),
            DeliveryStatus::Blocked,
            Some("403 Forbidden: bot was blocked"),
            now,
        )
        .await?;
    for not_final in [
        DeliveryStatus::Sent,
        DeliveryStatus::Pending,
        DeliveryStatus::Unknown,
    ] {
        match store.record_final(id(4), not_final, None, now).await {
            Err(StoreError::Invalid(_)) => {}
            other => anyhow::bail!("record_final({not_final}) should be refused: {other:?}"),
        }
    }
    store.record_sent(id(4), 77, now).await?;
    // Nothing moves a finished delivery back, and each refusal says so.
    ensure!(!store.record_retry(id(4), "late", later, now).await?);
    ensure!(!store.record_unknown(id(4), "late", later, now).await?);
    ensure!(
        !store
            .record_final(id(4), DeliveryStatus::Failed, Some("late"), now)
            .await?
    );
    ensure!(
        !store
            .record_final(id(3), DeliveryStatus::Failed, Some("other"), now)
            .await?
    );
    let d = store.delivery(id(4)).await?.unwrap();
    ensure!(d.status == DeliveryStatus::Sent && d.telegram_message_id == Some(77));
    ensure!(store.delivery(id(3)).await?.unwrap().status == DeliveryStatus::Blocked);
    // The unknown one is retried once more; the throttled and retried ones when due.
    let retried = claim(&store, 10, later).await?;
    ensure!(retried.len() == 3, "{retried:?}");

    let missing = Uuid::now_v7();
    for result in [
        store.record_sent(missing, 1, now).await,
        store.record_retry(missing, "e", now, now).await.map(drop),
        store
            .record_final(missing, DeliveryStatus::Failed, None, now)
            .await
            .map(drop),
    ] {
        match result {
            Err(StoreError::UnknownDelivery(id)) if id == missing => {}
            other => anyhow::bail!("expected UnknownDelivery, got {other:?}"),
        }
    }
    ensure!(store.status_of(missing).await?.is_none());
    Ok(())
}

async fn sweeps_and_requeue(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..700 {
        users.push(subscriber(&store, n, now).await?);
    }
    let refs: Vec<&User> = users.iter().collect();
    let q = queued(&store, SignalKind::Buy, 10, &refs).await?;
    // More than one statement's worth sent in one call.
    let claims = claim(&store, 600, now).await?;
    ensure!(claims.len() == 600);
    let sent: Vec<(Uuid, i64)> = claims
        .iter()
        .enumerate()
        .map(|(i, c)| (c.delivery_id, 1000 + i as i64))
        .collect();
    store.record_sent_many(&sent, now).await?;
    for (id, message) in [sent[0], sent[499], sent[500], *sent.last().unwrap()] {
        let d = store.delivery(id).await?.unwrap();
        ensure!(d.status == DeliveryStatus::Sent && d.telegram_message_id == Some(message));
    }
    ensure!(matches!(
        store.record_sent_many(&[(Uuid::now_v7(), 5)], now).await,
        Err(StoreError::UnknownDelivery(_))
    ));
    // One claimed past the deadline, the rest still waiting: the sweep expires the waiting.
    let late = claim(&store, 1, now).await?;
    store
        .record_expired_many(&[late[0].delivery_id], now)
        .await?;
    let past_deadline = q.deadline.unwrap();
    ensure!(store.expire_waiting(q.id, past_deadline).await? == 99);
    let counts = store.signal_delivery_counts(q.id).await?;
    ensure!(
        counts.sent == 600 && counts.expired == 100 && counts.total() == 700,
        "{counts:?}"
    );
    ensure!(claim(&store, 10, now).await?.is_empty());
    // An operator re-drives the expired ones with a new deadline.
    let until = now + Duration::hours(2);
    let requeued = store
        .requeue(q.id, &[DeliveryStatus::Expired], Some(until), false, now)
        .await?;
    ensure!(
        requeued.requeued == 100 && requeued.held_back == 0,
        "{requeued:?}"
    );
    let again = claim(&store, 200, now).await?;
    ensure!(
        again.len() == 100
            && again
                .iter()
                .all(|c| c.attempt == 1 && c.deadline == Some(until))
    );
    Ok(())
}

async fn requeue_rules(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..6 {
        users.push(subscriber(&store, n, now).await?);
    }
    let refs: Vec<&User> = users.iter().collect();
    let q = queued(&store, SignalKind::Buy, 10, &refs).await?;
    let claims = claim(&store, 6, now).await?;
    let id = |n: usize| claims[n].delivery_id;
    // 0 sent, 1 blocked, 2 failed, 3 failed after a send of unknown outcome, 4 expired,
    // 5 still waiting.
    store.record_sent(id(0), 7, now).await?;
    store
        .record_final(id(1), DeliveryStatus::Blocked, Some("blocked"), now)
        .await?;
    store
        .record_final(id(2), DeliveryStatus::Failed, Some("500"), now)
        .await?;
    store.record_unknown(id(3), "timed out", now, now).await?;
    let retried = claim(&store, 6, now).await?;
    ensure!(retried.len() == 1 && retried[0].delivery_id == id(3));
    store
        .record_final(id(3), DeliveryStatus::Failed, Some("500"), now)
        .await?;
    store.record_expired_many(&[id(4)], now).await?;
    store
        .release_claims(&[id(5)], now + Duration::hours(9), now)
        .await?;

    // Statuses that make no sense are refused, and nothing changes.
    for wrong in [
        DeliveryStatus::Sent,
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Unknown,
        DeliveryStatus::Blocked,
    ] {
        let result = store
            .requeue(q.id, &[DeliveryStatus::Failed, wrong], None, true, now)
            .await;
        ensure!(
            matches!(result, Err(StoreError::Invalid(ref m)) if m.contains(wrong.as_str())),
            "{wrong}: {result:?}"
        );
    }
    ensure!(store.status_of(id(2)).await? == Some(DeliveryStatus::Failed));
    ensure!(store.requeue(q.id, &[], None, false, now).await? == herald_store::Requeued::default());

    // Failed ones: the one that may have reached the trader is held back.
    let later = now + Duration::minutes(5);
    let until = later + Duration::hours(4);
    let done = store
        .requeue(q.id, &[DeliveryStatus::Failed], Some(until), false, later)
        .await?;
    ensure!(done.requeued == 1 && done.held_back == 1, "{done:?}");
    let d = store.delivery(id(2)).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Pending && d.attempts == 0,
        "{d:?}"
    );
    ensure!(d.deadline == Some(until) && d.next_attempt_at == Some(later));
    ensure!(store.status_of(id(3)).await? == Some(DeliveryStatus::Failed));
    // Past the signal's own deadline the reconciler's sweep leaves the re-driven one alone.
    let swept_at = q.deadline.unwrap() + Duration::minutes(1);
    ensure!(store.expire_waiting(q.id, swept_at).await? == 1, "only #5");
    ensure!(store.status_of(id(2)).await? == Some(DeliveryStatus::Pending));
    ensure!(
        store.expire_waiting(q.id, until).await? == 1,
        "#2 at its own"
    );

    // Asked to, the maybe-delivered one goes too, its unknown send remembered.
    let done = store
        .requeue(q.id, &[DeliveryStatus::Failed], Some(until), true, later)
        .await?;
    ensure!(done.requeued == 1 && done.held_back == 0, "{done:?}");
    let d = store.delivery(id(3)).await?.unwrap();
    ensure!(
        d.status == DeliveryStatus::Pending && d.unknown_sends == 1,
        "{d:?}"
    );
    // Expired ones, any number of times; sent and blocked never move.
    let done = store
        .requeue(q.id, &[DeliveryStatus::Expired], None, false, later)
        .await?;
    ensure!(done.requeued == 3, "#2, #4 and #5: {done:?}");
    ensure!(store.delivery(id(4)).await?.unwrap().deadline.is_none());
    ensure!(store.status_of(id(0)).await? == Some(DeliveryStatus::Sent));
    ensure!(store.status_of(id(1)).await? == Some(DeliveryStatus::Blocked));
    Ok(())
}

async fn concurrent_claims_never_overlap(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..300 {
        users.push(subscriber(&store, n, now).await?);
    }
    let refs: Vec<&User> = users.iter().collect();
    queued(&store, SignalKind::Buy, 10, &refs).await?;
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claims = claim(&store, 7, now).await?;
                if claims.is_empty() {
                    return anyhow::Ok(mine);
                }
                mine.extend(claims.into_iter().map(|c| c.delivery_id));
            }
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await?? {
            total += 1;
            ensure!(seen.insert(id), "{id} claimed twice");
        }
    }
    ensure!(total == 300 && seen.len() == 300);
    Ok(())
}

async fn an_older_signal_still_fanning_out_holds_back_a_newer_one(
    store: Store,
) -> anyhow::Result<()> {
    let now = noon();
    let trader = subscriber(&store, 1, now).await?;
    // A buy whose fan-out has not reached anyone yet (another replica is still paging).
    let buy = signal(SignalKind::Buy, 80, now - Duration::minutes(5));
    store
        .insert_signal(&buy, now, now + Duration::hours(1))
        .await?;
    let close = queued(&store, SignalKind::Close, 1, &[&trader]).await?;
    ensure!(
        claim(&store, 10, now).await?.is_empty(),
        "the close waits for the buy's fan-out"
    );
    // The buy's fan-out reaches the trader and finishes.
    let bq = QueuedSignal::new(&buy, Some(now + Duration::hours(1)));
    let page = store.recipients_page(&buy, now, None, 10).await?;
    store
        .record_fanout_page(&bq, &page.recipients, page.last_scanned, true, now)
        .await?;
    let both = claim(&store, 10, now + ORDER_WAIT).await?;
    ensure!(signals_of(&both) == vec![buy.id, close.id], "{both:?}");
    Ok(())
}
