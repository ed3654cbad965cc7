//! `GET /api/audit`: newest first, a page at a time, by actor, action and time.

use anyhow::ensure;
use chrono::{Duration, SecondsFormat, Utc};
use herald_domain::StaffRole;
use herald_store::AuditEvent;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(the_audit_log_is_paged_and_filtered);

async fn the_audit_log_is_paged_and_filtered(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(1, StaffRole::Admin).await?;
    let token = api.token(&admin);
    let now = Utc::now();
    for (n, (actor, action)) in [
        ("cli", "key.create"),
        ("user:a", "preferences.update"),
        ("cli", "staff.grant"),
        ("user:a", "key.revoke"),
        ("cli", "key.create"),
    ]
    .into_iter()
    .enumerate()
    {
        api.store
            .record_audit(
                AuditEvent {
                    actor: actor.into(),
                    action: action.into(),
                    target: Some(format!("thing:{n}")),
                    source: None,
                    details: None,
                },
                now - Duration::minutes(10 - n as i64),
            )
            .await?;
    }
    let targets = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|e| e["target"].as_str().map(str::to_string))
            .collect()
    };
    let (_, first) = api.get("/api/audit?limit=2&actor=cli", &token).await?;
    ensure!(targets(&first) == ["thing:4", "thing:2"], "{first}");
    let next = first["next_cursor"].as_str().expect("more");
    let (_, second) = api
        .get(
            &format!("/api/audit?limit=2&actor=cli&cursor={next}"),
            &token,
        )
        .await?;
    ensure!(
        targets(&second) == ["thing:0"] && second.get("next_cursor").is_none(),
        "{second}"
    );
    let (_, keys) = api.get("/api/audit?action=key.", &token).await?;
    ensure!(
        targets(&keys) == ["thing:4", "thing:3", "thing:0"],
        "{keys}"
    );
    let since = (now - Duration::minutes(7)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let until = (now - Duration::minutes(6) - Duration::seconds(30))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let (_, window) = api
        .get(&format!("/api/audit?since={since}&until={until}"), &token)
        .await?;
    ensure!(targets(&window) == ["thing:3"], "{window}");
    expect_error(
        &api.get("/api/audit?since=last-week", &token).await?,
        400,
        "bad_query",
        "since",
    )?;
    Ok(api)
}
