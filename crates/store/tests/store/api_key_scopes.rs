//! API keys as the admin API makes them: scopes, networks, a rate limit and who made them;
//! listed with or without the revoked ones.

use anyhow::{Context, ensure};
use chrono::Duration;
use herald_domain::{Scope, StaffRole};
use herald_store::{NewApiKey, Store, StoreError};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    keys_carry_scopes_networks_limits_and_their_maker,
    what_a_key_is_refused_with,
    keys_are_listed_and_revoked,
);

fn hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn key(name: &str, n: u8, scopes: Vec<Scope>) -> NewApiKey {
    NewApiKey {
        name: name.to_string(),
        key_hash: hash(n),
        key_prefix: format!("hk_{n:05}"),
        scopes,
        allowed_ips: Vec::new(),
        rate_limit: None,
        created_by: None,
    }
}

async fn keys_carry_scopes_networks_limits_and_their_maker(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let admin = store.register_user(&profile(1), now).await?.user;
    store
        .set_staff_role(
            admin.telegram_id,
            Some(StaffRole::Admin),
            chrono::Utc::now(),
        )
        .await?;
    let made = store
        .create_api_key(
            NewApiKey {
                allowed_ips: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
                rate_limit: Some(50),
                created_by: Some(admin.id),
                ..key(
                    "dashboard",
                    1,
                    vec![Scope::StatsRead, Scope::SignalsWrite, Scope::StatsRead],
                )
            },
            now,
        )
        .await?;
    ensure!(
        made.scopes == vec![Scope::SignalsWrite, Scope::StatsRead],
        "deduplicated: {:?}",
        made.scopes
    );
    ensure!(made.allowed_ips == vec!["10.0.0.0/8", "2001:db8::/32"]);
    ensure!(made.rate_limit == Some(50) && made.created_by == Some(admin.id));
    ensure!(made.name == "dashboard" && made.key_hash == hash(1));
    ensure!(made.key_prefix == "hk_00001" && made.created_at == now);
    ensure!(made.revoked_at.is_none() && made.last_used_at.is_none());

    let read = store.api_key(made.id).await?.context("by id")?;
    ensure!(read == made, "read back as made: {read:?}");
    let by_hash = store.active_api_key_by_hash(&hash(1)).await?;
    ensure!(by_hash.as_ref() == Some(&made));

    let stats_only = store
        .create_api_key(
            NewApiKey {
                rate_limit: Some(i32::MAX as u32),
                ..key("stats", 2, vec![Scope::StatsRead, Scope::StatsRead])
            },
            now,
        )
        .await?;
    ensure!(stats_only.scopes == vec![Scope::StatsRead]);
    ensure!(stats_only.rate_limit == Some(i32::MAX as u32));
    ensure!(stats_only.allowed_ips.is_empty() && stats_only.created_by.is_none());
    ensure!(store.api_key(stats_only.id).await?.as_ref() == Some(&stats_only));

    let ingest = store
        .create_api_key(NewApiKey::ingest("engine", &hash(3), "hk_00003"), now)
        .await?;
    ensure!(ingest.scopes == vec![Scope::SignalsWrite] && ingest.rate_limit.is_none());
    ensure!(store.api_key(Uuid::now_v7()).await?.is_none());

    // One batch of uses, from replicas in any order: the newest sticks.
    let t = |s| now + Duration::seconds(s);
    store
        .touch_api_keys(&[(made.id, t(30)), (ingest.id, t(10)), (made.id, t(20))])
        .await?;
    ensure!(store.api_key(made.id).await?.and_then(|k| k.last_used_at) == Some(t(30)));
    ensure!(store.api_key(ingest.id).await?.and_then(|k| k.last_used_at) == Some(t(10)));
    ensure!(
        store
            .api_key(stats_only.id)
            .await?
            .and_then(|k| k.last_used_at)
            .is_none()
    );
    store.touch_api_keys(&[]).await?;
    Ok(())
}

async fn what_a_key_is_refused_with(store: Store) -> anyhow::Result<()> {
    let now = noon();
    match store
        .create_api_key(key("nothing", 1, Vec::new()), now)
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => anyhow::bail!("a key without scopes must be refused, got {other:?}"),
    }
    let too_fast = NewApiKey {
        rate_limit: Some(i32::MAX as u32 + 1),
        ..key("too fast", 2, vec![Scope::StatsRead])
    };
    match store.create_api_key(too_fast, now).await {
        Err(StoreError::Invalid(_)) => {}
        other => anyhow::bail!("a limit past the column must be refused, got {other:?}"),
    }
    ensure!(
        store.list_api_keys(true).await?.is_empty(),
        "nothing stored"
    );
    ensure!(store.active_api_key_by_hash(&hash(1)).await?.is_none());
    // The hash is still free.
    store
        .create_api_key(key("fine", 1, vec![Scope::StatsRead]), now)
        .await?;
    Ok(())
}

async fn keys_are_listed_and_revoked(store: Store) -> anyhow::Result<()> {
    let now = noon();
    ensure!(store.list_api_keys(false).await?.is_empty());
    ensure!(store.list_api_keys(true).await?.is_empty());
    // Created out of id order: the list is by creation time.
    let second = store
        .create_api_key(
            key("second", 2, vec![Scope::SignalsWrite]),
            now + Duration::minutes(1),
        )
        .await?;
    let first = store
        .create_api_key(key("first", 1, vec![Scope::SignalsWrite]), now)
        .await?;
    let third = store
        .create_api_key(
            key("third", 3, vec![Scope::StatsRead]),
            now + Duration::minutes(2),
        )
        .await?;
    let names = |keys: &[herald_store::ApiKeyRecord]| -> Vec<String> {
        keys.iter().map(|k| k.name.clone()).collect()
    };
    ensure!(names(&store.list_api_keys(false).await?) == ["first", "second", "third"]);
    ensure!(store.list_api_keys(true).await? == vec![first.clone(), second.clone(), third.clone()]);

    let revoked_at = now + Duration::minutes(5);
    ensure!(store.revoke_api_key(second.id, revoked_at).await?);
    ensure!(!store.revoke_api_key(second.id, revoked_at).await?);
    ensure!(!store.revoke_api_key(Uuid::now_v7(), revoked_at).await?);
    ensure!(store.list_api_keys(false).await? == vec![first.clone(), third.clone()]);
    let all = store.list_api_keys(true).await?;
    ensure!(names(&all) == ["first", "second", "third"]);
    ensure!(all[1].revoked_at == Some(revoked_at) && all[0].revoked_at.is_none());
    let revoked = store
        .api_key(second.id)
        .await?
        .context("revoked keys are kept")?;
    ensure!(revoked.revoked_at == Some(revoked_at));
    ensure!(revoked == all[1]);
    ensure!(store.active_api_key_by_hash(&hash(2)).await?.is_none());
    Ok(())
}
