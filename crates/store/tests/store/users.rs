//! Registration (`/start`), lookup and deactivation.

use anyhow::ensure;
use herald_store::entity::user_preferences;
use herald_store::{Store, StoreError, TelegramProfile};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    registration_creates_then_refreshes,
    returning_user_is_active_again,
    concurrent_start_registers_once,
    deactivating_unknown_user_fails,
);

async fn registration_creates_then_refreshes(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let first = store.register_user(&profile(1), now).await?;
    ensure!(first.created, "first /start creates the user");
    let user = &first.user;
    ensure!(user.is_active && !user.is_admin);
    ensure!(user.telegram_id == 1_000_001 && user.chat_id == 2_000_001);
    ensure!(user.username.as_deref() == Some("trader1"));
    ensure!(user.created_at == now);
    let prefs_row = user_preferences::Entity::find_by_id(user.id)
        .one(store.connection())
        .await?;
    ensure!(prefs_row.is_some(), "a default preferences row is created");
    ensure!(prefs_row.unwrap().performance_update_frequency == "weekly");

    let renamed = TelegramProfile {
        chat_id: 3_000_001,
        username: None,
        first_name: Some("Renamed".into()),
        last_name: Some("Trader".into()),
        ..profile(1)
    };
    let later = now + chrono::Duration::days(1);
    let second = store.register_user(&renamed, later).await?;
    ensure!(!second.created, "a returning user is not created again");
    ensure!(second.user.id == user.id);
    ensure!(second.user.chat_id == 3_000_001);
    ensure!(second.user.username.is_none());
    ensure!(second.user.first_name.as_deref() == Some("Renamed"));
    ensure!(second.user.last_name.as_deref() == Some("Trader"));
    ensure!(second.user.created_at == now, "created_at is kept");

    let found = store.user_by_telegram_id(1_000_001).await?;
    ensure!(found.as_ref() == Some(&second.user));
    ensure!(store.user(user.id).await?.as_ref() == Some(&second.user));
    ensure!(store.user_by_telegram_id(42).await?.is_none());
    Ok(())
}

async fn returning_user_is_active_again(store: Store) -> anyhow::Result<()> {
    let user = store.register_user(&profile(2), noon()).await?.user;
    store.deactivate_user(user.id, noon()).await?;
    store.deactivate_user(user.id, noon()).await?; // twice is fine
    let stored = store.user_by_telegram_id(user.telegram_id).await?.unwrap();
    ensure!(!stored.is_active, "deactivated");
    let again = store.register_user(&profile(2), noon()).await?;
    ensure!(
        !again.created && again.user.is_active,
        "active again after /start"
    );
    Ok(())
}

async fn concurrent_start_registers_once(store: Store) -> anyhow::Result<()> {
    let starts = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.register_user(&profile(3), noon()).await })
    });
    let results = futures::future::join_all(starts).await;
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for result in results {
        let registration = result??;
        created += usize::from(registration.created);
        ids.insert(registration.user.id);
    }
    ensure!(
        created == 1,
        "exactly one /start creates the user, got {created}"
    );
    ensure!(ids.len() == 1, "every /start sees the same user");
    Ok(())
}

async fn deactivating_unknown_user_fails(store: Store) -> anyhow::Result<()> {
    let missing = Uuid::now_v7();
    match store.deactivate_user(missing, noon()).await {
        Err(StoreError::UnknownUser(id)) if id == missing => Ok(()),
        other => anyhow::bail!("expected UnknownUser, got {other:?}"),
    }
}
