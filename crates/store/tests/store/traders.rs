//! What traders choose from chat, stored and honoured: tiers (what they carry, their delay
//! and expiry), hours in the trader's zone across a daylight-saving change, the "read"
//! button, `/signals`, languages from Telegram, and a blocked trader's paused subscription.

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use herald_domain::{
    DeliveryStatus, HoursVerdict, Language, NotificationHours, OutsideHours, Preferences,
    SignalFormat, SignalKind, Tier,
};
use herald_store::{QueuedSignal, ReadMark, Store, StoreError, TelegramProfile};

use crate::common::{noon, on_both_backends, profile, signal, subscriber};

on_both_backends!(
    tiers_are_listed_created_and_defaulted,
    a_tier_shapes_the_fan_out_and_delays_its_traders,
    a_tiers_expiry_bounds_the_subscription,
    hours_follow_the_traders_zone_across_daylight_saving,
    reading_is_marked_for_the_trader_only,
    recent_signals_are_those_the_tier_carries,
    language_comes_from_telegram_and_blocking_pauses_the_subscription,
    what_is_queued_follows_unsubscribing_blocking_and_tier_changes,
    a_change_applies_only_to_the_preferences_it_was_made_from,
);

/// Stores `s` (due within the hour) and records a delivery for each of its recipients, as
/// the dispatcher's fan-out does.
async fn fan_out(
    store: &Store,
    s: &herald_domain::Signal,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let deadline = now + Duration::hours(1);
    store.insert_signal(s, now, deadline).await?;
    let recipients = store.recipients(s, now).await?;
    store
        .record_fanout_page(
            &QueuedSignal::new(s, Some(deadline)),
            &recipients,
            None,
            true,
            now,
        )
        .await?;
    Ok(())
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

async fn tiers_are_listed_created_and_defaulted(store: Store) -> anyhow::Result<()> {
    let tiers = store.list_tiers().await?;
    ensure!(tiers.len() == 1 && tiers[0].is_default, "{tiers:?}");
    ensure!(tiers[0].tier == Tier::standard(), "{tiers:?}");

    let vip = Tier {
        name: "vip".into(),
        min_confidence: 60,
        expiry: Some(Duration::days(30)),
        ..Tier::standard()
    };
    store.upsert_tier(&vip, true, noon()).await?;
    let tiers = store.tiers().await?;
    ensure!(tiers.default_tier().name == "vip");
    ensure!(tiers.get(Some("standard")).name == "standard");
    ensure!(
        tiers.get(Some("gone")).name == "vip",
        "an unknown tier falls back to the default"
    );
    let listed = store.list_tiers().await?;
    ensure!(listed.iter().filter(|r| r.is_default).count() == 1);

    let bad = Tier {
        name: "Not Valid".into(),
        ..Tier::standard()
    };
    ensure!(matches!(
        store.upsert_tier(&bad, false, noon()).await,
        Err(StoreError::Invalid(_))
    ));
    let user = store.register_user(&profile(1), noon()).await?.user;
    ensure!(matches!(
        store.set_tier(user.id, "nope", noon()).await,
        Err(StoreError::Invalid(_))
    ));
    ensure!(matches!(
        store.set_tier(uuid::Uuid::now_v7(), "vip", noon()).await,
        Err(StoreError::UnknownUser(_))
    ));
    // A trader given a tier before subscribing is on it once they do.
    store.set_tier(user.id, "standard", noon()).await?;
    ensure!(!store.is_subscribed(user.id, noon()).await?);
    store.subscribe(user.id, noon()).await?;
    ensure!(store.user_tier(user.id).await?.name == "standard");
    Ok(())
}

async fn a_tier_shapes_the_fan_out_and_delays_its_traders(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let delayed = Tier {
        name: "delayed".into(),
        delay: Duration::minutes(10),
        ..Tier::standard()
    };
    let sellers = Tier {
        name: "sellers".into(),
        kinds: [SignalKind::Sell].into(),
        ..Tier::standard()
    };
    store.upsert_tier(&delayed, false, now).await?;
    store.upsert_tier(&sellers, false, now).await?;
    let prompt = subscriber(&store, 1, now).await?;
    let late = subscriber(&store, 2, now).await?;
    let seller = subscriber(&store, 3, now).await?;
    store.set_tier(late.id, "delayed", now).await?;
    store.set_tier(seller.id, "sellers", now).await?;

    let buy = signal(SignalKind::Buy, 80, now);
    let got = store.recipients(&buy, now).await?;
    ensure!(got.len() == 2, "{got:?}");
    ensure!(
        !got.iter().any(|r| r.user_id == seller.id),
        "the tier excludes buys"
    );
    let late_recipient = got.iter().find(|r| r.user_id == late.id).unwrap();
    ensure!(late_recipient.not_before == Some(now + Duration::minutes(10)));

    let deadline = now + Duration::hours(1);
    store.insert_signal(&buy, now, deadline).await?;
    store
        .record_fanout_page(
            &QueuedSignal::new(&buy, Some(deadline)),
            &got,
            None,
            true,
            now,
        )
        .await?;
    let d = store.deliveries_for_signal(buy.id).await?;
    let late_delivery = d.iter().find(|d| d.user_id == Some(late.id)).unwrap();
    ensure!(late_delivery.next_attempt_at == Some(now + Duration::minutes(10)));
    ensure!(
        late_delivery.deadline == Some(deadline + Duration::minutes(10)),
        "the deadline moves with the delay"
    );
    // Only the prompt trader's delivery is due now; the late one ten minutes on.
    let claimed = store
        .claim_deliveries(10, now, Duration::seconds(30), Duration::zero())
        .await?;
    ensure!(
        claimed.len() == 1 && claimed[0].user_id == Some(prompt.id),
        "{claimed:?}"
    );
    let claimed = store
        .claim_deliveries(
            10,
            now + Duration::minutes(10),
            Duration::seconds(30),
            Duration::zero(),
        )
        .await?;
    ensure!(
        claimed.len() == 1 && claimed[0].user_id == Some(late.id),
        "{claimed:?}"
    );
    Ok(())
}

async fn a_tiers_expiry_bounds_the_subscription(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let monthly = Tier {
        name: "monthly".into(),
        expiry: Some(Duration::days(30)),
        ..Tier::standard()
    };
    store.upsert_tier(&monthly, false, now).await?;
    let user = store.register_user(&profile(1), now).await?.user;
    store.set_tier(user.id, "monthly", now).await?;
    store.subscribe(user.id, now).await?;
    let sub = store.subscription(user.id, now).await?.expect("subscribed");
    ensure!(sub.current && sub.expires_at == Some(now + Duration::days(30)));
    ensure!(sub.tier.as_deref() == Some("monthly"));
    ensure!(
        !store
            .is_subscribed(user.id, now + Duration::days(31))
            .await?
    );
    Ok(())
}

async fn hours_follow_the_traders_zone_across_daylight_saving(store: Store) -> anyhow::Result<()> {
    let joined = at("2026-03-01T00:00:00Z");
    let new_york = subscriber(&store, 1, joined).await?;
    store
        .set_preferences(
            new_york.id,
            &Preferences {
                notification_hours: Some(NotificationHours::new(8, 22).unwrap()),
                time_zone: "America/New_York".parse().map_err(anyhow::Error::msg)?,
                outside_hours: OutsideHours::Skip,
                ..Preferences::default()
            },
            joined,
        )
        .await?;
    let night_owl = subscriber(&store, 2, joined).await?;
    store
        .set_preferences(
            night_owl.id,
            &Preferences {
                notification_hours: Some(NotificationHours::new(22, 6).unwrap()),
                time_zone: "Europe/Madrid".parse().map_err(anyhow::Error::msg)?,
                ..Preferences::default()
            },
            joined,
        )
        .await?;
    let decide = |when: &'static str| {
        let store = store.clone();
        async move {
            let t = at(when);
            store.recipients(&signal(SignalKind::Buy, 80, t), t).await
        }
    };
    // The hours go with the delivery and are judged when it goes out. 12:30 UTC: 07:30 in
    // New York on the Saturday before the clocks go forward (skipped), 08:30 on the Monday
    // after (sent).
    let verdict = |got: &[herald_store::Recipient], user: uuid::Uuid, t: &str| {
        got.iter()
            .find(|r| r.user_id == user)
            .and_then(|r| r.hours)
            .map(|h| h.at(at(t)))
    };
    let saturday = decide("2026-03-07T12:30:00Z").await?;
    ensure!(verdict(&saturday, new_york.id, "2026-03-07T12:30:00Z") == Some(HoursVerdict::Skip));
    let monday = decide("2026-03-09T12:30:00Z").await?;
    ensure!(verdict(&monday, new_york.id, "2026-03-09T12:30:00Z") == Some(HoursVerdict::Inside));
    // Madrid, 22-06 across midnight: 21:30 UTC is 22:30 local in winter (inside), and
    // 05:30 UTC is 07:30 local in summer (outside: silent, the default).
    let winter = decide("2026-03-01T21:30:00Z").await?;
    ensure!(verdict(&winter, night_owl.id, "2026-03-01T21:30:00Z") == Some(HoursVerdict::Inside));
    let summer = decide("2026-07-01T05:30:00Z").await?;
    ensure!(verdict(&summer, night_owl.id, "2026-07-01T05:30:00Z") == Some(HoursVerdict::Silent));
    // A signal that arrives inside the hours but goes out after them (a long broadcast, a
    // tier's delay) is judged when it goes out: New York's 21:59 is inside, 22:40 is not.
    let arrived = decide("2026-03-10T01:59:00Z").await?;
    ensure!(verdict(&arrived, new_york.id, "2026-03-10T01:59:00Z") == Some(HoursVerdict::Inside));
    ensure!(verdict(&arrived, new_york.id, "2026-03-10T02:40:00Z") == Some(HoursVerdict::Skip));
    Ok(())
}

async fn reading_is_marked_for_the_trader_only(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let mine = subscriber(&store, 1, now).await?;
    let theirs = subscriber(&store, 2, now).await?;
    let s = signal(SignalKind::Alert, 70, now);
    fan_out(&store, &s, now).await?;
    let d = store.deliveries_for_signal(s.id).await?;
    let my_delivery = d.iter().find(|d| d.user_id == Some(mine.id)).unwrap().id;
    ensure!(store.mark_read(my_delivery, theirs.id, now).await? == ReadMark::NotFound);
    ensure!(store.mark_read(my_delivery, mine.id, now).await? == ReadMark::Marked);
    ensure!(store.mark_read(my_delivery, mine.id, now).await? == ReadMark::AlreadyRead);
    ensure!(store.delivery(my_delivery).await?.unwrap().read_at == Some(now));
    ensure!(store.mark_read(uuid::Uuid::now_v7(), mine.id, now).await? == ReadMark::NotFound);
    Ok(())
}

async fn recent_signals_are_those_the_tier_carries(store: Store) -> anyhow::Result<()> {
    let now = noon();
    for (n, kind, confidence) in [
        (0, SignalKind::Buy, 80),
        (1, SignalKind::Alert, 90),
        (2, SignalKind::Buy, 60),
        (3, SignalKind::Sell, 85),
    ] {
        let t = now - Duration::minutes(10 - n);
        store
            .insert_signal(&signal(kind, confidence, t), t, t + Duration::hours(1))
            .await?;
    }
    let all = store.recent_signals(&Tier::standard(), 20, now).await?;
    ensure!(
        all.len() == 4 && all[0].kind == SignalKind::Sell,
        "newest first"
    );
    let two = store.recent_signals(&Tier::standard(), 2, now).await?;
    ensure!(two.len() == 2);
    let buys = Tier {
        kinds: [SignalKind::Buy].into(),
        min_confidence: 70,
        ..Tier::standard()
    };
    let got = store.recent_signals(&buys, 20, now).await?;
    ensure!(got.len() == 1 && got[0].confidence.get() == 80, "{got:?}");
    // A delayed tier sees only what it could have received.
    let delayed = Tier {
        delay: Duration::minutes(8),
        ..Tier::standard()
    };
    ensure!(store.recent_signals(&delayed, 20, now).await?.len() == 3);
    ensure!(store.last_signal_at().await? == Some(now - Duration::minutes(7)));
    Ok(())
}

async fn language_comes_from_telegram_and_blocking_pauses_the_subscription(
    store: Store,
) -> anyhow::Result<()> {
    let now = noon();
    let spanish = TelegramProfile {
        language_code: Some("es-419".into()),
        ..profile(1)
    };
    let registered = store.register_user(&spanish, now).await?;
    ensure!(registered.created && !registered.returned);
    let user = registered.user;
    ensure!(user.language_code.as_deref() == Some("es-419"));
    ensure!(store.preferences(user.id).await?.language == Language::Es);
    // A later change of Telegram's language does not override the trader's own choice.
    let english = TelegramProfile {
        language_code: Some("en".into()),
        ..profile(1)
    };
    store.register_user(&english, now).await?;
    ensure!(store.preferences(user.id).await?.language == Language::Es);
    ensure!(store.preferences(user.id).await?.format == SignalFormat::Detailed);

    store.subscribe(user.id, now).await?;
    store.deactivate_user(user.id, now).await?;
    ensure!(!store.is_subscribed(user.id, now).await?, "paused");
    let back = store.register_user(&english, now).await?;
    ensure!(back.returned && back.user.is_active);
    ensure!(
        !store.is_subscribed(user.id, now).await?,
        "until /subscribe"
    );
    let again = store.register_user(&english, now).await?;
    ensure!(!again.returned);
    // The bot's one read: the same trader, their preferences and version.
    let (registration, prefs, version) = store.register_trader(&english, now).await?;
    ensure!(registration.user.id == user.id && !registration.created);
    ensure!(prefs.language == Language::Es && version >= 1);
    // A new trader through it: registered, in Telegram's language.
    let (new, prefs, _) = store.register_trader(&spanish_two(), now).await?;
    ensure!(new.created && prefs.language == Language::Es);
    Ok(())
}

async fn what_is_queued_follows_unsubscribing_blocking_and_tier_changes(
    store: Store,
) -> anyhow::Result<()> {
    let now = noon();
    let slow = Tier {
        name: "slow".into(),
        delay: Duration::hours(6),
        ..Tier::standard()
    };
    store.upsert_tier(&slow, false, now).await?;
    let leaver = subscriber(&store, 1, now).await?;
    let blocker = subscriber(&store, 2, now).await?;
    let upgraded = subscriber(&store, 3, now).await?;
    let cut = subscriber(&store, 4, now).await?;
    for u in [&leaver, &blocker, &upgraded, &cut] {
        store.set_tier(u.id, "slow", now).await?;
    }
    let s = signal(SignalKind::Buy, 80, now);
    fan_out(&store, &s, now).await?;
    let status_of = |user: uuid::Uuid| {
        let store = store.clone();
        async move {
            let d = store.deliveries_for_signal(s.id).await?;
            anyhow::Ok(d.into_iter().find(|d| d.user_id == Some(user)).unwrap())
        }
    };
    // "No more signals" holds for what was queued too.
    store.unsubscribe(leaver.id, now).await?;
    ensure!(status_of(leaver.id).await?.status == DeliveryStatus::Skipped);
    store.deactivate_user(blocker.id, now).await?;
    ensure!(status_of(blocker.id).await?.status == DeliveryStatus::Blocked);
    // A move to a prompt tier brings the queued message forward to now.
    let later = now + Duration::minutes(1);
    store.set_tier(upgraded.id, "standard", later).await?;
    ensure!(status_of(upgraded.id).await?.next_attempt_at == Some(later));
    // A cut delay brings its traders' messages forward to the new delay.
    let cheaper = Tier {
        delay: Duration::minutes(5),
        ..slow.clone()
    };
    store.upsert_tier(&cheaper, false, later).await?;
    ensure!(
        status_of(cut.id).await?.next_attempt_at == Some(later + Duration::minutes(5)),
        "{:?}",
        status_of(cut.id).await?
    );
    Ok(())
}

async fn a_change_applies_only_to_the_preferences_it_was_made_from(
    store: Store,
) -> anyhow::Result<()> {
    let user = store.register_user(&profile(1), noon()).await?.user;
    let (prefs, version) = store.preferences_versioned(user.id).await?;
    let first = Preferences {
        min_confidence: 70,
        ..prefs.clone()
    };
    let second = Preferences {
        format: SignalFormat::Compact,
        ..prefs.clone()
    };
    ensure!(
        store
            .update_preferences(user.id, version, &first, noon())
            .await?
    );
    // Made from the same version: refused, nothing changed.
    ensure!(
        !store
            .update_preferences(user.id, version, &second, noon())
            .await?
    );
    let (now_stored, new_version) = store.preferences_versioned(user.id).await?;
    ensure!(now_stored == first && new_version == version + 1);
    // set_preferences raises the version too.
    store.set_preferences(user.id, &second, noon()).await?;
    ensure!(
        !store
            .update_preferences(user.id, new_version, &first, noon())
            .await?
    );
    ensure!(store.preferences(user.id).await? == second);
    Ok(())
}

fn spanish_two() -> TelegramProfile {
    TelegramProfile {
        language_code: Some("es".into()),
        ..profile(2)
    }
}
