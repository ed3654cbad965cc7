//! `/api/destinations` and `/api/bot-chats`: destinations added (every field checked),
//! listed, stopped when the bot leaves their chat and removed, each change audited; viewers
//! only read.

use anyhow::ensure;
use chrono::Utc;
use herald_domain::StaffRole;
use herald_store::{BOT_REMOVED, BotChat};
use serde_json::{Value, json};

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(
    destinations_are_added_listed_and_removed,
    destination_refusals
);

/// The channel the tests register.
const CHANNEL: i64 = -1_001_234_567_890;
/// A forum group with topics.
const FORUM: i64 = -1_009_876_543_210;

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|d| d["id"].as_str().expect("id"))
        .collect()
}

async fn destinations_are_added_listed_and_removed(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    let viewer = api.staff(2, StaffRole::Viewer).await?;
    let viewer_token = api.token(&viewer);

    // Every field given, in any case: stored in canonical form.
    let (status, vip) = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({
                "chat_id": CHANNEL, "name": " VIP channel ", "kinds": ["SELL", "buy", "buy"],
                "assets": ["eth/usd", "BTC/USD"], "min_confidence": 70, "format": "Compact",
                "language": "es",
            })),
        )
        .await?;
    ensure!(status == 201, "{status} {vip}");
    let vip_id = vip["id"].as_str().expect("id").to_string();
    ensure!(
        vip["chat_id"] == CHANNEL
            && vip["thread_id"].is_null()
            && vip["name"] == "VIP channel"
            && vip["kinds"] == json!(["buy", "sell"])
            && vip["assets"] == json!(["BTC/USD", "ETH/USD"])
            && vip["min_confidence"] == 70
            && vip["format"] == "compact"
            && vip["language"] == "es"
            && vip["active"] == true
            && vip["inactive_reason"].is_null()
            && vip["removed"] == false
            && vip["created_by"] == "staff:1",
        "{vip}"
    );
    let stored = api
        .store
        .destination(vip_id.parse()?)
        .await?
        .expect("stored");
    ensure!(stored.min_confidence == 70 && stored.assets.len() == 2);

    // Only what is required: the defaults for the rest. A topic of a forum is a destination
    // of its own, beside the whole chat.
    let (status, topic) = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(
                json!({"chat_id": FORUM, "thread_id": 7, "name": "Forum: BTC", "kinds": ["alert"]}),
            ),
        )
        .await?;
    ensure!(status == 201, "{status} {topic}");
    ensure!(
        topic["thread_id"] == 7
            && topic["kinds"] == json!(["alert"])
            && topic["assets"] == json!([])
            && topic["min_confidence"] == 0
            && topic["format"] == "detailed"
            && topic["language"] == "en",
        "{topic}"
    );
    let topic_id = topic["id"].as_str().expect("id").to_string();
    let (status, whole) = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({"chat_id": FORUM, "name": "Forum", "kinds": ["buy"]})),
        )
        .await?;
    ensure!(status == 201, "{status} {whole}");
    let whole_id = whole["id"].as_str().expect("id").to_string();

    // The same chat (and topic) again: refused, naming the one registered.
    let again = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({"chat_id": FORUM, "thread_id": 7, "name": "again", "kinds": ["buy"]})),
        )
        .await?;
    expect_error(&again, 422, "invalid", "is already destination")?;
    ensure!(
        again.1["error"]["details"][0]["field"] == "chat_id"
            && again.1["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&topic_id) && m.contains("topic 7")),
        "{}",
        again.1
    );

    // Viewers read, oldest first.
    let (status, list) = api.get("/api/destinations", &viewer_token).await?;
    ensure!(status == 200, "{status} {list}");
    ensure!(
        ids(&list) == [vip_id.as_str(), topic_id.as_str(), whole_id.as_str()],
        "{list}"
    );

    // The bot removed from the forum: both its destinations stop, saying why; back, they
    // resume. The bot's chats are listed for staff.
    let kicked = BotChat {
        chat_id: FORUM,
        kind: "supergroup".into(),
        title: Some("Traders forum".into()),
        is_forum: true,
        status: "kicked".into(),
        changed_by: Some(555),
        updated_at: Utc::now(),
    };
    api.store.record_bot_chat(&kicked).await?;
    let (_, list) = api.get("/api/destinations", &viewer_token).await?;
    let states: Vec<(bool, Value)> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|d| (d["active"] == true, d["inactive_reason"].clone()))
        .collect();
    ensure!(
        states
            == [
                (true, Value::Null),
                (false, json!(BOT_REMOVED)),
                (false, json!(BOT_REMOVED)),
            ],
        "{list}"
    );
    let (status, chats) = api.get("/api/bot-chats", &viewer_token).await?;
    ensure!(status == 200, "{status} {chats}");
    ensure!(
        chats.as_array().expect("list").len() == 1
            && chats[0]["chat_id"] == FORUM
            && chats[0]["kind"] == "supergroup"
            && chats[0]["title"] == "Traders forum"
            && chats[0]["is_forum"] == true
            && chats[0]["status"] == "kicked"
            && chats[0]["bot_is_in"] == false
            && chats[0]["changed_by"] == 555,
        "{chats}"
    );
    api.store
        .record_bot_chat(&BotChat {
            status: "administrator".into(),
            updated_at: Utc::now(),
            ..kicked
        })
        .await?;
    let (_, chats) = api.get("/api/bot-chats", &viewer_token).await?;
    ensure!(chats[0]["bot_is_in"] == true, "{chats}");
    let (_, list) = api.get("/api/destinations", &viewer_token).await?;
    ensure!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|d| d["active"] == true),
        "{list}"
    );

    // Removed: gone from the listing, kept with `all`; removing again or an unknown id is
    // 404; the chat may then be registered again.
    let (status, body) = api
        .call(
            "DELETE",
            &format!("/api/destinations/{topic_id}"),
            Some(&token),
            None,
        )
        .await?;
    ensure!(status == 204, "{status} {body}");
    let (_, list) = api.get("/api/destinations", &viewer_token).await?;
    ensure!(ids(&list) == [vip_id.as_str(), whole_id.as_str()], "{list}");
    let (_, all) = api.get("/api/destinations?all=true", &viewer_token).await?;
    ensure!(ids(&all).len() == 3, "{all}");
    let removed: Vec<bool> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["removed"] == true)
        .collect();
    ensure!(removed == [false, true, false], "{all}");
    ensure!(all[1]["active"] == false, "{all}");
    expect_error(
        &api.call(
            "DELETE",
            &format!("/api/destinations/{topic_id}"),
            Some(&token),
            None,
        )
        .await?,
        404,
        "not_found",
        "removed already",
    )?;
    expect_error(
        &api.call(
            "DELETE",
            &format!("/api/destinations/{}", uuid::Uuid::now_v7()),
            Some(&token),
            None,
        )
        .await?,
        404,
        "not_found",
        "no destination",
    )?;
    expect_error(
        &api.call("DELETE", "/api/destinations/xyz", Some(&token), None)
            .await?,
        400,
        "malformed_id",
        "destination id",
    )?;
    let (status, readded) = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(
                json!({"chat_id": FORUM, "thread_id": 7, "name": "Forum: BTC", "kinds": ["alert"]}),
            ),
        )
        .await?;
    ensure!(status == 201, "{status} {readded}");

    // Each change in the audit log, by the admin, with what was set.
    let (_, audit) = api.get("/api/audit?action=destination.", &token).await?;
    let entries: Vec<(&str, &str)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let target = |id: &str| format!("destination:{id}");
    let readded_id = readded["id"].as_str().expect("id");
    ensure!(
        entries
            == [
                ("destination.add", target(readded_id).as_str()),
                ("destination.remove", target(&topic_id).as_str()),
                ("destination.add", target(&whole_id).as_str()),
                ("destination.add", target(&topic_id).as_str()),
                ("destination.add", target(&vip_id).as_str()),
            ],
        "{audit}"
    );
    let actor = format!("user:{}", admin.user.id);
    ensure!(
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|e| e["actor"] == actor.as_str() && e["source"].is_string()),
        "{audit}"
    );
    let first = &audit["items"][4]["details"];
    ensure!(
        *first
            == json!({
                "chat_id": CHANNEL, "thread_id": null, "name": "VIP channel",
                "kinds": ["buy", "sell"], "assets": ["BTC/USD", "ETH/USD"],
                "min_confidence": 70, "format": "compact", "language": "es",
            }),
        "{first}"
    );
    ensure!(
        audit["items"][1]["details"]
            == json!({"name": "Forum: BTC", "chat_id": FORUM, "thread_id": 7}),
        "{audit}"
    );
    Ok(api)
}

async fn destination_refusals(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    let viewer = api.staff(2, StaffRole::Viewer).await?;
    let viewer_token = api.token(&viewer);
    let good = json!({"chat_id": CHANNEL, "name": "VIP", "kinds": ["buy"]});

    // One problem at a time: the field named, the message saying what is wrong.
    for (change, field, says) in [
        (json!({"chat_id": null}), "chat_id", "is required"),
        (json!({"chat_id": 12345}), "chat_id", "negative"),
        (json!({"chat_id": 0}), "chat_id", "negative"),
        (json!({"thread_id": 0}), "thread_id", "forum topic"),
        (
            json!({"thread_id": 3_000_000_000_i64}),
            "thread_id",
            "forum topic",
        ),
        (json!({"name": null}), "name", "is required"),
        (json!({"name": "  "}), "name", "1 to 100 characters"),
        (
            json!({"name": "x".repeat(101)}),
            "name",
            "1 to 100 characters",
        ),
        (json!({"name": "a\nb"}), "name", "control characters"),
        (json!({"kinds": null}), "kinds", "is required"),
        (json!({"kinds": []}), "kinds", "at least one"),
        (
            json!({"kinds": ["buy", "hold"]}),
            "kinds[1]",
            "unknown signal kind \"hold\"",
        ),
        (
            json!({"assets": ["BTC/USD/EUR"]}),
            "assets[0]",
            "more than one '/'",
        ),
        (
            json!({"assets": (0..51).map(|i| format!("A{i}/USD")).collect::<Vec<_>>()}),
            "assets",
            "more than 50",
        ),
        (
            json!({"min_confidence": 101}),
            "min_confidence",
            "not from 0 to 100",
        ),
        (
            json!({"min_confidence": -1}),
            "min_confidence",
            "not from 0 to 100",
        ),
        (json!({"format": "fancy"}), "format", "detailed or compact"),
        (
            json!({"language": "fr"}),
            "language",
            "unknown language \"fr\"",
        ),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let got = api
            .call(
                "POST",
                "/api/destinations",
                Some(&token),
                Some(body.clone()),
            )
            .await?;
        expect_error(&got, 422, "invalid", "the destination has 1 problem")?;
        let details = &got.1["error"]["details"];
        ensure!(
            details.as_array().map(Vec::len) == Some(1)
                && details[0]["field"] == field
                && details[0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(says)),
            "{body}: {}",
            got.1
        );
    }

    // Every problem at once.
    let got = api
        .call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({"chat_id": 5, "kinds": ["hold"], "format": "tiny", "language": "de"})),
        )
        .await?;
    expect_error(&got, 422, "invalid", "the destination has 5 problems")?;
    let fields: Vec<&str> = got.1["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    ensure!(
        fields == ["chat_id", "name", "kinds[0]", "format", "language"],
        "{}",
        got.1
    );

    // Unknown fields and wrong types are refused by the body's reader.
    expect_error(
        &api.call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({"chat_id": CHANNEL, "name": "x", "kinds": ["buy"], "topic": 3})),
        )
        .await?,
        422,
        "invalid",
        "topic",
    )?;
    expect_error(
        &api.call(
            "POST",
            "/api/destinations",
            Some(&token),
            Some(json!({"chat_id": "@vip", "name": "x", "kinds": ["buy"]})),
        )
        .await?,
        422,
        "invalid",
        "chat_id",
    )?;

    // Viewers may not change anything; nobody without a token may look.
    expect_error(
        &api.call(
            "POST",
            "/api/destinations",
            Some(&viewer_token),
            Some(good.clone()),
        )
        .await?,
        403,
        "forbidden",
        "admin role",
    )?;
    let (status, created) = api
        .call("POST", "/api/destinations", Some(&token), Some(good))
        .await?;
    ensure!(status == 201, "{status} {created}");
    let id = created["id"].as_str().expect("id");
    expect_error(
        &api.call(
            "DELETE",
            &format!("/api/destinations/{id}"),
            Some(&viewer_token),
            None,
        )
        .await?,
        403,
        "forbidden",
        "admin role",
    )?;
    for path in ["/api/destinations", "/api/bot-chats"] {
        expect_error(
            &api.call("GET", path, None, None).await?,
            401,
            "unauthorized",
            "staff token",
        )?;
    }
    expect_error(
        &api.get("/api/destinations?all=maybe", &viewer_token)
            .await?,
        400,
        "bad_query",
        "all",
    )?;
    let (_, bot_chats) = api.get("/api/bot-chats", &viewer_token).await?;
    ensure!(bot_chats == json!([]), "{bot_chats}");

    // Nothing refused was written, nor audited.
    let (_, list) = api.get("/api/destinations", &viewer_token).await?;
    ensure!(ids(&list) == [id], "{list}");
    let (_, audit) = api.get("/api/audit?action=destination.", &token).await?;
    ensure!(
        audit["items"].as_array().map(Vec::len) == Some(1),
        "{audit}"
    );
    Ok(api)
}
