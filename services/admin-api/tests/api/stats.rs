//! `GET /api/stats`: a window's figures, by token.

use anyhow::ensure;
use chrono::{Duration, SecondsFormat, Utc};
use herald_domain::{SignalFormat, StaffRole};
use herald_store::{QueuedSignal, Recipient};

use crate::common::{Api, expect_error, on_both_backends};
use crate::signals::stored_buy;

on_both_backends!(stats_of_a_window);

async fn stats_of_a_window(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    let id = stored_buy(&api, Duration::minutes(5)).await?;
    stored_buy(&api, Duration::hours(30)).await?;
    let signal = api
        .store
        .signal(herald_domain::SignalId(id))
        .await?
        .expect("stored");
    let trader = api.trader(2, "t").await?;
    api.store
        .create_deliveries(
            &QueuedSignal::new(&signal, None),
            &[Recipient::new(trader.id, 2, SignalFormat::Detailed)],
            Utc::now(),
        )
        .await?;
    let delivery = api.store.deliveries_for_signal(signal.id).await?[0].id;
    api.store.record_sent(delivery, 1, Utc::now()).await?;

    let (status, stats) = api.get("/api/stats", &token).await?;
    ensure!(status == 200, "{status} {stats}");
    ensure!(stats["users"]["total"] == 2, "{stats}");
    ensure!(
        stats["signals"]["total"] == 1 && stats["signals"]["by_kind"]["buy"] == 1,
        "the last 24 h: {stats}"
    );
    ensure!(stats["deliveries"]["by_status"]["sent"] == 1, "{stats}");
    ensure!(stats["deliveries"]["success_rate"] == 1.0, "{stats}");
    let p50 = stats["deliveries"]["latency_p50_ms"].as_f64().expect("p50");
    ensure!(
        (4.0 * 60_000.0..6.0 * 60_000.0).contains(&p50),
        "about five minutes: {p50}"
    );

    let from = (Utc::now() - Duration::days(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (_, wide) = api.get(&format!("/api/stats?from={from}"), &token).await?;
    ensure!(wide["signals"]["total"] == 2, "{wide}");
    let to = (Utc::now() - Duration::days(3)).to_rfc3339_opts(SecondsFormat::Secs, true);
    expect_error(
        &api.get(&format!("/api/stats?from={from}&to={to}"), &token)
            .await?,
        400,
        "bad_query",
        "must be before",
    )?;
    expect_error(
        &api.get("/api/stats?from=yesterday", &token).await?,
        400,
        "bad_query",
        "from",
    )?;
    Ok(api)
}
