//! Migrations: idempotent, concurrent-safe, reversible.

use anyhow::ensure;
use herald_migrations::{Migrator, MigratorTrait};
use herald_store::Store;
use herald_testkit::db::{Backend, TestDatabase};

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(migrate_twice, down_then_up);

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
