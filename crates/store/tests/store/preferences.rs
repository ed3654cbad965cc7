//! Preferences round trip and defaults.

use anyhow::ensure;
use herald_domain::{
    Asset, Language, NotificationHours, NotifyMode, OutsideHours, Preferences, ReportFrequency,
    SignalFormat, SignalKind, TimeZone,
};
use herald_store::entity::user_preferences;
use herald_store::{Store, StoreError};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    preferences_round_trip,
    missing_row_means_defaults,
    preferences_for_unknown_user_fail,
);

async fn preferences_round_trip(store: Store) -> anyhow::Result<()> {
    let user = store.register_user(&profile(1), noon()).await?.user;
    ensure!(store.preferences(user.id).await? == Preferences::default());
    let mut chosen = Preferences {
        min_confidence: 75,
        notification_hours: Some(NotificationHours::new(22, 6).unwrap()),
        format: SignalFormat::Compact,
        assets: [
            Asset::parse("BTC/USD").unwrap(),
            Asset::parse("eth/usd").unwrap(),
        ]
        .into(),
        time_zone: "America/New_York"
            .parse::<TimeZone>()
            .map_err(anyhow::Error::msg)?,
        outside_hours: OutsideHours::Skip,
        language: Language::Es,
        reports: ReportFrequency::Daily,
        reports_silent: true,
        ..Preferences::with_kinds([SignalKind::Buy, SignalKind::Alert])
    };
    chosen.modes.insert(SignalKind::Alert, NotifyMode::Silent);
    let later = noon() + chrono::Duration::minutes(3);
    store.set_preferences(user.id, &chosen, later).await?;
    ensure!(store.preferences(user.id).await? == chosen);

    let row = user_preferences::Entity::find_by_id(user.id)
        .one(store.connection())
        .await?
        .expect("row");
    ensure!(row.signal_types == serde_json::json!(["buy", "alert"]));
    ensure!(row.silent_types == serde_json::json!(["alert", "report"]));
    ensure!(row.assets == serde_json::json!(["BTC/USD", "ETH/USD"]));
    ensure!(row.time_zone == "America/New_York" && row.outside_hours == "skip");
    ensure!(row.language == "es");
    ensure!(row.confidence_threshold == 75);
    ensure!(row.notification_hours_start == Some(22) && row.notification_hours_end == Some(6));
    ensure!(row.signal_format == "compact" && row.updated_at == later);
    ensure!(row.performance_update_frequency == "daily");

    // Back to "any time", and an empty set of kinds survives the trip too.
    let quiet = Preferences {
        notification_hours: None,
        ..Preferences::with_kinds([])
    };
    store.set_preferences(user.id, &quiet, later).await?;
    ensure!(store.preferences(user.id).await? == quiet);
    Ok(())
}

async fn missing_row_means_defaults(store: Store) -> anyhow::Result<()> {
    let user = store.register_user(&profile(2), noon()).await?.user;
    user_preferences::Entity::delete_by_id(user.id)
        .exec(store.connection())
        .await?;
    ensure!(store.preferences(user.id).await? == Preferences::default());
    // set_preferences creates the row when it is missing.
    let compact = Preferences {
        format: SignalFormat::Compact,
        ..Preferences::default()
    };
    store.set_preferences(user.id, &compact, noon()).await?;
    ensure!(store.preferences(user.id).await? == compact);
    Ok(())
}

async fn preferences_for_unknown_user_fail(store: Store) -> anyhow::Result<()> {
    let missing = Uuid::now_v7();
    match store
        .set_preferences(missing, &Preferences::default(), noon())
        .await
    {
        Err(StoreError::UnknownUser(id)) if id == missing => Ok(()),
        other => anyhow::bail!("expected UnknownUser, got {other:?}"),
    }
}
