//! The admin migration on a database that already holds admins and API keys.

use anyhow::{Context, ensure};
use herald_domain::{Scope, StaffRole};
use herald_migrations::{Migrator, MigratorTrait};
use herald_store::Store;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(admins_and_keys_carry_over);

/// Steps down from the latest schema to just before the admin migration.
fn since_admin() -> u32 {
    let later = Migrator::migrations().len() - 4;
    u32::try_from(later).expect("a handful of migrations")
}

/// Admins flagged with `is_admin` become staff admins; keys made before scopes may do what
/// they could (`signals:write`), from anywhere, without a limit. Down and up again is clean.
async fn admins_and_keys_carry_over(store: Store) -> anyhow::Result<()> {
    let db = store.connection();
    // Registering speaks the current schema: first, then back to before the admin API.
    let admin = store.register_user(&profile(1), noon()).await?.user;
    let trader = store.register_user(&profile(2), noon()).await?.user;
    // The admin migration (the fifth) and every one after it.
    Migrator::down(db, Some(since_admin())).await?;

    let backend = db.get_database_backend();
    let p = |n: usize| {
        if store.backend_name() == "postgres" {
            format!("${n}")
        } else {
            "?".into()
        }
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        format!("UPDATE users SET is_admin = {} WHERE id = {}", p(1), p(2)),
        [true.into(), admin.id.into()],
    ))
    .await?;
    let key_id = Uuid::now_v7();
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at) \
             VALUES ({}, 'engine', 'abc123', 'hk_abcde', {})",
            p(1),
            p(2)
        ),
        [key_id.into(), noon().into()],
    ))
    .await?;

    store.migrate().await?;
    let admin = store.user(admin.id).await?.context("admin")?;
    ensure!(
        admin.staff_role == Some(StaffRole::Admin) && admin.is_admin,
        "{admin:?}"
    );
    ensure!(store.staff_role(admin.id).await?.map(|(role, _)| role) == Some(StaffRole::Admin));
    let trader = store.user(trader.id).await?.context("trader")?;
    ensure!(
        trader.staff_role.is_none() && !trader.is_admin,
        "{trader:?}"
    );
    let key = store.api_key(key_id).await?.context("key kept")?;
    ensure!(key.scopes == vec![Scope::SignalsWrite], "{key:?}");
    ensure!(key.allowed_ips.is_empty() && key.rate_limit.is_none() && key.created_by.is_none());
    ensure!(store.active_api_key_by_hash("abc123").await?.as_ref() == Some(&key));

    // The new tables work, then go and come back.
    store
        .record_audit(
            herald_store::AuditEvent {
                actor: "cli".into(),
                action: "admin.grant".into(),
                target: None,
                source: None,
                details: None,
            },
            noon(),
        )
        .await?;
    Migrator::down(db, Some(since_admin())).await?;
    store.migrate().await?;
    ensure!(
        store
            .audit_page(&Default::default(), None, 10)
            .await?
            .is_empty()
    );
    ensure!(
        store
            .api_key(key_id)
            .await?
            .is_some_and(|k| k.scopes == vec![Scope::SignalsWrite])
    );
    ensure!(
        store
            .user(admin.id)
            .await?
            .is_some_and(|u| u.staff_role == Some(StaffRole::Admin))
    );
    Ok(())
}
