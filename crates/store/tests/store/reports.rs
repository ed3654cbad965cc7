//! The admin API's signals, deliveries and statistics: newest-first pages with ties, one
//! signal's deliveries by status, and a window's numbers, latency percentiles included, on
//! both backends' date arithmetic.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use chrono::{DateTime, Duration, Utc};
use herald_domain::{DeliveryStatus, Signal, SignalFormat, SignalId, SignalKind, Tier};
use herald_store::entity::signal_deliveries;
use herald_store::{
    AuditEvent, Delivery, DeliveryCounts, QueuedSignal, Recipient, SignalCursor, Stats, Store,
    StoredSignal, User,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile, signal, subscriber};

on_both_backends!(
    signals_come_newest_first_in_pages,
    a_signals_deliveries_page_by_status,
    stats_of_a_window,
    stats_of_quiet_windows,
);

/// Stores a `kind` signal received at `at`, due an hour later.
async fn received(store: &Store, kind: SignalKind, at: DateTime<Utc>) -> anyhow::Result<Signal> {
    let s = signal(kind, 80, at);
    store.insert_signal(&s, at, at + Duration::hours(1)).await?;
    Ok(s)
}

/// Records a delivery of `s` for each of `to`, created when it was received.
async fn fan_out(
    store: &Store,
    s: &Signal,
    at: DateTime<Utc>,
    to: &[User],
) -> anyhow::Result<Vec<Delivery>> {
    let q = QueuedSignal::new(s, Some(at + Duration::hours(1)));
    let recipients: Vec<Recipient> = to
        .iter()
        .map(|u| Recipient::new(u.id, u.chat_id, SignalFormat::Detailed))
        .collect();
    store
        .record_fanout_page(&q, &recipients, None, true, at)
        .await?;
    let mut deliveries = store.deliveries_for_signal(s.id).await?;
    // In the order of `to`.
    deliveries.sort_by_key(|d| to.iter().position(|u| Some(u.id) == d.user_id));
    Ok(deliveries)
}

async fn set_attempts(store: &Store, delivery: Uuid, attempts: i32) -> anyhow::Result<()> {
    signal_deliveries::Entity::update_many()
        .col_expr(signal_deliveries::Column::Attempts, Expr::value(attempts))
        .filter(signal_deliveries::Column::Id.eq(delivery))
        .exec(store.connection())
        .await?;
    Ok(())
}

fn ids(signals: &[StoredSignal]) -> Vec<SignalId> {
    signals.iter().map(|s| s.signal.id).collect()
}

fn cursor(s: &StoredSignal) -> SignalCursor {
    SignalCursor {
        received_at: s.received_at,
        id: s.signal.id.0,
    }
}

async fn signals_come_newest_first_in_pages(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let min = Duration::minutes;
    ensure!(store.signals_page(None, 10).await?.is_empty());
    let a = received(&store, SignalKind::Buy, now - min(3)).await?;
    let b = received(&store, SignalKind::Sell, now - min(2)).await?;
    // Two at the same instant, and one more: their ids break the tie.
    let c = received(&store, SignalKind::Alert, now - min(1)).await?;
    let d = received(&store, SignalKind::Close, now - min(1)).await?;
    let e = received(&store, SignalKind::Buy, now - min(1)).await?;
    let f = received(&store, SignalKind::Buy, now).await?;
    let mut tied = vec![c.id, d.id, e.id];
    tied.sort_by_key(|id| std::cmp::Reverse(id.0));
    let mut expected = vec![f.id];
    expected.extend(tied);
    expected.extend([b.id, a.id]);

    let all = store.signals_page(None, 100).await?;
    ensure!(ids(&all) == expected, "{:?} != {expected:?}", ids(&all));
    for limit in [1u64, 2, 3, 4, 6] {
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let page = store.signals_page(after, limit).await?;
            ensure!(page.len() as u64 <= limit);
            pages += 1;
            let Some(last) = page.last() else { break };
            after = Some(cursor(last));
            seen.extend(ids(&page));
            ensure!(pages < 20, "pagination does not end");
        }
        ensure!(seen == expected, "limit {limit}: {seen:?}");
        ensure!(
            pages == 6usize.div_ceil(limit as usize) + 1,
            "limit {limit}"
        );
    }
    // After the first of the tie, the rest of it.
    let first_tied = all.iter().find(|s| s.signal.id == expected[1]).unwrap();
    ensure!(ids(&store.signals_page(Some(cursor(first_tied)), 2).await?) == expected[2..4]);
    ensure!(
        store
            .signals_page(Some(cursor(all.last().unwrap())), 10)
            .await?
            .is_empty()
    );

    let stored = store.stored_signal(c.id).await?.context("stored")?;
    ensure!(stored.signal == c, "{stored:?}");
    ensure!(stored.received_at == now - min(1));
    ensure!(stored.deadline == Some(now - min(1) + Duration::hours(1)));
    ensure!(stored.fanout_done_at.is_none());
    ensure!(all.contains(&stored), "the page shows the same");
    let users = vec![subscriber(&store, 1, now).await?];
    fan_out(&store, &c, now, &users).await?;
    let stored = store.stored_signal(c.id).await?.context("stored")?;
    ensure!(stored.fanout_done_at == Some(now));
    ensure!(
        store
            .stored_signal(SignalId(Uuid::now_v7()))
            .await?
            .is_none()
    );
    Ok(())
}

async fn a_signals_deliveries_page_by_status(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut users = Vec::new();
    for n in 0..6 {
        users.push(subscriber(&store, n, now).await?);
    }
    let s = received(&store, SignalKind::Buy, now).await?;
    let other = received(&store, SignalKind::Sell, now).await?;
    let deliveries = fan_out(&store, &s, now, &users).await?;
    fan_out(&store, &other, now, &users).await?;
    store.record_sent(deliveries[1].id, 11, now).await?;
    store.record_sent(deliveries[4].id, 14, now).await?;
    store
        .record_final(deliveries[2].id, DeliveryStatus::Failed, None, now)
        .await?;

    let all = store.deliveries_page(s.id, None, None, 100).await?;
    let mut in_order = store.deliveries_for_signal(s.id).await?;
    in_order.sort_by_key(|d| d.id);
    ensure!(
        all == in_order,
        "every one of this signal's, in creation order"
    );
    ensure!(all.iter().all(|d| d.signal_id == Some(s.id)));

    for limit in [1u64, 4, 6] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.deliveries_page(s.id, None, after, limit).await?;
            ensure!(page.len() as u64 <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            seen.extend(page);
        }
        ensure!(seen == all, "limit {limit}");
    }

    let sent = store
        .deliveries_page(s.id, Some(DeliveryStatus::Sent), None, 100)
        .await?;
    let mut expected = vec![deliveries[1].id, deliveries[4].id];
    expected.sort();
    ensure!(sent.iter().map(|d| d.id).collect::<Vec<_>>() == expected);
    ensure!(sent.iter().all(|d| d.status == DeliveryStatus::Sent));
    let first = store
        .deliveries_page(s.id, Some(DeliveryStatus::Sent), None, 1)
        .await?;
    let rest = store
        .deliveries_page(s.id, Some(DeliveryStatus::Sent), Some(first[0].id), 10)
        .await?;
    ensure!(first.len() == 1 && rest.len() == 1 && first[0].id == expected[0]);
    ensure!(rest[0].id == expected[1]);
    let pending = store
        .deliveries_page(s.id, Some(DeliveryStatus::Pending), None, 100)
        .await?;
    ensure!(pending.len() == 3);
    let failed = store
        .deliveries_page(s.id, Some(DeliveryStatus::Failed), None, 100)
        .await?;
    ensure!(failed.len() == 1 && failed[0].id == deliveries[2].id);
    ensure!(
        store
            .deliveries_page(s.id, Some(DeliveryStatus::Blocked), None, 100)
            .await?
            .is_empty()
    );
    ensure!(
        store
            .deliveries_page(SignalId(Uuid::now_v7()), None, None, 100)
            .await?
            .is_empty()
    );
    Ok(())
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= 1.0)
}

async fn stats_of_a_window(store: Store) -> anyhow::Result<()> {
    let from = noon() - Duration::hours(1);
    let to = noon();
    let now = noon() + Duration::minutes(5);
    let ms = Duration::milliseconds;

    // Users: 10 old, 10 new in the window, one at its start (new), one at its end (not).
    let mut users = Vec::new();
    for n in 0..10 {
        users.push(subscriber(&store, n, from - Duration::days(1)).await?);
    }
    for n in 10..20 {
        users.push(subscriber(&store, n, from + Duration::minutes(1)).await?);
    }
    store.register_user(&profile(20), from).await?;
    let at_end = subscriber(&store, 21, to).await?;
    store.deactivate_user(at_end.id, to).await?;
    // Subscribed to a 30-day tier 40 days ago: lapsed, not subscribed.
    let monthly = Tier {
        name: "monthly".into(),
        expiry: Some(Duration::days(30)),
        ..Tier::standard()
    };
    store
        .upsert_tier(&monthly, false, from - Duration::days(50))
        .await?;
    let lapsed = store
        .register_user(&profile(22), from - Duration::days(50))
        .await?
        .user;
    store
        .set_tier(lapsed.id, "monthly", from - Duration::days(50))
        .await?;
    store.subscribe(lapsed.id, now - Duration::days(40)).await?;

    // Signals: four in the window (one at its very start), two outside.
    let a_at = from + Duration::minutes(10);
    let b_at = from + Duration::minutes(20);
    let c_at = from + Duration::minutes(30);
    let a = received(&store, SignalKind::Buy, a_at).await?;
    let b = received(&store, SignalKind::Sell, b_at).await?;
    let c = received(&store, SignalKind::Alert, c_at).await?;
    received(&store, SignalKind::Buy, from).await?;
    let late = received(&store, SignalKind::Buy, to).await?;
    let early = received(&store, SignalKind::Close, from - Duration::seconds(1)).await?;

    // Latencies 100 ms … 2000 ms: a's to users 0-9, b's to users 10-19, recorded out of
    // order. Each is measured from its own signal's receipt.
    let a_deliveries = fan_out(&store, &a, a_at, &users[0..10]).await?;
    let b_deliveries = fan_out(&store, &b, b_at, &users[10..20]).await?;
    for i in [3usize, 9, 0, 7, 1, 5, 2, 8, 4, 6] {
        store
            .record_sent(
                a_deliveries[i].id,
                i as i64,
                a_at + ms(100 * (i as i64 + 1)),
            )
            .await?;
        store
            .record_sent(
                b_deliveries[i].id,
                i as i64,
                b_at + ms(100 * (i as i64 + 11)),
            )
            .await?;
    }
    set_attempts(&store, a_deliveries[4].id, 2).await?;
    set_attempts(&store, b_deliveries[0].id, 3).await?;
    // c's: one of each way to end, and one still waiting.
    let c_deliveries = fan_out(&store, &c, c_at, &users[0..6]).await?;
    let outcomes = [
        DeliveryStatus::Failed,
        DeliveryStatus::Blocked,
        DeliveryStatus::Expired,
        DeliveryStatus::Skipped,
    ];
    for (d, status) in c_deliveries.iter().zip(outcomes) {
        store.record_final(d.id, status, None, c_at).await?;
    }
    // A failure after retries is not "retried" (only sent ones are).
    set_attempts(&store, c_deliveries[0].id, 3).await?;
    store
        .record_final(c_deliveries[5].id, DeliveryStatus::Skipped, None, c_at)
        .await?;
    // c_deliveries[4] stays pending.

    // Outside the window: fast and slow sends, a retried one, a failure.
    let late_deliveries = fan_out(&store, &late, to, &users[0..2]).await?;
    store
        .record_sent(late_deliveries[0].id, 1, to + ms(1))
        .await?;
    set_attempts(&store, late_deliveries[0].id, 2).await?;
    store
        .record_final(late_deliveries[1].id, DeliveryStatus::Failed, None, to)
        .await?;
    let early_at = from - Duration::seconds(1);
    let early_deliveries = fan_out(&store, &early, early_at, &users[0..2]).await?;
    store
        .record_sent(early_deliveries[0].id, 1, early_at + Duration::hours(2))
        .await?;
    store
        .record_sent(early_deliveries[1].id, 1, early_at + ms(2))
        .await?;

    // Authentication failures: two in the window.
    let failure = || AuditEvent {
        actor: "telegram:1".into(),
        action: "auth.failed".into(),
        target: None,
        source: Some("10.0.0.1".into()),
        details: None,
    };
    for at in [
        from - Duration::seconds(1),
        from,
        to - Duration::seconds(1),
        to,
    ] {
        store.record_audit(failure(), at).await?;
    }
    store
        .record_audit(
            AuditEvent {
                action: "auth.login".into(),
                ..failure()
            },
            from + Duration::minutes(1),
        )
        .await?;

    let stats = store.stats(from, to, now).await?;
    ensure!(stats.users_total == 23, "{stats:#?}");
    ensure!(stats.users_active == 22, "{stats:#?}");
    ensure!(stats.users_subscribed == 20, "{stats:#?}");
    ensure!(stats.users_new == 11, "{stats:#?}");
    let kinds: BTreeMap<String, u64> = [("buy", 2), ("sell", 1), ("alert", 1)]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    ensure!(stats.signals_by_kind == kinds, "{stats:#?}");
    let expected = DeliveryCounts {
        sent: 20,
        failed: 1,
        blocked: 1,
        expired: 1,
        skipped: 2,
        pending: 1,
        ..DeliveryCounts::default()
    };
    ensure!(stats.deliveries == expected, "{stats:#?}");
    let rate = stats.success_rate.context("a success rate")?;
    ensure!(
        (rate - 20.0 / 23.0).abs() < 1e-9,
        "skipped are left out: {rate}"
    );
    // Nearest rank over 20: the 10th and the 19th.
    ensure!(close(stats.latency_p50_ms, 1000.0), "{stats:#?}");
    ensure!(close(stats.latency_p95_ms, 1900.0), "{stats:#?}");
    ensure!(stats.retried == 2, "{stats:#?}");
    ensure!(stats.auth_failures == 2, "{stats:#?}");

    // A window holding only b: its ten latencies, 1100 … 2000 ms.
    let only_b = store.stats(b_at, b_at + Duration::seconds(1), now).await?;
    ensure!(
        only_b.deliveries.sent == 10 && only_b.retried == 1,
        "{only_b:#?}"
    );
    ensure!(close(only_b.latency_p50_ms, 1500.0), "{only_b:#?}");
    ensure!(close(only_b.latency_p95_ms, 2000.0), "{only_b:#?}");
    ensure!(only_b.success_rate == Some(1.0));
    ensure!(only_b.users_new == 0 && only_b.auth_failures == 0);

    // The early signal alone: one fast send and one two hours after receipt.
    let only_early = store.stats(early_at, from, now).await?;
    ensure!(close(only_early.latency_p50_ms, 2.0), "{only_early:#?}");
    ensure!(
        close(only_early.latency_p95_ms, 7_200_000.0),
        "{only_early:#?}"
    );
    Ok(())
}

async fn stats_of_quiet_windows(store: Store) -> anyhow::Result<()> {
    let from = noon() - Duration::hours(1);
    let to = noon();
    let empty = store.stats(from, to, to).await?;
    let nothing = Stats {
        users_total: 0,
        users_active: 0,
        users_subscribed: 0,
        users_new: 0,
        signals_by_kind: BTreeMap::new(),
        deliveries: DeliveryCounts::default(),
        success_rate: None,
        latency_p50_ms: None,
        latency_p95_ms: None,
        retried: 0,
        auth_failures: 0,
    };
    ensure!(empty == nothing, "{empty:#?}");

    // Deliveries that have not ended: no rate, no latency.
    let users = vec![
        subscriber(&store, 1, from).await?,
        subscriber(&store, 2, from).await?,
    ];
    let s = received(&store, SignalKind::Buy, from + Duration::minutes(1)).await?;
    let deliveries = fan_out(&store, &s, from + Duration::minutes(1), &users).await?;
    let waiting = store.stats(from, to, to).await?;
    ensure!(waiting.deliveries.pending == 2, "{waiting:#?}");
    ensure!(waiting.success_rate.is_none() && waiting.latency_p50_ms.is_none());
    ensure!(waiting.latency_p95_ms.is_none());
    ensure!(waiting.users_total == 2 && waiting.users_new == 2 && waiting.users_subscribed == 2);

    // Only skipped ones ended: still no rate.
    store
        .record_final(deliveries[0].id, DeliveryStatus::Skipped, None, to)
        .await?;
    ensure!(store.stats(from, to, to).await?.success_rate.is_none());

    // One send: both percentiles are it.
    store
        .record_sent(
            deliveries[1].id,
            1,
            from + Duration::minutes(1) + Duration::milliseconds(1234),
        )
        .await?;
    let one = store.stats(from, to, to).await?;
    ensure!(one.success_rate == Some(1.0));
    ensure!(close(one.latency_p50_ms, 1234.0), "{one:#?}");
    ensure!(close(one.latency_p95_ms, 1234.0), "{one:#?}");
    Ok(())
}
