//! Migrations: idempotent, concurrent-safe, reversible.

use anyhow::ensure;
use herald_migrations::{Migrator, MigratorTrait};
use herald_store::Store;
use herald_testkit::db::{Backend, TestDatabase};

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    migrate_twice,
    down_then_up,
    open_deliveries_survive_the_queue_migration
);

async fn migrate_twice(store: Store) -> anyhow::Result<()> {
    // `run` already migrated once.
    store.migrate().await?;
    store.migrate().await?;
    store.ping().await?;
    ensure!(["sqlite", "postgres"].contains(&store.backend_name()));
    store.register_user(&profile(1), noon()).await?;
    Ok(())
}

/// Several processes (separate pools) migrating one fresh database at once.
async fn concurrent_migrations_on_fresh_database(backend: Backend) -> anyhow::Result<()> {
    let db = TestDatabase::new(backend).await?;
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Store::connect(db.url()).await?);
    }
    let runs = stores
        .iter()
        .cloned()
        .map(|store| tokio::spawn(async move { store.migrate().await }));
    for result in futures::future::join_all(runs).await {
        result??;
    }
    ensure!(
        Migrator::get_pending_migrations(stores[0].connection())
            .await?
            .is_empty()
    );
    stores[0].register_user(&profile(1), noon()).await?;
    for store in stores {
        store.close().await?;
    }
    db.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_sqlite() {
    concurrent_migrations_on_fresh_database(Backend::Sqlite)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_postgres() {
    concurrent_migrations_on_fresh_database(Backend::Postgres)
        .await
        .unwrap();
}

async fn down_then_up(store: Store) -> anyhow::Result<()> {
    store.register_user(&profile(1), noon()).await?;
    Migrator::down(store.connection(), None).await?;
    ensure!(
        store
            .user_by_telegram_id(profile(1).telegram_id)
            .await
            .is_err(),
        "tables gone"
    );
    store.migrate().await?;
    ensure!(
        store
            .user_by_telegram_id(profile(1).telegram_id)
            .await?
            .is_none(),
        "fresh"
    );
    Ok(())
}

/// Deliveries left open by the version before the queue: a backlog gets the old one-hour
/// deadline (so it is not sent however stale), an attempt in flight becomes `unknown`.
async fn open_deliveries_survive_the_queue_migration(store: Store) -> anyhow::Result<()> {
    use chrono::{Duration, Utc};
    use herald_domain::{DeliveryStatus, SignalKind};
    use sea_orm::ConnectionTrait;
    let db = store.connection();
    // Back to the schema before the queue: the initial migration alone.
    // The traders are registered first: registering speaks the current schema.
    let trader = store.register_user(&profile(1), noon()).await?.user;
    let other = store.register_user(&profile(2), noon()).await?.user;
    let after_initial = u32::try_from(Migrator::migrations().len() - 1)?;
    Migrator::down(db, Some(after_initial)).await?;
    let s = crate::common::signal(SignalKind::Buy, 80, noon());
    let backend = db.get_database_backend();
    let sql = |sql: &str, values: Vec<sea_orm::Value>| {
        sea_orm::Statement::from_sql_and_values(backend, sql, values)
    };
    let p = |n: usize| {
        if store.backend_name() == "postgres" {
            format!("${n}")
        } else {
            "?".into()
        }
    };
    db.execute_raw(sql(
        &format!(
            "INSERT INTO signals (id, kind, asset, confidence, generated_at, received_at, payload) \
                  VALUES ({}, 'buy', 'BTC/USD', 80, {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4)
        ),
        vec![
            s.id.0.into(),
            noon().into(),
            noon().into(),
            String::from_utf8(s.to_json())?.into(),
        ],
    ))
    .await?;
    let (stale, in_flight) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (id, user, status) in [
        (stale, trader.id, "pending"),
        (in_flight, other.id, "sending"),
    ] {
        db.execute_raw(sql(
            &format!("INSERT INTO signal_deliveries (id, signal_id, user_id, chat_id, format, status, attempts, created_at, updated_at) \
                      VALUES ({}, {}, {}, 1, 'detailed', {}, 1, {}, {})", p(1), p(2), p(3), p(4), p(5), p(6)),
            vec![id.into(), s.id.0.into(), user.into(), status.into(), noon().into(), noon().into()],
        ))
        .await?;
    }
    store.migrate().await?;
    let d = store.delivery(stale).await?.expect("kept");
    ensure!(d.status == DeliveryStatus::Pending, "{d:?}");
    ensure!(d.deadline == Some(noon() + Duration::hours(1)), "{d:?}");
    ensure!(d.next_attempt_at.is_some() && d.priority == 2);
    let d = store.delivery(in_flight).await?.expect("kept");
    ensure!(
        d.status == DeliveryStatus::Unknown && d.unknown_sends == 1,
        "{d:?}"
    );
    // Due, and past the old deadline: claimed, then expired rather than sent.
    let claims = store
        .claim_deliveries(10, Utc::now(), Duration::seconds(30), Duration::seconds(1))
        .await?;
    ensure!(claims.len() == 2 && claims.iter().all(|c| c.is_past_deadline(Utc::now())));
    Ok(())
}
