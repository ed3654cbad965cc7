//! `/api/signals`: recent signals, one signal with its deliveries counted, and its
//! per-trader delivery records.

use anyhow::ensure;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use herald_domain::{SignalFormat, StaffRole, parse_signal};
use herald_store::{QueuedSignal, Recipient};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(
    signals_and_their_deliveries,
    signals_received_at_the_same_instant_are_all_listed
);

async fn signals_received_at_the_same_instant_are_all_listed(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    // To the nanosecond, as JetStream's publish times are (SQLite keeps them all).
    let at = DateTime::<Utc>::from_timestamp(1_796_000_000, 123_456_789).expect("time");
    let mut ids = vec![
        stored_buy_at(&api, at).await?.to_string(),
        stored_buy_at(&api, at).await?.to_string(),
        stored_buy_at(&api, at + Duration::nanoseconds(1))
            .await?
            .to_string(),
    ];
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/signals?limit=1&cursor={c}"),
            None => "/api/signals?limit=1".to_string(),
        };
        let (status, page) = api.get(&path, &token).await?;
        ensure!(status == 200, "{status} {page}");
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|s| s["id"].as_str().expect("id").to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        ensure!(seen.len() <= 3, "pages repeat: {seen:?}");
    }
    seen.sort();
    ids.sort();
    ensure!(seen == ids, "listed {seen:?}, stored {ids:?}");
    Ok(api)
}

/// Stores a buy received `ago` before now; returns its id.
pub async fn stored_buy(api: &Api, ago: Duration) -> anyhow::Result<Uuid> {
    stored_buy_at(api, Utc::now() - ago).await
}

/// Stores a buy received at `at` (to the nanosecond); returns its id.
pub async fn stored_buy_at(api: &Api, at: DateTime<Utc>) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let body = json!({
        "id": id, "kind": "buy", "asset": "BTC/USD", "entry_price": "45250",
        "target_price": "46500", "stop_loss": "44500", "timeframe": "1H", "confidence": 85,
        "generated_at": (at - Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let signal =
        parse_signal(body.to_string().as_bytes(), at).map_err(|e| anyhow::anyhow!("{e}"))?;
    api.store
        .insert_signal(&signal, at, Utc::now() + Duration::hours(1))
        .await?;
    Ok(id)
}

async fn signals_and_their_deliveries(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    let older = stored_buy(&api, Duration::minutes(10)).await?;
    let newer = stored_buy(&api, Duration::minutes(1)).await?;

    let (status, page) = api.get("/api/signals?limit=1", &token).await?;
    ensure!(status == 200, "{status} {page}");
    ensure!(
        page["items"][0]["id"] == newer.to_string(),
        "newest first: {page}"
    );
    ensure!(
        page["items"][0]["signal"]["entry_price"] == "45250",
        "{page}"
    );
    let next = page["next_cursor"].as_str().expect("more");
    let (_, rest) = api
        .get(&format!("/api/signals?limit=1&cursor={next}"), &token)
        .await?;
    ensure!(
        rest["items"][0]["id"] == older.to_string() && rest.get("next_cursor").is_none(),
        "{rest}"
    );
    expect_error(
        &api.get("/api/signals?cursor=5_x", &token).await?,
        400,
        "bad_query",
        "cursor",
    )?;

    // Three traders get the newer one; one is sent.
    let signal = api
        .store
        .signal(herald_domain::SignalId(newer))
        .await?
        .expect("stored");
    let mut recipients = Vec::new();
    for n in 2..=4 {
        let user = api.trader(n, &format!("t{n}")).await?;
        recipients.push(Recipient::new(user.id, n, SignalFormat::Detailed));
    }
    let queued = QueuedSignal::new(&signal, Some(Utc::now() + Duration::hours(1)));
    api.store
        .create_deliveries(&queued, &recipients, Utc::now())
        .await?;
    let deliveries = api.store.deliveries_for_signal(signal.id).await?;
    api.store
        .record_sent(deliveries[0].id, 77, Utc::now())
        .await?;

    let (status, one) = api.get(&format!("/api/signals/{newer}"), &token).await?;
    ensure!(status == 200, "{status} {one}");
    ensure!(
        one["deliveries"]["pending"] == 2 && one["deliveries"]["sent"] == 1,
        "{one}"
    );
    ensure!(one["kind"] == "buy" && one["asset"] == "BTC/USD", "{one}");

    let (_, all) = api
        .get(&format!("/api/signals/{newer}/deliveries?limit=2"), &token)
        .await?;
    ensure!(
        all["items"].as_array().expect("items").len() == 2 && all["next_cursor"].is_string(),
        "{all}"
    );
    let (_, sent) = api
        .get(
            &format!("/api/signals/{newer}/deliveries?status=sent"),
            &token,
        )
        .await?;
    let sent = sent["items"].as_array().expect("items").clone();
    ensure!(
        sent.len() == 1 && sent[0]["telegram_message_id"] == 77,
        "{sent:?}"
    );
    ensure!(sent[0]["user_id"] == recipients[0].user_id.to_string());

    expect_error(
        &api.get(
            &format!("/api/signals/{newer}/deliveries?status=lost"),
            &token,
        )
        .await?,
        400,
        "bad_query",
        "lost",
    )?;
    let nothing: Value = api
        .get(&format!("/api/signals/{}", Uuid::now_v7()), &token)
        .await?
        .1;
    ensure!(nothing["error"]["code"] == "not_found", "{nothing}");
    expect_error(
        &api.get(
            &format!("/api/signals/{}/deliveries", Uuid::now_v7()),
            &token,
        )
        .await?,
        404,
        "not_found",
        "no signal",
    )?;
    expect_error(
        &api.get("/api/signals/abc/deliveries", &token).await?,
        400,
        "malformed_id",
        "signal id",
    )?;
    Ok(api)
}
