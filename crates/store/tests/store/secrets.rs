//! Server secrets: generated once, then the same for every caller, however many race.

use std::collections::HashSet;

use anyhow::ensure;
use chrono::Duration;
use herald_store::Store;

use crate::common::{noon, on_both_backends};

on_both_backends!(a_secret_is_generated_once, racing_first_calls_agree);

async fn a_secret_is_generated_once(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let first = store
        .server_secret("admin_jwt", || "first-value".to_string(), now)
        .await?;
    ensure!(first == "first-value");
    let again = store
        .server_secret(
            "admin_jwt",
            || "second-value".to_string(),
            now + Duration::hours(1),
        )
        .await?;
    ensure!(again == "first-value", "the stored secret wins: {again}");
    let other = store
        .server_secret("other", || "other-value".to_string(), now)
        .await?;
    ensure!(other == "other-value", "each name has its own");
    ensure!(
        store
            .server_secret("admin_jwt", || "third-value".to_string(), now)
            .await?
            == "first-value"
    );
    Ok(())
}

async fn racing_first_calls_agree(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let call = |v: &'static str| store.server_secret("admin_jwt", move || v.to_string(), now);
    let (a, b, c, d, e, f) = tokio::join!(
        call("a"),
        call("b"),
        call("c"),
        call("d"),
        call("e"),
        call("f")
    );
    let values = [a?, b?, c?, d?, e?, f?];
    let distinct: HashSet<&String> = values.iter().collect();
    ensure!(
        distinct.len() == 1,
        "every caller sees one secret: {values:?}"
    );
    ensure!(["a", "b", "c", "d", "e", "f"].contains(&values[0].as_str()));
    ensure!(
        store
            .server_secret("admin_jwt", || "late".into(), now)
            .await?
            == values[0]
    );
    Ok(())
}
