//! Fan-out: who receives a signal.

use anyhow::ensure;
use chrono::Duration;
use herald_domain::{
    HoursVerdict, NotificationHours, OutsideHours, Preferences, SignalFormat, SignalKind,
};
use herald_store::entity::{user_preferences, user_subscriptions};
use herald_store::{Recipient, Store};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::common::{ids, noon, on_both_backends, profile, signal, subscriber};

on_both_backends!(recipient_selection, each_user_once);

async fn recipient_selection(store: Store) -> anyhow::Result<()> {
    let now = noon(); // 12:00 UTC
    let everyone = subscriber(&store, 1, now).await?;

    let inactive = subscriber(&store, 2, now).await?;
    store.deactivate_user(inactive.id, now).await?;

    let unsubscribed = subscriber(&store, 3, now).await?;
    store.unsubscribe(unsubscribed.id, now).await?;

    let never_subscribed = store.register_user(&profile(4), now).await?.user;

    let expired = subscriber(&store, 5, now).await?;
    user_subscriptions::Entity::update_many()
        .col_expr(
            user_subscriptions::Column::ExpiresAt,
            Expr::value(Some(now - Duration::seconds(1))),
        )
        .filter(user_subscriptions::Column::UserId.eq(expired.id))
        .exec(store.connection())
        .await?;

    let not_yet_expired = subscriber(&store, 6, now).await?;
    user_subscriptions::Entity::update_many()
        .col_expr(
            user_subscriptions::Column::ExpiresAt,
            Expr::value(Some(now + Duration::days(1))),
        )
        .filter(user_subscriptions::Column::UserId.eq(not_yet_expired.id))
        .exec(store.connection())
        .await?;

    let sells_only = subscriber(&store, 7, now).await?;
    let prefs = |f: fn(&mut Preferences)| {
        let mut p = Preferences::default();
        f(&mut p);
        p
    };
    store
        .set_preferences(
            sells_only.id,
            &prefs(|p| p.set_kinds(&[SignalKind::Sell].into())),
            now,
        )
        .await?;

    let picky = subscriber(&store, 8, now).await?;
    store
        .set_preferences(picky.id, &prefs(|p| p.min_confidence = 90), now)
        .await?;

    let exactly_threshold = subscriber(&store, 9, now).await?;
    store
        .set_preferences(exactly_threshold.id, &prefs(|p| p.min_confidence = 80), now)
        .await?;

    let night_owl = subscriber(&store, 10, now).await?;
    store
        .set_preferences(
            night_owl.id,
            &prefs(|p| {
                p.notification_hours = Some(NotificationHours::new(22, 6).unwrap());
                p.outside_hours = OutsideHours::Skip;
            }),
            now,
        )
        .await?;

    let office_hours = subscriber(&store, 11, now).await?;
    store
        .set_preferences(
            office_hours.id,
            &prefs(|p| {
                p.notification_hours = Some(NotificationHours::new(9, 17).unwrap());
                p.format = SignalFormat::Compact;
            }),
            now,
        )
        .await?;

    let no_prefs_row = subscriber(&store, 12, now).await?;
    user_preferences::Entity::delete_by_id(no_prefs_row.id)
        .exec(store.connection())
        .await?;

    let buy = signal(SignalKind::Buy, 80, now);
    let got = store.recipients(&buy, now).await?;
    let mut want = vec![
        everyone.id,
        not_yet_expired.id,
        exactly_threshold.id,
        office_hours.id,
        no_prefs_row.id,
        night_owl.id,
    ];
    want.sort();
    ensure!(ids(&got) == want, "got {:?}, want {want:?}", ids(&got));
    for (left_out, why) in [
        (&inactive, "inactive user"),
        (&unsubscribed, "unsubscribed"),
        (&never_subscribed, "never subscribed"),
        (&expired, "expired subscription"),
        (&sells_only, "kind not wanted"),
        (&picky, "below confidence"),
    ] {
        ensure!(
            !got.iter().any(|r| r.user_id == left_out.id),
            "{why} left out"
        );
    }

    let office = got.iter().find(|r| r.user_id == office_hours.id).unwrap();
    ensure!(
        *office
            == Recipient {
                hours: Some("09-17 UTC silent".parse().map_err(anyhow::Error::msg)?),
                ..Recipient::new(office_hours.id, office_hours.chat_id, SignalFormat::Compact)
            }
    );
    // Their hours go with the delivery, to be checked when it goes out: at noon, the
    // night owl's is skipped.
    let owl = got.iter().find(|r| r.user_id == night_owl.id).unwrap();
    ensure!(
        owl.hours.map(|h| h.at(now)) == Some(HoursVerdict::Skip) && !owl.silent,
        "{owl:?}"
    );
    let defaults = got.iter().find(|r| r.user_id == no_prefs_row.id).unwrap();
    ensure!(
        defaults.format == SignalFormat::Detailed,
        "no row → defaults"
    );

    let night = now + Duration::hours(11);
    let got = store
        .recipients(&signal(SignalKind::Buy, 80, night), night)
        .await?;
    // At 23:00 the night owl gets it with a sound; office hours get it silently (their
    // choice outside hours is the default, silent).
    let owl = got.iter().find(|r| r.user_id == night_owl.id).unwrap();
    ensure!(owl.hours.map(|h| h.at(night)) == Some(HoursVerdict::Inside));
    let office = got.iter().find(|r| r.user_id == office_hours.id).unwrap();
    ensure!(office.hours.map(|h| h.at(night)) == Some(HoursVerdict::Silent));

    // A sell reaches the sells-only trader; low confidence reaches only threshold-0 users.
    let sell = store
        .recipients(&signal(SignalKind::Sell, 95, now), now)
        .await?;
    ensure!(sell.iter().any(|r| r.user_id == sells_only.id));
    ensure!(sell.iter().any(|r| r.user_id == picky.id));
    let weak = store
        .recipients(&signal(SignalKind::Alert, 10, now), now)
        .await?;
    let mut want = vec![
        everyone.id,
        not_yet_expired.id,
        office_hours.id,
        no_prefs_row.id,
        night_owl.id,
    ];
    want.sort();
    ensure!(ids(&weak) == want, "weak alert: got {:?}", ids(&weak));
    Ok(())
}

async fn each_user_once(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mut want = Vec::new();
    for n in 0..25 {
        want.push(subscriber(&store, n, now).await?.id);
        // Extra calls must not duplicate anything.
        store.subscribe(want[want.len() - 1], now).await?;
    }
    want.sort();
    let got = store
        .recipients(&signal(SignalKind::Buy, 50, now), now)
        .await?;
    ensure!(got.len() == 25, "each user once, got {}", got.len());
    ensure!(ids(&got) == want);
    Ok(())
}
