//! Authentication from outside: tokens that must be refused, the two-factor login and its
//! limits, API keys on `/api/stats`.

use anyhow::{Context as _, ensure};
use chrono::{Duration, Utc};
use data_encoding::BASE64URL_NOPAD;
use herald_auth::{JwtKeys, hash_one_time_code};
use herald_domain::{Scope, StaffRole};
use herald_store::{AuditFilter, LoginCode, NewApiKey};
use serde_json::json;
use uuid::Uuid;

use crate::common::{Api, expect_error, on_both_backends};

on_both_backends!(
    bad_tokens_are_refused_and_recorded,
    roles_are_enforced_and_follow_the_store,
    logins_in_parallel_get_no_more_codes_than_one_by_one,
    the_two_factor_login_works_once,
    failed_logins_are_limited,
    api_keys_reach_stats_only_with_their_scope,
    metrics_and_probes_are_apart_and_logins_are_counted,
);

/// Signs `claims` with HS256 and the service's key, bypassing `JwtKeys` (to make tokens it
/// would never make).
fn sign(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key"),
    )
    .expect("sign")
}

fn claims(sub: Uuid, aud: &str, iss: &str, exp_in: Duration) -> serde_json::Value {
    let now = Utc::now();
    json!({
        "sub": sub, "role": "admin", "iat": now.timestamp(), "exp": (now + exp_in).timestamp(),
        "iss": iss, "aud": aud, "jti": Uuid::now_v7(),
    })
}

async fn bad_tokens_are_refused_and_recorded(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(100, StaffRole::Admin).await?;
    let id = admin.user.id;
    let secret = crate::common::JWT_SECRET;

    let missing = api.call("GET", "/api/users", None, None).await?;
    expect_error(&missing, 401, "unauthorized", "Authorization: Bearer")?;
    let raw = api
        .request(reqwest::Method::GET, "/api/users")
        .send()
        .await?;
    ensure!(
        raw.headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Bearer")),
        "a 401 says how to authenticate"
    );

    let expired = api
        .jwt
        .issue(
            id,
            StaffRole::Admin,
            Utc::now() - Duration::hours(2),
            Duration::minutes(15),
        )?
        .token;
    let other_key = JwtKeys::new(b"another-secret-that-is-32-bytes-long!!")?
        .issue(id, StaffRole::Admin, Utc::now(), Duration::minutes(15))?
        .token;
    let none = format!(
        "{}.{}.",
        BASE64URL_NOPAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        BASE64URL_NOPAD.encode(
            claims(id, "herald-admin-api", "herald", Duration::minutes(5))
                .to_string()
                .as_bytes()
        )
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(id, "herald-admin-api", "herald", Duration::minutes(5)),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key"),
    )?;
    let wrong_audience = sign(
        claims(id, "herald-ingest", "herald", Duration::minutes(5)),
        secret,
    );
    let wrong_issuer = sign(
        claims(id, "herald-admin-api", "someone", Duration::minutes(5)),
        secret,
    );
    let mut no_sub = claims(id, "herald-admin-api", "herald", Duration::minutes(5));
    no_sub.as_object_mut().expect("object").remove("sub");
    let no_sub = sign(no_sub, secret);
    let stranger = sign(
        claims(
            Uuid::now_v7(),
            "herald-admin-api",
            "herald",
            Duration::minutes(5),
        ),
        secret,
    );
    for (what, token, says) in [
        ("garbage", "not-a-token".to_string(), "invalid token"),
        ("expired", expired, "invalid token"),
        ("signed with another key", other_key, "invalid token"),
        ("alg none", none, "invalid token"),
        ("HS512", hs512, "invalid token"),
        ("wrong audience", wrong_audience, "invalid token"),
        ("wrong issuer", wrong_issuer, "invalid token"),
        ("without sub", no_sub, "invalid token"),
        ("of no user", stranger, "no longer staff"),
    ] {
        let got = api.get("/api/users", &token).await?;
        expect_error(&got, 401, "unauthorized", says).map_err(|e| e.context(what))?;
        ensure!(
            !got.1.to_string().contains(&token),
            "{what}: the answer repeats the token"
        );
    }
    // The right token works.
    let (status, _) = api.get("/api/users", &api.token(&admin)).await?;
    ensure!(status == 200, "a valid token is accepted");

    // Every refusal reaches the audit log (coalesced, within a few seconds), never with the
    // token.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let failures = api
            .store
            .audit_page(
                &AuditFilter {
                    action: Some("auth.failed".into()),
                    ..AuditFilter::default()
                },
                None,
                100,
            )
            .await?;
        let count: u64 = failures.iter().map(|f| f.occurrences).sum();
        if count >= 11 {
            ensure!(
                failures
                    .iter()
                    .all(|f| f.source.as_deref() == Some("127.0.0.1"))
            );
            // Each with why, precisely (the client only ever hears "invalid token").
            let reasons: std::collections::BTreeSet<&str> = failures
                .iter()
                .filter_map(|f| f.details.as_ref()?["reason"].as_str())
                .collect();
            for reason in [
                "missing_token",
                "malformed_token",
                "expired_token",
                "bad_signature",
                "wrong_algorithm",
                "wrong_audience",
                "wrong_issuer",
                "not_staff",
            ] {
                ensure!(reasons.contains(reason), "{reason} not among {reasons:?}");
            }
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "expected 11 recorded failures, got {count}: {failures:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Ok(api)
}

async fn roles_are_enforced_and_follow_the_store(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(200, StaffRole::Admin).await?;
    let viewer = api.staff(201, StaffRole::Viewer).await?;
    let (admin_token, viewer_token) = (api.token(&admin), api.token(&viewer));
    let trader = api.trader(202, "trader").await?;

    let (status, _) = api.get("/api/users", &viewer_token).await?;
    ensure!(status == 200, "a viewer reads users");
    let forbidden = api.get("/api/audit", &viewer_token).await?;
    expect_error(&forbidden, 403, "forbidden", "admin role")?;
    let put = api
        .call(
            "PUT",
            &format!("/api/users/{}/preferences", trader.id),
            Some(&viewer_token),
            Some(json!({})),
        )
        .await?;
    expect_error(&put, 403, "forbidden", "admin role")?;
    let keys = api
        .call(
            "POST",
            "/api/keys",
            Some(&viewer_token),
            Some(json!({"name": "x"})),
        )
        .await?;
    expect_error(&keys, 403, "forbidden", "admin role")?;
    let (status, _) = api.get("/api/audit", &admin_token).await?;
    ensure!(status == 200, "an admin reads the audit log");

    // Lowered to viewer: the admin's token reads but no longer changes anything.
    api.store
        .set_staff_role(
            admin.user.telegram_id,
            Some(StaffRole::Viewer),
            chrono::Utc::now(),
        )
        .await?;
    expect_error(
        &api.get("/api/audit", &admin_token).await?,
        403,
        "forbidden",
        "admin role",
    )?;
    // Revoked: refused at once, token or not.
    api.store
        .set_staff_role(admin.user.telegram_id, None, chrono::Utc::now())
        .await?;
    expect_error(
        &api.get("/api/users", &admin_token).await?,
        401,
        "unauthorized",
        "no longer staff",
    )?;
    // Granted again: the tokens from before the revocation stay dead; new ones work.
    let old_token = api
        .jwt
        .issue(
            admin.user.id,
            StaffRole::Admin,
            Utc::now() - Duration::seconds(30),
            Duration::minutes(15),
        )?
        .token;
    api.store
        .set_staff_role(admin.user.telegram_id, Some(StaffRole::Admin), Utc::now())
        .await?;
    expect_error(
        &api.get("/api/users", &old_token).await?,
        401,
        "unauthorized",
        "issued before",
    )?;
    let fresh = api
        .jwt
        .issue(
            admin.user.id,
            StaffRole::Admin,
            Utc::now(),
            Duration::minutes(15),
        )?
        .token;
    ensure!(api.get("/api/users", &fresh).await?.0 == 200);
    // A trader given a token by mistake is no staff either.
    let trader_token = api
        .jwt
        .issue(
            trader.id,
            StaffRole::Admin,
            Utc::now(),
            Duration::minutes(5),
        )?
        .token;
    expect_error(
        &api.get("/api/users", &trader_token).await?,
        401,
        "unauthorized",
        "no longer staff",
    )?;
    Ok(api)
}

async fn the_two_factor_login_works_once(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(300, StaffRole::Admin).await?;
    let token = api.login(&admin).await?;
    let (status, me) = api
        .get(&format!("/api/users/{}", admin.user.id), &token)
        .await?;
    ensure!(
        status == 200 && me["staff_role"] == "admin",
        "{status} {me}"
    );

    // The code message says what it is and for how long.
    let message = &api.telegram.sent_to(300)[0];
    ensure!(message.text.contains("admin login code") && message.text.contains("5 minutes"));

    // The same code again: refused (and so is its TOTP code, already used).
    let code = api.code_sent(300, 0).await?;
    let replay = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"telegram_id": 300, "code": code, "totp": admin.totp.code_at(Utc::now().timestamp())})),
        )
        .await?;
    expect_error(
        &replay,
        401,
        "unauthorized",
        "wrong, expired or already used",
    )?;

    // A fresh code with a TOTP code already used: refused.
    let before = api.telegram.sent_to(300).len();
    let (status, _) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"telegram_id": 300})),
        )
        .await?;
    ensure!(status == 202);
    let fresh = api.code_sent(300, before).await?;
    let used_totp = admin.totp.code_at(Utc::now().timestamp());
    let got = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"telegram_id": 300, "code": fresh, "totp": used_totp})),
        )
        .await?;
    // Either the step was used by the first login (refused), or the clock moved to a new
    // step meanwhile (accepted): both are right; a wrong TOTP code never is.
    ensure!(got.0 == 401 || got.0 == 200, "{got:?}");
    let wrong_totp = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"telegram_id": 300, "code": fresh, "totp": "000000"})),
        )
        .await?;
    expect_error(
        &wrong_totp,
        401,
        "unauthorized",
        "wrong, expired or already used",
    )?;

    // An expired code never works.
    let id = Uuid::now_v7();
    let now = Utc::now();
    api.store
        .add_login_code(
            admin.user.id,
            &LoginCode {
                id,
                code_hash: hash_one_time_code(&id.to_string(), "123456"),
            },
            now - Duration::minutes(10),
            now - Duration::minutes(5),
        )
        .await?;
    let expired = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"telegram_id": 300, "code": "123456", "totp": admin.totp.code_at(now.timestamp() + 30)})),
        )
        .await?;
    expect_error(
        &expired,
        401,
        "unauthorized",
        "wrong, expired or already used",
    )?;

    // Anyone else gets the same answer to login, and nothing is sent.
    api.trader(301, "trader").await?;
    for telegram_id in [301, 999_999] {
        let (status, body) = api
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"telegram_id": telegram_id})),
            )
            .await?;
        ensure!(status == 202 && body["status"] == "sent", "{status} {body}");
        ensure!(
            api.telegram.sent_to(telegram_id).is_empty(),
            "nothing to non-staff"
        );
    }
    // Staff without an authenticator are told in their chat how to enrol, and cannot log in.
    api.trader(302, "newadmin").await?;
    api.store
        .set_staff_role(302, Some(StaffRole::Admin), chrono::Utc::now())
        .await?;
    let (status, _) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"telegram_id": 302})),
        )
        .await?;
    ensure!(status == 202);
    let told = api
        .telegram
        .wait_for_messages(302, 1, std::time::Duration::from_secs(10))
        .await?;
    ensure!(
        told[0]
            .text
            .contains("herald admin totp-enroll --telegram-id 302"),
        "{:?}",
        told[0].text
    );

    // The login is in the audit log, with the source address; failures too.
    let audit = api.get("/api/audit?action=auth.", &token).await?.1;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for wanted in [
        "auth.code_requested",
        "auth.login_code",
        "auth.login",
        "auth.login_failed",
    ] {
        ensure!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
    ensure!(audit["items"][0]["source"] == "127.0.0.1");
    Ok(api)
}

async fn logins_in_parallel_get_no_more_codes_than_one_by_one(api: Api) -> anyhow::Result<Api> {
    api.staff(500, StaffRole::Admin).await?;
    let asks = (0..12).map(|_| {
        api.call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"telegram_id": 500})),
        )
    });
    let answers = futures::future::join_all(asks).await;
    let mut accepted = 0;
    for answer in answers {
        match answer? {
            (202, _) => accepted += 1,
            got => expect_error(&got, 429, "rate_limited", "logins were asked")?,
        }
    }
    // Each request is recorded before it is counted, so a burst may find every one of its
    // requests already over the limit (none accepted): never more than the limit.
    ensure!(accepted <= 3, "{accepted} of 12 parallel logins accepted");
    // Every accepted one sends its code (in the background), and no more are sent.
    if accepted > 0 {
        api.telegram
            .wait_for_messages(500, accepted, std::time::Duration::from_secs(15))
            .await?;
    }
    let stored = api
        .store
        .login_codes_since(
            api.store.user_by_telegram_id(500).await?.expect("staff").id,
            Utc::now() - Duration::minutes(10),
        )
        .await?;
    ensure!(
        stored == accepted as u64,
        "{stored} codes stored, {accepted} accepted"
    );
    Ok(api)
}

async fn failed_logins_are_limited(api: Api) -> anyhow::Result<Api> {
    let admin = api.staff(400, StaffRole::Admin).await?;
    let (status, _) = api
        .call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"telegram_id": 400})),
        )
        .await?;
    ensure!(status == 202);
    let code = api.code_sent(400, 0).await?;
    for _ in 0..5 {
        let got = api
            .call(
                "POST",
                "/api/auth/verify",
                None,
                Some(json!({"telegram_id": 400, "code": code, "totp": "000000"})),
            )
            .await?;
        expect_error(&got, 401, "unauthorized", "wrong")?;
    }
    // Now even the right pair is refused, with when to come back.
    let response = api
        .request(reqwest::Method::POST, "/api/auth/verify")
        .json(&json!({"telegram_id": 400, "code": code, "totp": admin.totp.code_at(Utc::now().timestamp())}))
        .send()
        .await?;
    ensure!(response.status() == 429, "{}", response.status());
    ensure!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await?;
    ensure!(body["error"]["code"] == "rate_limited", "{body}");
    // The code itself was burnt by the wrong tries.
    ensure!(
        api.store
            .live_login_codes(admin.user.id, Utc::now())
            .await?
            .is_empty()
    );

    // Asking for codes: the same limit, the same answer, staff or not.
    api.staff(401, StaffRole::Viewer).await?;
    api.trader(402, "trader").await?;
    let mut fourth = Vec::new();
    for telegram_id in [401, 402, 403] {
        for _ in 0..3 {
            let (status, _) = api
                .call(
                    "POST",
                    "/api/auth/login",
                    None,
                    Some(json!({"telegram_id": telegram_id})),
                )
                .await?;
            ensure!(status == 202, "{telegram_id}: {status}");
        }
        let got = api
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(json!({"telegram_id": telegram_id})),
            )
            .await?;
        expect_error(
            &got,
            429,
            "rate_limited",
            "logins were asked for this account",
        )?;
        fourth.push(got.1["error"]["message"].clone());
    }
    ensure!(fourth.windows(2).all(|w| w[0] == w[1]), "{fourth:?}");
    Ok(api)
}

async fn api_keys_reach_stats_only_with_their_scope(api: Api) -> anyhow::Result<Api> {
    let make = |scopes: Vec<Scope>, allowed: Vec<String>| {
        let store = api.store.clone();
        async move {
            let generated = herald_auth::generate();
            let mut key = NewApiKey::ingest("k", &generated.hash, &generated.prefix);
            key.scopes = scopes;
            key.allowed_ips = allowed;
            let stored = store.create_api_key(key, Utc::now()).await?;
            anyhow::Ok((stored.id, herald_auth::reveal(&generated).to_string()))
        }
    };
    let stats = |key: String| {
        api.request(reqwest::Method::GET, "/api/stats")
            .header("x-api-key", key)
            .send()
    };
    let (reader_id, reader) = make(vec![Scope::StatsRead], vec![]).await?;
    let (_, writer) = make(vec![Scope::SignalsWrite], vec![]).await?;
    let (_, elsewhere) = make(vec![Scope::StatsRead], vec!["10.0.0.0/8".into()]).await?;

    let ok = stats(reader.clone()).await?;
    ensure!(ok.status() == 200, "{}", ok.status());
    let body: serde_json::Value = ok.json().await?;
    ensure!(body["users"]["total"].is_u64(), "{body}");

    let wrong_scope: serde_json::Value = stats(writer).await?.json().await?;
    ensure!(wrong_scope["error"]["code"] == "forbidden", "{wrong_scope}");
    ensure!(
        wrong_scope["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("stats:read")
    );
    let outside = stats(elsewhere).await?;
    ensure!(outside.status() == 403);
    let unknown = stats("hk_000000000000000000000000000000000000000000000000".into()).await?;
    ensure!(unknown.status() == 401);
    // A key never opens anything but what its scope names.
    let users = api
        .request(reqwest::Method::GET, "/api/users")
        .header("x-api-key", &reader)
        .send()
        .await?;
    ensure!(users.status() == 401, "{}", users.status());

    // Revoked: refused within the cache's lifetime (5 s by default).
    api.store.revoke_api_key(reader_id, Utc::now()).await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if stats(reader.clone()).await?.status() == 401 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "a revoked key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    Ok(api)
}

/// The value of the series `series` (name and labels, as rendered) on `api`'s `/metrics`.
async fn metric(api: &Api, series: &str) -> anyhow::Result<Option<f64>> {
    let text = reqwest::get(format!("{}/metrics", api.ops_url))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()))
}

async fn metrics_and_probes_are_apart_and_logins_are_counted(api: Api) -> anyhow::Result<Api> {
    // The public port: the API and /api/health; the metrics and probes are not there.
    for path in ["/metrics", "/livez", "/readyz"] {
        let got = api.call("GET", path, None, None).await?;
        expect_error(&got, 404, "not_found", path)?;
    }
    ensure!(api.call("GET", "/api/health", None, None).await?.0 == 200);
    // The operational port has them all.
    for path in ["/metrics", "/livez", "/readyz", "/api/health"] {
        let status = reqwest::get(format!("{}{path}", api.ops_url))
            .await?
            .status();
        ensure!(status == 200, "{path} on the ops port: {status}");
    }

    // Every login outcome is there from the start (other tests of this binary may count
    // too: only increases are checked).
    let bad_code = r#"herald_admin_logins_total{outcome="bad_code"}"#;
    let before = metric(&api, bad_code).await?.context("bad_code at start")?;
    for outcome in ["ok", "bad_second_factor", "locked"] {
        let series = format!(r#"herald_admin_logins_total{{outcome="{outcome}"}}"#);
        ensure!(metric(&api, &series).await?.is_some(), "{series}");
    }
    let got = api
        .call(
            "POST",
            "/api/auth/verify",
            None,
            Some(json!({"telegram_id": 777, "code": "123456", "totp": "000000"})),
        )
        .await?;
    expect_error(&got, 401, "unauthorized", "wrong")?;
    let after = metric(&api, bad_code).await?.context("bad_code")?;
    ensure!(after >= before + 1.0, "{before} -> {after}");
    let counted = metric(
        &api,
        r#"herald_http_requests_total{service="admin-api",route="/api/auth/verify",status="401"}"#,
    )
    .await?;
    ensure!(counted.is_some_and(|n| n >= 1.0), "{counted:?}");
    let errors = metric(
        &api,
        r#"herald_errors_total{service="admin-api",kind="database"}"#,
    )
    .await?;
    ensure!(
        errors.is_some(),
        "the error counter is there before any error"
    );
    Ok(api)
}
