//! `/api/keys`: create (the secret once), list (never a secret), revoke (idempotent), each
//! audited.

use anyhow::ensure;
use herald_domain::StaffRole;
use serde_json::json;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(keys_are_created_listed_and_revoked);

async fn keys_are_created_listed_and_revoked(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    let (status, created) = api
        .call(
            "POST",
            "/api/keys",
            Some(&token),
            Some(json!({"name": "dashboard", "scopes": ["stats:read"], "allowed_ips": ["10.0.0.0/8", "127.0.0.1"], "rate_limit": 5})),
        )
        .await?;
    ensure!(status == 201, "{status} {created}");
    let key = created["key"].as_str().expect("the key, once").to_string();
    ensure!(
        key.starts_with("hk_") && created["scopes"] == json!(["stats:read"]),
        "{created}"
    );
    ensure!(
        created["allowed_ips"] == json!(["10.0.0.0/8", "127.0.0.1"]),
        "{created}"
    );
    ensure!(created["created_by"] == admin.user.id.to_string());
    let id = created["id"].as_str().expect("id").to_string();

    // The key works for what it may do.
    let stats = api
        .request(reqwest::Method::GET, "/api/stats")
        .header("x-api-key", &key)
        .send()
        .await?;
    ensure!(stats.status() == 200, "{}", stats.status());

    let (_, default) = api
        .call(
            "POST",
            "/api/keys",
            Some(&token),
            Some(json!({"name": "engine"})),
        )
        .await?;
    ensure!(default["scopes"] == json!(["signals:write"]), "{default}");

    let (status, list) = api.get("/api/keys", &token).await?;
    ensure!(
        status == 200 && list.as_array().expect("list").len() == 2,
        "{list}"
    );
    ensure!(
        !list.to_string().contains(&key),
        "a listing never holds a secret"
    );
    ensure!(list.to_string().contains(&key[..8]), "but shows the prefix");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "scopes": ["admin:all"]}), "scopes[0]"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (
            json!({"name": "x", "allowed_ips": ["10.1.2.3/8"]}),
            "allowed_ips",
        ),
        (json!({"name": "x", "rate_limit": 0}), "rate_limit"),
        (
            json!({"name": "x", "rate_limit": 3_000_000_000_u64}),
            "rate_limit",
        ),
    ] {
        let got = api
            .call("POST", "/api/keys", Some(&token), Some(body.clone()))
            .await?;
        expect_error(&got, 422, "invalid", "problem")?;
        ensure!(
            got.1["error"]["details"][0]["field"] == field,
            "{body}: {}",
            got.1
        );
    }

    // Revoking twice: 204 both times, one audit entry; unknown 404; malformed 400.
    for _ in 0..2 {
        let (status, _) = api
            .call("DELETE", &format!("/api/keys/{id}"), Some(&token), None)
            .await?;
        ensure!(status == 204, "{status}");
    }
    expect_error(
        &api.call(
            "DELETE",
            &format!("/api/keys/{}", uuid::Uuid::now_v7()),
            Some(&token),
            None,
        )
        .await?,
        404,
        "not_found",
        "no API key",
    )?;
    expect_error(
        &api.call("DELETE", "/api/keys/xyz", Some(&token), None)
            .await?,
        400,
        "malformed_id",
        "key id",
    )?;
    let (_, active) = api.get("/api/keys", &token).await?;
    ensure!(active.as_array().expect("list").len() == 1, "{active}");
    let (_, all) = api.get("/api/keys?include_revoked=true", &token).await?;
    ensure!(all.as_array().expect("list").len() == 2, "{all}");

    let audit = api.get("/api/audit?action=key.", &token).await?.1;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    ensure!(
        actions == ["key.revoke", "key.create", "key.create"],
        "{actions:?}"
    );
    ensure!(
        !audit.to_string().contains(&key),
        "the audit log never holds a secret"
    );
    Ok(api)
}
