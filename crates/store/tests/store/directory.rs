//! The admin API's users: pages, every filter, search with literal wildcards, and one user
//! in full with their deliveries.

use anyhow::{Context, ensure};
use chrono::{DateTime, Duration, Utc};
use herald_domain::{DeliveryStatus, SignalFormat, SignalKind, StaffRole, Tier};
use herald_store::{
    DeliveryCounts, QueuedSignal, Recipient, Store, TelegramProfile, User, UserFilter,
};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile, signal, subscriber};

on_both_backends!(
    pages_are_in_registration_order,
    filters_narrow_the_listing,
    the_default_tier_follows_the_configuration,
    search_is_case_insensitive_and_literal,
    user_detail_counts_their_deliveries,
);

async fn page(
    store: &Store,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: u64,
) -> anyhow::Result<Vec<Uuid>> {
    Ok(store
        .users_page(filter, after, limit, noon())
        .await?
        .iter()
        .map(|s| s.user.id)
        .collect())
}

fn ids(users: &[&User]) -> Vec<Uuid> {
    users.iter().map(|u| u.id).collect()
}

async fn pages_are_in_registration_order(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let all = UserFilter::default();
    ensure!(
        page(&store, &all, None, 10).await?.is_empty(),
        "no users yet"
    );
    let mut users = Vec::new();
    for n in 0..6 {
        users.push(
            store
                .register_user(&profile(n), now + Duration::seconds(n))
                .await?
                .user,
        );
    }
    let everyone: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    ensure!(page(&store, &all, None, 100).await? == everyone);

    for limit in [1u64, 2, 3, 4, 6, 7] {
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let got = page(&store, &all, after, limit).await?;
            ensure!(got.len() as u64 <= limit);
            pages += 1;
            let Some(last) = got.last() else { break };
            after = Some(*last);
            seen.extend(got);
            ensure!(pages < 20, "pagination does not end");
        }
        ensure!(seen == everyone, "limit {limit}: {seen:?}");
        let expected_pages = 6usize.div_ceil(limit as usize) + 1;
        ensure!(pages == expected_pages, "limit {limit}: {pages} pages");
    }
    ensure!(page(&store, &all, Some(users[2].id), 2).await? == everyone[3..5]);
    ensure!(page(&store, &all, Some(users[5].id), 10).await?.is_empty());
    ensure!(page(&store, &all, None, 0).await?.is_empty());

    // The summary carries the user as stored and their subscription, if any.
    store.subscribe(users[1].id, now).await?;
    let summaries = store.users_page(&all, None, 2, now).await?;
    ensure!(summaries[0].user == users[0] && summaries[0].subscription.is_none());
    let sub = summaries[1].subscription.as_ref().context("subscribed")?;
    ensure!(sub.current && sub.started_at == now && sub.tier.is_none());
    ensure!(Some(sub) == store.subscription(users[1].id, now).await?.as_ref());
    Ok(())
}

async fn filters_narrow_the_listing(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let long_ago = now - Duration::days(41);
    let monthly = Tier {
        name: "monthly".into(),
        expiry: Some(Duration::days(30)),
        ..Tier::standard()
    };
    let vip = Tier {
        name: "vip".into(),
        ..Tier::standard()
    };
    store.upsert_tier(&monthly, false, long_ago).await?;
    store.upsert_tier(&vip, false, long_ago).await?;

    let subscribed = subscriber(&store, 0, long_ago).await?;
    let never = store.register_user(&profile(1), long_ago).await?.user;
    let unsubscribed = subscriber(&store, 2, long_ago).await?;
    store.unsubscribe(unsubscribed.id, long_ago).await?;
    let blocked = subscriber(&store, 3, long_ago).await?;
    store.deactivate_user(blocked.id, long_ago).await?;
    // Subscribed 40 days ago to a 30-day tier: lapsed.
    let lapsed = store.register_user(&profile(4), long_ago).await?.user;
    store.set_tier(lapsed.id, "monthly", long_ago).await?;
    store.subscribe(lapsed.id, now - Duration::days(40)).await?;
    // On a 30-day tier, subscribed 10 days ago: current.
    let fresh = store.register_user(&profile(5), long_ago).await?.user;
    store.set_tier(fresh.id, "monthly", long_ago).await?;
    store.subscribe(fresh.id, now - Duration::days(10)).await?;
    let admin = subscriber(&store, 6, long_ago).await?;
    store.set_tier(admin.id, "vip", long_ago).await?;
    store
        .set_staff_role(
            admin.telegram_id,
            Some(StaffRole::Admin),
            chrono::Utc::now(),
        )
        .await?;
    let viewer = store.register_user(&profile(7), long_ago).await?.user;
    store
        .set_staff_role(
            viewer.telegram_id,
            Some(StaffRole::Viewer),
            chrono::Utc::now(),
        )
        .await?;
    // On vip but never subscribed.
    let vip_only = store.register_user(&profile(8), long_ago).await?.user;
    store.set_tier(vip_only.id, "vip", long_ago).await?;

    let everyone = ids(&[
        &subscribed,
        &never,
        &unsubscribed,
        &blocked,
        &lapsed,
        &fresh,
        &admin,
        &viewer,
        &vip_only,
    ]);
    let all = UserFilter::default();
    ensure!(page(&store, &all, None, 100).await? == everyone);

    let active = UserFilter {
        active: Some(true),
        ..all.clone()
    };
    let expected: Vec<Uuid> = everyone
        .iter()
        .copied()
        .filter(|id| *id != blocked.id)
        .collect();
    ensure!(page(&store, &active, None, 100).await? == expected);
    let inactive = UserFilter {
        active: Some(false),
        ..all.clone()
    };
    ensure!(page(&store, &inactive, None, 100).await? == ids(&[&blocked]));

    let current = UserFilter {
        subscribed: Some(true),
        ..all.clone()
    };
    ensure!(
        page(&store, &current, None, 100).await? == ids(&[&subscribed, &fresh, &admin]),
        "current subscriptions only"
    );
    let not_current = UserFilter {
        subscribed: Some(false),
        ..all.clone()
    };
    ensure!(
        page(&store, &not_current, None, 100).await?
            == ids(&[&never, &unsubscribed, &blocked, &lapsed, &viewer, &vip_only]),
        "never subscribed, unsubscribed, paused and lapsed"
    );
    // The lapsed subscription shows as such.
    let listed = store.users_page(&not_current, None, 100, now).await?;
    let lapsed_sub = listed
        .iter()
        .find(|s| s.user.id == lapsed.id)
        .and_then(|s| s.subscription.clone())
        .context("lapsed has a subscription")?;
    ensure!(!lapsed_sub.current && lapsed_sub.tier.as_deref() == Some("monthly"));
    ensure!(lapsed_sub.expires_at == Some(now - Duration::days(10)));
    // Paging inside a filter.
    ensure!(page(&store, &not_current, Some(blocked.id), 2).await? == ids(&[&lapsed, &viewer]));

    let tier = |name: &str| UserFilter {
        tier: Some(name.into()),
        ..UserFilter::default()
    };
    ensure!(
        page(&store, &tier("standard"), None, 100).await?
            == ids(&[&subscribed, &never, &unsubscribed, &blocked, &viewer]),
        "users without a tier are on the default"
    );
    ensure!(page(&store, &tier("monthly"), None, 100).await? == ids(&[&lapsed, &fresh]));
    ensure!(page(&store, &tier("vip"), None, 100).await? == ids(&[&admin, &vip_only]));
    ensure!(page(&store, &tier("nope"), None, 100).await?.is_empty());

    let admins = UserFilter {
        admin: Some(true),
        ..all.clone()
    };
    ensure!(
        page(&store, &admins, None, 100).await? == ids(&[&admin]),
        "viewers are not admins"
    );
    let others = UserFilter {
        admin: Some(false),
        ..all.clone()
    };
    let expected: Vec<Uuid> = everyone
        .iter()
        .copied()
        .filter(|id| *id != admin.id)
        .collect();
    ensure!(page(&store, &others, None, 100).await? == expected);
    let listed = store.users_page(&admins, None, 100, now).await?;
    ensure!(listed[0].user.staff_role == Some(StaffRole::Admin) && listed[0].user.is_admin);

    let narrow = UserFilter {
        active: Some(true),
        subscribed: Some(false),
        tier: Some("vip".into()),
        admin: Some(false),
        search: None,
    };
    ensure!(page(&store, &narrow, None, 100).await? == ids(&[&vip_only]));
    let narrow = UserFilter {
        subscribed: Some(true),
        tier: Some("monthly".into()),
        ..UserFilter::default()
    };
    ensure!(page(&store, &narrow, None, 100).await? == ids(&[&fresh]));
    Ok(())
}

async fn the_default_tier_follows_the_configuration(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let vip = Tier {
        name: "vip".into(),
        ..Tier::standard()
    };
    store.upsert_tier(&vip, false, now).await?;
    let untiered = subscriber(&store, 0, now).await?;
    let on_standard = subscriber(&store, 1, now).await?;
    store.set_tier(on_standard.id, "standard", now).await?;
    let on_vip = subscriber(&store, 2, now).await?;
    store.set_tier(on_vip.id, "vip", now).await?;
    let tier = |name: &str| UserFilter {
        tier: Some(name.into()),
        ..UserFilter::default()
    };
    ensure!(page(&store, &tier("standard"), None, 10).await? == ids(&[&untiered, &on_standard]));
    ensure!(page(&store, &tier("vip"), None, 10).await? == ids(&[&on_vip]));

    // vip becomes the default: those without a tier are on it now.
    store.upsert_tier(&vip, true, now).await?;
    ensure!(page(&store, &tier("standard"), None, 10).await? == ids(&[&on_standard]));
    ensure!(page(&store, &tier("vip"), None, 10).await? == ids(&[&untiered, &on_vip]));
    Ok(())
}

fn person(
    n: i64,
    username: Option<&str>,
    first: Option<&str>,
    last: Option<&str>,
) -> TelegramProfile {
    TelegramProfile {
        username: username.map(str::to_string),
        first_name: first.map(str::to_string),
        last_name: last.map(str::to_string),
        ..profile(n)
    }
}

async fn search_is_case_insensitive_and_literal(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let people = [
        person(1, Some("AliceTrader"), Some("Alice"), Some("Smith")),
        person(2, None, Some("Bob"), Some("ALICEson")),
        person(3, Some("carol_100"), Some("Carol"), None),
        person(4, Some("carolX100"), Some("Caro%l"), None),
        person(5, Some("dave"), Some("Dave"), Some("Back\\slash")),
        person(6, None, None, None),
        person(7, Some("ivanp"), Some("Иван"), Some("Петров")),
    ];
    let mut users = Vec::new();
    for p in &people {
        users.push(store.register_user(p, now).await?.user);
    }
    let search = |text: &str| UserFilter {
        search: Some(text.into()),
        ..UserFilter::default()
    };
    let found = |picked: &[usize]| -> Vec<Uuid> { picked.iter().map(|&i| users[i].id).collect() };
    ensure!(page(&store, &search("alice"), None, 10).await? == found(&[0, 1]));
    ensure!(page(&store, &search("ALICE"), None, 10).await? == found(&[0, 1]));
    ensure!(
        page(&store, &search("aLiCeT"), None, 10).await? == found(&[0]),
        "username"
    );
    ensure!(
        page(&store, &search("smith"), None, 10).await? == found(&[0]),
        "last name"
    );
    ensure!(
        page(&store, &search("bob"), None, 10).await? == found(&[1]),
        "first name"
    );
    ensure!(page(&store, &search("carol"), None, 10).await? == found(&[2, 3]));
    ensure!(
        page(&store, &search("l_1"), None, 10).await? == found(&[2]),
        "`_` is itself, not any character"
    );
    ensure!(page(&store, &search("_"), None, 10).await? == found(&[2]));
    ensure!(
        page(&store, &search("o%l"), None, 10).await? == found(&[3]),
        "`%` is itself, not any run"
    );
    ensure!(page(&store, &search("%"), None, 10).await? == found(&[3]));
    ensure!(
        page(&store, &search("\\"), None, 10).await? == found(&[4]),
        "a backslash"
    );
    ensure!(page(&store, &search("k\\s"), None, 10).await? == found(&[4]));
    ensure!(page(&store, &search("zzz"), None, 10).await?.is_empty());
    // Names in other scripts are found at least as written, whatever the database folds.
    ensure!(
        page(&store, &search("Иван"), None, 10).await? == found(&[6]),
        "as written"
    );
    ensure!(page(&store, &search("Петр"), None, 10).await? == found(&[6]));
    ensure!(page(&store, &search("ван"), None, 10).await? == found(&[6]));
    ensure!(
        page(&store, &search(""), None, 10).await? == found(&[0, 1, 2, 3, 4, 5, 6]),
        "an empty search is none"
    );
    // Search pages like any filter.
    ensure!(page(&store, &search("carol"), Some(users[2].id), 10).await? == found(&[3]));
    ensure!(page(&store, &search("a"), None, 2).await? == found(&[0, 1]));
    Ok(())
}

/// Stores `kind` received at `at` and records a delivery for each of `to`, created at `at`.
async fn delivered(
    store: &Store,
    kind: SignalKind,
    at: DateTime<Utc>,
    to: &[&User],
) -> anyhow::Result<QueuedSignal> {
    let s = signal(kind, 80, at);
    let deadline = at + Duration::hours(1);
    store.insert_signal(&s, at, deadline).await?;
    let q = QueuedSignal::new(&s, Some(deadline));
    let recipients: Vec<Recipient> = to
        .iter()
        .map(|u| Recipient::new(u.id, u.chat_id, SignalFormat::Detailed))
        .collect();
    store
        .record_fanout_page(&q, &recipients, None, true, at)
        .await?;
    Ok(q)
}

/// `user`'s delivery of `signal`.
async fn delivery_of(
    store: &Store,
    signal: herald_domain::SignalId,
    user: Uuid,
) -> anyhow::Result<herald_store::Delivery> {
    store
        .deliveries_for_signal(signal)
        .await?
        .into_iter()
        .find(|d| d.user_id == Some(user))
        .context("a delivery")
}

async fn user_detail_counts_their_deliveries(store: Store) -> anyhow::Result<()> {
    let now = noon();
    ensure!(
        store.user_detail(Uuid::now_v7(), now).await?.is_none(),
        "unknown"
    );

    let user = subscriber(&store, 1, now - Duration::hours(1)).await?;
    let other = subscriber(&store, 2, now - Duration::hours(1)).await?;
    let detail = store.user_detail(user.id, now).await?.context("user")?;
    ensure!(detail.summary.user == user);
    ensure!(detail.summary.subscription == store.subscription(user.id, now).await?);
    ensure!(
        detail
            .summary
            .subscription
            .as_ref()
            .is_some_and(|s| s.current)
    );
    ensure!(detail.preferences == store.preferences_versioned(user.id).await?);
    ensure!(detail.deliveries == DeliveryCounts::default() && detail.last_delivery.is_none());

    let first = delivered(
        &store,
        SignalKind::Buy,
        now - Duration::minutes(30),
        &[&user, &other],
    )
    .await?;
    let second = delivered(
        &store,
        SignalKind::Sell,
        now - Duration::minutes(20),
        &[&user, &other],
    )
    .await?;
    let third = delivered(
        &store,
        SignalKind::Alert,
        now - Duration::minutes(10),
        &[&other],
    )
    .await?;
    let mine = |signal: &QueuedSignal| delivery_of(&store, signal.id, user.id);
    let sent_at = now - Duration::minutes(29);
    store
        .record_sent(mine(&first).await?.id, 77, sent_at)
        .await?;
    let failed = mine(&second).await?;
    store
        .record_final(
            failed.id,
            DeliveryStatus::Failed,
            Some("chat not found"),
            now,
        )
        .await?;

    let detail = store.user_detail(user.id, now).await?.context("user")?;
    ensure!(
        detail.deliveries
            == DeliveryCounts {
                sent: 1,
                failed: 1,
                ..DeliveryCounts::default()
            },
        "only theirs: {:?}",
        detail.deliveries
    );
    let last = detail.last_delivery.context("a last delivery")?;
    ensure!(
        last.id == failed.id && last.signal_id == second.id.0,
        "{last:?}"
    );
    ensure!(last.status == DeliveryStatus::Failed && last.delivered_at.is_none());
    ensure!(last.created_at == now - Duration::minutes(20));

    let detail = store.user_detail(other.id, now).await?.context("other")?;
    ensure!(detail.deliveries.pending == 3 && detail.deliveries.total() == 3);
    let last = detail.last_delivery.context("a last delivery")?;
    ensure!(last.signal_id == third.id.0 && last.status == DeliveryStatus::Pending);

    // The newest delivery is the last, whatever became of it.
    let fourth = delivered(
        &store,
        SignalKind::Close,
        now - Duration::minutes(5),
        &[&user],
    )
    .await?;
    let d = mine(&fourth).await?;
    store.record_sent(d.id, 78, now).await?;
    let last = store
        .user_detail(user.id, now)
        .await?
        .and_then(|d| d.last_delivery)
        .context("a last delivery")?;
    ensure!(last.id == d.id && last.status == DeliveryStatus::Sent);
    ensure!(last.delivered_at == Some(now));
    Ok(())
}
