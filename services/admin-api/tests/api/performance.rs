//! `GET /api/stats/performance`: the figures of the signals generated in a window, with
//! positions opened and closed through the store as the dispatcher stores them.

use anyhow::ensure;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use herald_domain::{Signal, StaffRole, judge_close, parse_signal};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(performance_of_a_window, performance_refusals);

/// Stores a signal built from `fields`, generated at `at`.
async fn store_signal(api: &Api, mut fields: Value, at: DateTime<Utc>) -> anyhow::Result<Signal> {
    fields["id"] = json!(Uuid::now_v7());
    fields["confidence"] = json!(80);
    fields["generated_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    let signal = parse_signal(fields.to_string().as_bytes(), at)
        .map_err(|e| anyhow::anyhow!("{fields}: {e}"))?;
    api.store
        .insert_signal(&signal, at, at + Duration::hours(1))
        .await?;
    Ok(signal)
}

/// Opens a position: a buy or sell with its prices, by `model` if given.
async fn open(
    api: &Api,
    kind: &str,
    asset: &str,
    [entry, stop, target]: [&str; 3],
    model: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<Signal> {
    let mut fields = json!({
        "kind": kind, "asset": asset, "timeframe": "1H",
        "entry_price": entry, "stop_loss": stop, "target_price": target,
    });
    if let Some(model) = model {
        fields["source_model"] = json!(model);
    }
    store_signal(api, fields, at).await
}

/// Closes `position` at `at`, at `exit` (else as its `reason` says), as the dispatcher does:
/// the close judged against the stored position, then stored with its outcome.
async fn close(
    api: &Api,
    position: &Signal,
    exit: Option<&str>,
    reason: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut fields = json!({
        "id": Uuid::now_v7(), "kind": "close", "asset": position.asset.as_str(),
        "closes_signal_id": position.id.0, "reason": reason, "confidence": 80,
        "generated_at": at.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    if let Some(exit) = exit {
        fields["entry_price"] = json!(exit);
    }
    let signal = parse_signal(fields.to_string().as_bytes(), at)
        .map_err(|e| anyhow::anyhow!("{fields}: {e}"))?;
    let outcome = judge_close(&signal, &api.store.position(position.id).await?)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .expect("the close names a position");
    api.store
        .insert_close(&signal, at, at + Duration::hours(1), &outcome, at)
        .await?;
    Ok(())
}

/// Signals over the last 40 days, by `now`:
///
/// | signal | generated | model | ends |
/// |---|---|---|---|
/// | buy BTC/USD at 100 | 2 days ago | lstm | closed 36 h ago at 110: +10 % |
/// | sell ETH/USD at 200 | 30 h ago | lstm | closed 12 h ago at 210: −5 % |
/// | buy BTC/USD at 50 | 3 h ago | gbm | closed 2 h ago at its target, 60: +20 % |
/// | buy SOL/USD at 30 | 90 min ago | — | closed 80 min ago at 30: 0 % |
/// | sell ETH/USD at 210 | 1 h ago | gbm | open |
/// | alert BTC/USD | 30 min ago | — | — |
/// | buy BTC/USD at 100 | 10 days ago | lstm | closed 9 days ago at 101: +1 % |
/// | sell ETH/USD at 100 | 40 days ago | — | open |
///
/// Closes carry no model.
async fn seed(api: &Api, now: DateTime<Utc>) -> anyhow::Result<()> {
    let h = Duration::hours;
    let lstm = Some("lstm");
    let gbm = Some("gbm");
    let p1 = open(
        api,
        "buy",
        "BTC/USD",
        ["100", "90", "120"],
        lstm,
        now - h(48),
    )
    .await?;
    close(api, &p1, Some("110"), "manual", now - h(36)).await?;
    let p2 = open(
        api,
        "sell",
        "ETH/USD",
        ["200", "220", "180"],
        lstm,
        now - h(30),
    )
    .await?;
    close(api, &p2, Some("210"), "stop", now - h(12)).await?;
    let p3 = open(api, "buy", "BTC/USD", ["50", "40", "60"], gbm, now - h(3)).await?;
    close(api, &p3, None, "target", now - h(2)).await?;
    let p4 = open(
        api,
        "buy",
        "SOL/USD",
        ["30", "25", "40"],
        None,
        now - Duration::minutes(90),
    )
    .await?;
    close(api, &p4, Some("30"), "manual", now - Duration::minutes(80)).await?;
    open(
        api,
        "sell",
        "ETH/USD",
        ["210", "230", "190"],
        gbm,
        now - h(1),
    )
    .await?;
    store_signal(
        api,
        json!({"kind": "alert", "asset": "BTC/USD", "market_context": "CPI at 12:30"}),
        now - Duration::minutes(30),
    )
    .await?;
    let old = open(
        api,
        "buy",
        "BTC/USD",
        ["100", "90", "120"],
        lstm,
        now - h(240),
    )
    .await?;
    close(api, &old, Some("101"), "manual", now - h(216)).await?;
    open(
        api,
        "sell",
        "ETH/USD",
        ["100", "110", "90"],
        None,
        now - h(960),
    )
    .await?;
    Ok(())
}

async fn performance_of_a_window(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    let now = Utc::now();
    seed(&api, now).await?;

    // The default window: the last 7 days.
    let (status, week) = api.get("/api/stats/performance", &token).await?;
    ensure!(status == 200, "{status} {week}");
    ensure!(week["window"] == "7d", "{week}");
    let from = week["from"]
        .as_str()
        .expect("from")
        .parse::<DateTime<Utc>>()?;
    let to = week["to"].as_str().expect("to").parse::<DateTime<Utc>>()?;
    ensure!(to - from == Duration::days(7), "{week}");
    ensure!((to - now).num_seconds().abs() < 60, "ends now: {week}");
    ensure!(week["enough_data"] == true, "{week}");
    ensure!(
        week["signals"]
            == json!({
                "total": 10,
                "by_kind": {"buy": 3, "sell": 2, "close": 4, "alert": 1},
                "by_asset": [
                    {"asset": "BTC/USD", "signals": 5},
                    {"asset": "ETH/USD", "signals": 3},
                    {"asset": "SOL/USD", "signals": 2},
                ],
            }),
        "{week}"
    );
    ensure!(
        week["positions"]
            == json!({
                "total": 5, "closed": 4, "open": 1, "measured": 4,
                "wins": 2, "losses": 1, "flat": 1, "win_rate": "50",
            }),
        "{week}"
    );
    // Decimals are strings, exactly.
    ensure!(
        week["returns"]
            == json!({
                "total": "25", "average": "6.25", "median": "5",
                "best": {"asset": "BTC/USD", "return_pct": "20"},
                "worst": {"asset": "ETH/USD", "return_pct": "-5"},
            }),
        "{week}"
    );
    ensure!(
        week["models"]
            == json!([
                {"model": "unnamed", "signals": 6, "closed": 1, "win_rate": "0", "average_return": "0"},
                {"model": "gbm", "signals": 2, "closed": 1, "win_rate": "100", "average_return": "20"},
                {"model": "lstm", "signals": 2, "closed": 2, "win_rate": "50", "average_return": "2.5"},
            ]),
        "{week}"
    );

    // 24 hours: the sell of 30 hours ago is out, its close (12 hours ago) in.
    let (_, day) = api.get("/api/stats/performance?window=24h", &token).await?;
    ensure!(day["window"] == "24h", "{day}");
    ensure!(
        day["signals"]["total"] == 7
            && day["signals"]["by_kind"] == json!({"buy": 2, "sell": 1, "close": 3, "alert": 1}),
        "{day}"
    );
    ensure!(
        day["positions"]
            == json!({
                "total": 3, "closed": 2, "open": 1, "measured": 2,
                "wins": 1, "losses": 0, "flat": 1, "win_rate": "50",
            }),
        "{day}"
    );
    ensure!(
        day["returns"]["total"] == "20"
            && day["returns"]["average"] == "10"
            && day["returns"]["median"] == "10"
            && day["returns"]["worst"] == json!({"asset": "SOL/USD", "return_pct": "0"}),
        "{day}"
    );

    // 30 days and all time: the older positions join.
    let (_, month) = api.get("/api/stats/performance?window=30d", &token).await?;
    ensure!(
        month["signals"]["total"] == 12
            && month["positions"]["total"] == 6
            && month["positions"]["wins"] == 3
            && month["positions"]["win_rate"] == "60"
            && month["returns"]["total"] == "26"
            && month["returns"]["average"] == "5.2"
            && month["returns"]["median"] == "1",
        "{month}"
    );
    let (_, all) = api.get("/api/stats/performance?window=ALL", &token).await?;
    ensure!(
        all["window"] == "all"
            && all["from"].is_null()
            && all["signals"]["total"] == 13
            && all["positions"]["open"] == 2,
        "{all}"
    );

    // From/to: the signals generated between 4 days and 20 hours ago; the sell closed after
    // `to` still counts with its return.
    let at = |hours: i64| (now - Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, range) = api
        .get(
            &format!("/api/stats/performance?from={}&to={}", at(96), at(20)),
            &token,
        )
        .await?;
    ensure!(status == 200, "{status} {range}");
    ensure!(
        range["window"].is_null() && range["from"] == at(96) && range["to"] == at(20),
        "{range}"
    );
    ensure!(
        range["signals"]["total"] == 3
            && range["positions"]["closed"] == 2
            && range["positions"]["win_rate"] == "50"
            && range["returns"]["total"] == "5"
            && range["returns"]["median"] == "2.5",
        "{range}"
    );

    // A window without signals: not enough data, every return null.
    let (_, empty) = api
        .get(
            "/api/stats/performance?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z",
            &token,
        )
        .await?;
    ensure!(
        empty["enough_data"] == false
            && empty["signals"]["total"] == 0
            && empty["signals"]["by_kind"] == json!({"buy": 0, "sell": 0, "close": 0, "alert": 0})
            && empty["positions"]["win_rate"].is_null()
            && empty["returns"]
                == json!({"total": null, "average": null, "median": null, "best": null, "worst": null})
            && empty["models"] == json!([]),
        "{empty}"
    );

    // An open position only: still not enough data.
    let (_, open_only) = api
        .get(&format!("/api/stats/performance?from={}", at(1)), &token)
        .await?;
    ensure!(
        open_only["enough_data"] == false && open_only["positions"]["open"] == 1,
        "{open_only}"
    );
    Ok(api)
}

async fn performance_refusals(api: Api) -> anyhow::Result<Api> {
    let viewer = api.staff(1, StaffRole::Viewer).await?;
    let token = api.token(&viewer);
    for (query, field, says) in [
        ("window=1y", "window", "unknown period"),
        ("window=7d&from=2026-01-01T00:00:00Z", "window", "not both"),
        ("from=yesterday", "from", "RFC 3339"),
        ("to=2026-13-01T00:00:00Z", "to", "RFC 3339"),
        (
            "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from",
            "is not before to",
        ),
        (
            "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "from",
            "is not before to",
        ),
    ] {
        let got = api
            .get(&format!("/api/stats/performance?{query}"), &token)
            .await?;
        expect_error(&got, 422, "invalid", says)?;
        ensure!(
            got.1["error"]["details"][0]["field"] == field,
            "{query}: {}",
            got.1
        );
    }
    let got = api
        .get("/api/stats/performance?from=soon&to=later", &token)
        .await?;
    expect_error(&got, 422, "invalid", "2 problems")?;
    expect_error(
        &api.get("/api/stats/performance?period=7d", &token).await?,
        400,
        "bad_query",
        "period",
    )?;

    // Who may ask: staff, or a key with `stats:read`; nobody without either.
    expect_error(
        &api.call("GET", "/api/stats/performance", None, None)
            .await?,
        401,
        "unauthorized",
        "staff token",
    )?;
    let admin = api.staff(2, StaffRole::Admin).await?;
    let admin_token = api.token(&admin);
    let mut keys = Vec::new();
    for scope in ["stats:read", "signals:write"] {
        let (status, created) = api
            .call(
                "POST",
                "/api/keys",
                Some(&admin_token),
                Some(json!({"name": scope, "scopes": [scope]})),
            )
            .await?;
        ensure!(status == 201, "{status} {created}");
        keys.push(created["key"].as_str().expect("key").to_string());
    }
    let with_key = |key: &str| {
        api.request(reqwest::Method::GET, "/api/stats/performance?window=24h")
            .header("x-api-key", key)
            .send()
    };
    let reader = with_key(&keys[0]).await?;
    ensure!(reader.status() == 200, "{}", reader.status());
    let figures: Value = reader.json().await?;
    ensure!(figures["enough_data"] == false, "{figures}");
    let writer = with_key(&keys[1]).await?;
    ensure!(writer.status() == 403, "{}", writer.status());
    Ok(api)
}
