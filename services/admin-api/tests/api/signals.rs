//! `/api/signals`: recent signals, one signal with its deliveries counted, and its
//! per-trader delivery records.

use anyhow::ensure;
use chrono::{Duration, SecondsFormat, Utc};
use herald_domain::{SignalFormat, StaffRole, parse_signal};
use herald_store::{QueuedSignal, Recipient};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(signals_and_their_deliveries);

/// Stores a buy received `ago` before now; returns its id.
pub async fn stored_buy(api: &Api, ago: Duration) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let body = json!({
        "id": id, "kind": "buy", "asset": "BTC/USD", "entry_price": "45250",
        "target_price": "46500", "stop_loss": "44500", "timeframe": "1H", "confidence": 85,
        "generated_at": (now - ago - Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let signal =
        parse_signal(body.to_string().as_bytes(), now - ago).map_err(|e| anyhow::anyhow!("{e}"))?;
    api.store
        .insert_signal(&signal, now - ago, now + Duration::hours(1))
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
