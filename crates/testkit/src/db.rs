//! Isolated databases for tests.
//!
//! Every test gets a database of its own, so tests run in parallel and CI can share one
//! PostgreSQL server between runs:
//!
//! - SQLite: a fresh file in a temporary directory of its own, removed afterwards.
//! - PostgreSQL: a fresh schema `t_<unix time>_<random>` in the shared database, dropped afterwards
//!   (and swept by a later test after 6 hours if its process was killed). The
//!   URL handed out selects that schema through the connection's startup `options`
//!   (`?options=-c%20search_path%3Dt_<…>`), which sqlx (and libpq) honour, so any process
//!   given the URL — a service under test, a CLI — lands in the same schema.
//!
//! Call [`TestDatabase::cleanup`] at the end of a test; if the test panics first, `Drop`
//! cleans up on a best-effort basis.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};

/// The environment variable naming the PostgreSQL server (and database) tests use.
pub const POSTGRES_URL_ENV: &str = "HERALD_TEST_POSTGRES_URL";

/// The server used when [`POSTGRES_URL_ENV`] is not set: the local CI service.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (the embedded default).
    Sqlite,
    /// A PostgreSQL schema (production).
    Postgres,
}

impl Backend {
    /// Both backends, for tests that run every case against each.
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// `sqlite` or `postgres`, for test names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database that belongs to one test. Hand [`TestDatabase::url`] to the code under test.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    owned: Owned,
}

/// What has to be removed when the test is over.
#[derive(Debug)]
enum Owned {
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        base_url: String,
        schema: String,
    },
    /// Already cleaned up.
    Nothing,
}

impl TestDatabase {
    /// A fresh SQLite file in its own temporary directory. The URL is
    /// `sqlite:///abs/path/herald.db?mode=rwc`; the file is created on first connect.
    pub async fn sqlite() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("herald-test-db-")
            .tempdir()
            .context("creating a temporary directory for the SQLite test database")?;
        let path: PathBuf = dir.path().join("herald.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Ok(Self {
            url,
            owned: Owned::Sqlite { dir },
        })
    }

    /// A fresh schema in the PostgreSQL database named by `HERALD_TEST_POSTGRES_URL` (default
    /// `postgres://postgres@127.0.0.1:5432/test`). The URL selects the schema with
    /// `options=-c search_path=<schema>`.
    pub async fn postgres() -> anyhow::Result<Self> {
        let base_url =
            std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
        Self::postgres_on(base_url).await
    }

    /// A fresh schema in the PostgreSQL database at `base_url` (a server of the test's own).
    pub async fn postgres_on(base_url: String) -> anyhow::Result<Self> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // Schemas of test processes that were killed (no cleanup ran) are swept here once they
        // are old enough that no running test can own them; the name carries the birth time.
        let _ = run_on_server(&base_url, &sweep_stale_schemas(now - STALE_AFTER_SECS)).await;
        let schema = format!(
            "t_{now}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        run_on_server(&base_url, &format!("CREATE SCHEMA \"{schema}\""))
            .await
            .with_context(|| format!("creating test schema {schema} (is PostgreSQL running?)"))?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Ok(Self {
            url,
            owned: Owned::Postgres { base_url, schema },
        })
    }

    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// The connection URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which engine this database runs on.
    pub fn backend(&self) -> Backend {
        if self.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// Removes the database: drops the schema (with everything in it) or deletes the file.
    /// Close the code under test's connection pools first, or the drop waits for their locks.
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        match std::mem::replace(&mut self.owned, Owned::Nothing) {
            Owned::Sqlite { dir } => dir
                .close()
                .context("removing the SQLite test database directory"),
            Owned::Postgres { base_url, schema } => drop_schema(&base_url, &schema).await,
            Owned::Nothing => Ok(()),
        }
    }
}

impl Drop for TestDatabase {
    /// Best-effort cleanup when [`TestDatabase::cleanup`] was not called (a test panicked):
    /// the temporary directory removes itself; a PostgreSQL schema is dropped from a thread
    /// with a runtime of its own, since `Drop` cannot await.
    fn drop(&mut self) {
        if let Owned::Postgres { base_url, schema } =
            std::mem::replace(&mut self.owned, Owned::Nothing)
        {
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => {
                        if let Err(e) = rt.block_on(drop_schema(&base_url, &schema)) {
                            eprintln!("testkit: could not drop test schema {schema}: {e:#}");
                        }
                    }
                    Err(e) => eprintln!("testkit: no runtime to drop test schema {schema}: {e}"),
                }
            });
            let _ = dropper.join();
        }
    }
}

async fn drop_schema(base_url: &str, schema: &str) -> anyhow::Result<()> {
    run_on_server(
        base_url,
        &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
    )
    .await
    .with_context(|| format!("dropping test schema {schema}"))
}

/// Runs one statement on a short-lived single connection to `base_url`.
/// How old a test schema must be before any test may drop it as abandoned.
const STALE_AFTER_SECS: u64 = 6 * 3600;

/// SQL dropping the `t_<unix time>_<random>` schemas born before `cutoff`.
fn sweep_stale_schemas(cutoff: u64) -> String {
    format!(
        "DO $$ DECLARE s text; BEGIN \
           FOR s IN SELECT nspname FROM pg_namespace \
                    WHERE nspname ~ '^t_[0-9]{{10}}_' \
                      AND split_part(nspname, '_', 2)::bigint < {cutoff} LOOP \
             EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', s); \
           END LOOP; END $$"
    )
}

async fn run_on_server(base_url: &str, sql: &str) -> anyhow::Result<()> {
    let mut options = ConnectOptions::new(base_url);
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .context("connecting to the PostgreSQL test server")?;
    let result = db.execute_unprepared(sql).await;
    let _ = db.close().await;
    result.map(|_| ()).map_err(anyhow::Error::from)
}
