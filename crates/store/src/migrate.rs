//! [`Store::migrate`]: bring the schema up to date, safely even when several processes start
//! at once.

use herald_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::{Store, StoreError};

/// First half of the advisory-lock key that serialises migrations on PostgreSQL ("HERL").
/// The second half is a hash of the current schema, so installations (and tests) in different
/// schemas of one database do not wait for each other.
const MIGRATION_LOCK_CLASS: i32 = 0x4845_524C;

impl Store {
    /// Connects to `url` and brings the schema up to date: what every service does at start,
    /// so an empty database is ready without a separate step. Errors name the URL with its
    /// password hidden.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies every pending migration. Idempotent: a second call does nothing.
    ///
    /// Concurrent callers are serialised: on PostgreSQL by a transaction-scoped advisory lock
    /// taken before anything is read, on SQLite by an `IMMEDIATE` (write-locking) transaction.
    /// The whole run is one transaction, so a failed migration leaves nothing half-applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let txn = match backend {
            DbBackend::Sqlite => {
                self.db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await
            }
            _ => self.db.begin().await,
        }
        .map_err(StoreError::Migrate)?;
        if backend == DbBackend::Postgres {
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_CLASS}, \
                 hashtext(coalesce(current_schema(), '')))"
            ))
            .await
            .map_err(StoreError::Migrate)?;
        }
        Migrator::up(&txn, None)
            .await
            .map_err(StoreError::Migrate)?;
        txn.commit().await.map_err(StoreError::Migrate)?;
        Ok(())
    }
}
