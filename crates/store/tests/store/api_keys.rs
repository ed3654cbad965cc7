//! API keys: lookup by hash, revocation.

use anyhow::ensure;
use chrono::Duration;
use herald_store::{Store, StoreError};

use crate::common::{noon, on_both_backends};

on_both_backends!(api_key_lookup_and_revocation);

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

async fn api_key_lookup_and_revocation(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let key = store
        .create_api_key(
            herald_store::NewApiKey::ingest("signal-engine", HASH, "hk_abcde"),
            now,
        )
        .await?;
    ensure!(key.name == "signal-engine" && key.key_prefix == "hk_abcde");
    ensure!(key.created_at == now && key.revoked_at.is_none() && key.last_used_at.is_none());

    let found = store.active_api_key_by_hash(HASH).await?;
    ensure!(found.as_ref() == Some(&key));
    ensure!(
        store
            .active_api_key_by_hash(&HASH.replace('9', "8"))
            .await?
            .is_none()
    );

    let used = now + Duration::minutes(1);
    store.touch_api_keys(&[(key.id, used)]).await?;
    let found = store.active_api_key_by_hash(HASH).await?.unwrap();
    ensure!(found.last_used_at == Some(used));
    // A batch from a replica that lags behind does not move it back.
    store.touch_api_keys(&[(key.id, now)]).await?;
    let found = store.active_api_key_by_hash(HASH).await?.unwrap();
    ensure!(found.last_used_at == Some(used));
    ensure!(found.scopes == vec![herald_domain::Scope::SignalsWrite]);
    ensure!(found.allowed_ips.is_empty() && found.rate_limit.is_none());

    match store
        .create_api_key(
            herald_store::NewApiKey::ingest("again", HASH, "hk_abcde"),
            now,
        )
        .await
    {
        Err(StoreError::Database(_)) => {}
        other => anyhow::bail!("a duplicate hash must be refused, got {other:?}"),
    }

    ensure!(store.revoke_api_key(key.id, used).await?, "revoked");
    ensure!(
        !store.revoke_api_key(key.id, used).await?,
        "already revoked"
    );
    ensure!(
        store.active_api_key_by_hash(HASH).await?.is_none(),
        "revoked keys never match"
    );
    Ok(())
}
