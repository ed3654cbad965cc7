//! `/api/users`: listing, filters, pagination edges, one user, and changing preferences.

use anyhow::ensure;
use herald_domain::StaffRole;
use serde_json::{Value, json};

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(
    users_are_listed_a_page_at_a_time_with_filters,
    one_user_in_full_and_bad_ids,
    preferences_are_replaced_checked_and_audited,
);

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["telegram_id"].to_string())
        .collect()
}

async fn users_are_listed_a_page_at_a_time_with_filters(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    for n in 2..=6 {
        api.trader(n, &format!("trader_{n}")).await?;
    }
    let alice = api.trader(7, "Alice").await?;
    api.store.subscribe(alice.id, chrono::Utc::now()).await?;
    api.store
        .deactivate_user(api.trader(8, "gone").await?.id, chrono::Utc::now())
        .await?;

    // Every user once, in registration order, across pages of 3.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit=3&cursor={c}"),
            None => "/api/users?limit=3".to_string(),
        };
        let (status, page) = api.get(&path, &token).await?;
        ensure!(status == 200, "{status} {page}");
        ensure!(page["items"].as_array().expect("items").len() <= 3);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    ensure!(seen == ["1", "2", "3", "4", "5", "6", "7", "8"], "{seen:?}");
    // An exact multiple: 8 users in pages of 4 end without an empty third page.
    let first = api.get("/api/users?limit=4", &token).await?.1;
    let next = first["next_cursor"].as_str().expect("more");
    let second = api
        .get(&format!("/api/users?limit=4&cursor={next}"), &token)
        .await?
        .1;
    ensure!(
        ids(&second).len() == 4 && second.get("next_cursor").is_none(),
        "{second}"
    );

    for (query, want) in [
        ("subscribed=true", vec!["7"]),
        ("active=false", vec!["8"]),
        ("admin=true", vec!["1"]),
        ("q=ALI", vec!["7"]),
        ("q=trader_&limit=2", vec!["2", "3"]),
        ("tier=standard&subscribed=true", vec!["7"]),
        ("tier=gold", vec![]),
        ("q=%25", vec![]),
    ] {
        let (status, page) = api.get(&format!("/api/users?{query}"), &token).await?;
        ensure!(status == 200, "{query}: {status} {page}");
        ensure!(ids(&page) == want, "{query}: {:?}", ids(&page));
    }
    let sub = &api.get("/api/users?subscribed=true", &token).await?.1["items"][0];
    ensure!(sub["subscription"]["current"] == true, "{sub}");

    for (query, says) in [
        ("limit=0", "limit 0 is not from 1 to 200"),
        ("limit=201", "limit 201 is not from 1 to 200"),
        ("cursor=nonsense", "is not one we gave"),
        ("active=maybe", "active"),
        ("colour=red", "colour"),
    ] {
        let got = api.get(&format!("/api/users?{query}"), &token).await?;
        expect_error(&got, 400, "bad_query", says).map_err(|e| e.context(query))?;
    }
    Ok(api)
}

async fn one_user_in_full_and_bad_ids(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    let trader = api.trader(2, "bob").await?;
    let (status, user) = api
        .get(&format!("/api/users/{}", trader.id), &token)
        .await?;
    ensure!(status == 200, "{status} {user}");
    ensure!(
        user["telegram_id"] == 2 && user["username"] == "bob",
        "{user}"
    );
    ensure!(user["preferences"]["min_confidence"] == 0, "{user}");
    ensure!(user["preferences"]["signal_types"]["buy"] == "on", "{user}");
    ensure!(
        user["deliveries"]["sent"] == 0 && user["last_delivery"].is_null(),
        "{user}"
    );
    ensure!(
        user.get("totp_secret").is_none(),
        "never the authenticator's secret"
    );

    let unknown = api
        .get(&format!("/api/users/{}", uuid::Uuid::now_v7()), &token)
        .await?;
    expect_error(&unknown, 404, "not_found", "no user with id")?;
    let malformed = api.get("/api/users/42", &token).await?;
    expect_error(&malformed, 400, "malformed_id", "\"42\" is not a user id")?;
    Ok(api)
}

async fn preferences_are_replaced_checked_and_audited(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    let trader = api.trader(2, "carol").await?;
    let path = format!("/api/users/{}/preferences", trader.id);
    let wanted = json!({
        "signal_types": {"buy": "on", "sell": "silent", "close": "on", "alert": "off"},
        "min_confidence": 75,
        "assets": ["btc/usd", "ETH/USD"],
        "notification_hours": {"start": 22, "end": 6},
        "time_zone": "Europe/Madrid",
        "outside_hours": "skip",
        "format": "compact",
        "language": "es",
        "reports": "daily",
        "reports_silent": true,
    });
    let (status, body) = api
        .call("PUT", &path, Some(&token), Some(wanted.clone()))
        .await?;
    ensure!(status == 200, "{status} {body}");
    ensure!(body["assets"] == json!(["BTC/USD", "ETH/USD"]), "{body}");
    let stored = api.store.preferences(trader.id).await?;
    ensure!(stored.min_confidence == 75 && stored.time_zone.to_string() == "Europe/Madrid");

    // The same again changes nothing and records nothing new: PUT is idempotent.
    let (status, _) = api
        .call("PUT", &path, Some(&token), Some(wanted.clone()))
        .await?;
    ensure!(status == 200);
    let audit = api
        .get("/api/audit?action=preferences.update", &token)
        .await?
        .1;
    let items = audit["items"].as_array().expect("items");
    ensure!(items.len() == 1, "{audit}");
    ensure!(items[0]["actor"] == format!("user:{}", admin.user.id));
    ensure!(items[0]["target"] == format!("user:{}", trader.id));
    ensure!(items[0]["details"]["before"]["min_confidence"] == 0);
    ensure!(items[0]["details"]["after"]["min_confidence"] == 75);

    // Every problem, by field; nothing changes.
    let mut bad = wanted.clone();
    bad["min_confidence"] = json!(130);
    bad["time_zone"] = json!("Mars/Olympus");
    bad["signal_types"]["sell"] = json!("loud");
    let got = api.call("PUT", &path, Some(&token), Some(bad)).await?;
    expect_error(&got, 422, "invalid", "3 problems")?;
    let fields: Vec<&str> = got.1["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    ensure!(
        fields == ["signal_types.sell", "min_confidence", "time_zone"],
        "{fields:?}"
    );
    ensure!(api.store.preferences(trader.id).await?.min_confidence == 75);

    // Taking a user's document from GET and sending it back works, `null` hours included.
    let other = api.trader(3, "dave").await?;
    let (_, shown) = api.get(&format!("/api/users/{}", other.id), &token).await?;
    ensure!(
        shown["preferences"]["notification_hours"].is_null(),
        "{shown}"
    );
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/users/{}/preferences", other.id),
            Some(&token),
            Some(shown["preferences"].clone()),
        )
        .await?;
    ensure!(status == 200, "{status} {body}");

    let mut partial = wanted.clone();
    partial.as_object_mut().expect("object").remove("language");
    expect_error(
        &api.call("PUT", &path, Some(&token), Some(partial)).await?,
        422,
        "invalid",
        "language is required",
    )?;
    let unknown_field = api
        .call("PUT", &path, Some(&token), Some(json!({"colour": "red"})))
        .await?;
    expect_error(&unknown_field, 422, "invalid", "colour")?;
    let raw = api
        .request(reqwest::Method::PUT, &path)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    ensure!(raw.status() == 400, "{}", raw.status());
    let body: Value = raw.json().await?;
    ensure!(body["error"]["code"] == "malformed_json", "{body}");
    let nobody = api
        .call(
            "PUT",
            &format!("/api/users/{}/preferences", uuid::Uuid::now_v7()),
            Some(&token),
            Some(wanted),
        )
        .await?;
    expect_error(&nobody, 404, "not_found", "no user")?;
    Ok(api)
}
