//! Opening the pool: [`Store::connect`], and the small facts about the connection.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::{Store, StoreError};

/// Pool size for PostgreSQL: enough for a dispatcher's concurrent sends and fan-outs.
const PG_MAX_CONNECTIONS: u32 = 16;
/// Pool size for a SQLite file: WAL lets readers run beside the one writer.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// How long a SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens a connection pool.
    ///
    /// - `sqlite:…` (e.g. `sqlite://herald.db?mode=rwc`): WAL journal, `busy_timeout` 5 s,
    ///   foreign keys on, the file created if missing.
    /// - `postgres://…` / `postgresql://…`: a pool of up to 16 connections. Extra session
    ///   settings travel in the URL, e.g. `?options=-c%20search_path%3Dmyschema`.
    ///
    /// Errors never contain the URL's password.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let mut options = ConnectOptions::new(url);
        options
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(true)
            .sqlx_logging_level(tracing::log::LevelFilter::Trace)
            .sqlx_slow_statements_logging_settings(
                tracing::log::LevelFilter::Warn,
                Duration::from_secs(1),
            );
        if url.starts_with("sqlite:") {
            // Every connection to `:memory:` is a database of its own: keep exactly one.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            options
                .max_connections(if in_memory { 1 } else { SQLITE_MAX_CONNECTIONS })
                .min_connections(if in_memory { 1 } else { 0 })
                .idle_timeout(if in_memory {
                    None
                } else {
                    Some(Duration::from_secs(300))
                })
                .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .foreign_keys(true)
                });
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            options
                .max_connections(PG_MAX_CONNECTIONS)
                .min_connections(0)
                .idle_timeout(Duration::from_secs(300))
                .max_lifetime(Duration::from_secs(1800))
                // Ping only connections that sat idle long enough to have been cut.
                .test_before_acquire_if_idle_for(Duration::from_secs(30));
        } else {
            return Err(StoreError::UnsupportedUrl { url: redacted });
        }
        let db = Database::connect(options)
            .await
            .map_err(|e| StoreError::Connect {
                reason: scrub_password(url, &e.to_string()),
                url: redacted.clone(),
            })?;
        tracing::debug!(url = %redacted, backend = backend_name(&db), "database pool open");
        Ok(Store { db })
    }

    /// The underlying sea-orm connection pool, for queries this crate does not offer.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        backend_name(&self.db)
    }

    /// Closes the pool, waiting for connections in use to be returned. Clones of this store
    /// stop working too.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.close_by_ref().await?;
        Ok(())
    }
}

fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        DbBackend::MySql => "mysql",
        _ => "unknown",
    }
}

/// The password part of `scheme://user:password@host…`, if any.
fn password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find('@')?];
    let colon = authority.find(':')?;
    Some(&authority[colon + 1..]).filter(|p| !p.is_empty())
}

/// `url` with its password replaced by `***`, safe to log and to show.
pub fn redact_url(url: &str) -> String {
    scrub_password(url, url)
}

fn scrub_password(url: &str, text: &str) -> String {
    match password(url) {
        Some(p) => text.replace(p, "***"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("postgres://herald:s3cr%40t@db:5432/herald?sslmode=require"),
            "postgres://herald:***@db:5432/herald?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact_url("sqlite://herald.db?mode=rwc"),
            "sqlite://herald.db?mode=rwc"
        );
        assert_eq!(
            scrub_password("postgres://u:pw@h/d", "cannot parse 'postgres://u:pw@h/d'"),
            "cannot parse 'postgres://u:***@h/d'"
        );
    }
}
