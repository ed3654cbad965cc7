//! `/subscribe` and `/unsubscribe` transitions.

use anyhow::ensure;
use chrono::Duration;
use herald_store::entity::user_subscriptions;
use herald_store::{Store, StoreError, SubscriptionChange::*};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    subscribe_unsubscribe_transitions,
    expired_subscription_is_renewed,
    subscribing_unknown_user_fails,
);

async fn subscribe_unsubscribe_transitions(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let user = store.register_user(&profile(1), now).await?.user;
    ensure!(
        !store.is_subscribed(user.id, now).await?,
        "not subscribed at first"
    );
    ensure!(store.unsubscribe(user.id, now).await? == AlreadyInactive);
    ensure!(store.subscribe(user.id, now).await? == Activated);
    ensure!(store.is_subscribed(user.id, now).await?);
    ensure!(store.subscribe(user.id, now).await? == AlreadyActive);
    ensure!(store.unsubscribe(user.id, now).await? == Deactivated);
    ensure!(!store.is_subscribed(user.id, now).await?);
    ensure!(store.unsubscribe(user.id, now).await? == AlreadyInactive);
    let later = now + Duration::hours(1);
    ensure!(
        store.subscribe(user.id, later).await? == Activated,
        "reactivated"
    );
    ensure!(store.is_subscribed(user.id, later).await?);

    let rows = user_subscriptions::Entity::find()
        .filter(user_subscriptions::Column::UserId.eq(user.id))
        .all(store.connection())
        .await?;
    ensure!(rows.len() == 1, "one row per user and type, reused");
    ensure!(rows[0].subscription_type == "signals");
    ensure!(rows[0].started_at == later && rows[0].expires_at.is_none());
    Ok(())
}

async fn expired_subscription_is_renewed(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let user = store.register_user(&profile(2), now).await?.user;
    store.subscribe(user.id, now).await?;
    user_subscriptions::Entity::update_many()
        .col_expr(
            user_subscriptions::Column::ExpiresAt,
            Expr::value(Some(now + Duration::minutes(5))),
        )
        .filter(user_subscriptions::Column::UserId.eq(user.id))
        .exec(store.connection())
        .await?;
    ensure!(store.is_subscribed(user.id, now).await?, "not yet expired");
    let after = now + Duration::minutes(6);
    ensure!(!store.is_subscribed(user.id, after).await?, "expired");
    ensure!(
        store.subscribe(user.id, after).await? == Activated,
        "renewed"
    );
    ensure!(
        store
            .is_subscribed(user.id, after + Duration::days(365))
            .await?
    );
    Ok(())
}

async fn subscribing_unknown_user_fails(store: Store) -> anyhow::Result<()> {
    let missing = Uuid::now_v7();
    match store.subscribe(missing, noon()).await {
        Err(StoreError::UnknownUser(id)) if id == missing => Ok(()),
        other => anyhow::bail!("expected UnknownUser, got {other:?}"),
    }
}
