//! Opening a store: errors that say what is wrong without leaking secrets.

use anyhow::ensure;
use herald_store::{Store, StoreError};

#[tokio::test]
async fn connect_errors_never_show_the_password() -> anyhow::Result<()> {
    // An unparseable port: the driver's own message quotes the whole URL.
    let url = "postgres://herald:hunter2secret@127.0.0.1:port/herald";
    match Store::connect(url).await {
        Err(e @ StoreError::Connect { .. }) => {
            let shown = format!("{e} {e:?}");
            ensure!(!shown.contains("hunter2secret"), "password leaked: {shown}");
            ensure!(shown.contains("herald:***@127.0.0.1:port"), "{shown}");
        }
        other => anyhow::bail!("expected a connect error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn unsupported_urls_are_named() -> anyhow::Result<()> {
    match Store::connect("mysql://root:pw@localhost/herald").await {
        Err(StoreError::UnsupportedUrl { url }) => {
            ensure!(url == "mysql://root:***@localhost/herald")
        }
        other => anyhow::bail!("expected UnsupportedUrl, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = herald_testkit::db::TestDatabase::sqlite().await?;
    let store = Store::connect(db.url()).await?;
    ensure!(store.backend_name() == "sqlite");
    store.ping().await?;
    let row = store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await?
        .expect("a row");
    let mode: String = row.try_get_by_index(0)?;
    ensure!(mode == "wal", "journal mode {mode}");
    let row = store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA foreign_keys",
        ))
        .await?
        .expect("a row");
    ensure!(row.try_get_by_index::<i32>(0)? == 1, "foreign keys on");
    store.close().await?;
    db.cleanup().await
}
