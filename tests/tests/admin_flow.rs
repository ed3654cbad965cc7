//! The whole admin flow as an operator and an admin live it, with the real binaries (`herald
//! all` and the CLI) and the Telegram double: a trader is granted the admin role and enrols
//! an authenticator from the CLI, logs in with the code the bot sends to their chat and the
//! authenticator's code, calls the API, and finds all of it in the audit log; revoking their
//! role shuts their token out at once.

use anyhow::ensure;
use chrono::Utc;
use herald_auth::TotpSecret;
use herald_testkit::db::Backend;
use herald_tests::{Stack, trader};
use serde_json::{Value, json};

const ADMIN: i64 = 9_500;

async fn call(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_is_granted_logs_in_with_two_factors_and_is_audited() -> anyhow::Result<()> {
    let stack = Stack::start_all(Backend::Postgres, &[]).await?;
    let admin_api = stack.ops_url("ADMIN");
    let person = trader(ADMIN, "Grace");
    stack.start_only(&person).await?;

    let granted = stack
        .herald_command(&["admin", "grant", "--telegram-id", &ADMIN.to_string()])?
        .output()
        .await?;
    let said = String::from_utf8(granted.stderr)?;
    ensure!(
        granted.status.success() && said.contains("is now admin"),
        "{said}"
    );
    let enrolled = stack
        .herald_command(&["admin", "totp-enroll", "--telegram-id", &ADMIN.to_string()])?
        .output()
        .await?;
    ensure!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );
    let uri = String::from_utf8(enrolled.stdout)?;
    ensure!(uri.starts_with("otpauth://totp/Herald:"), "{uri}");
    let secret = uri
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .ok_or_else(|| anyhow::anyhow!("no secret in {uri}"))?;
    let totp = TotpSecret::from_base32(secret)?;
    ensure!(
        String::from_utf8(enrolled.stderr)?.lines().count() > 10,
        "a QR code is drawn on stderr"
    );

    // Log in: the code arrives in the admin's chat with the bot.
    let before = stack.telegram.sent_to(ADMIN).len();
    let (status, body) = call(
        reqwest::Method::POST,
        format!("{admin_api}/api/auth/login"),
        None,
        Some(json!({"telegram_id": ADMIN})),
    )
    .await?;
    ensure!(status == 202, "{status} {body}");
    let sent = stack
        .telegram
        .wait_for_messages(ADMIN, before + 1, std::time::Duration::from_secs(15))
        .await?;
    let code: String = sent[before]
        .text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_string();
    let (status, session) = call(
        reqwest::Method::POST,
        format!("{admin_api}/api/auth/verify"),
        None,
        Some(json!({"telegram_id": ADMIN, "code": code, "totp": totp.code_at(Utc::now().timestamp())})),
    )
    .await?;
    ensure!(
        status == 200 && session["role"] == "admin",
        "{status} {session}"
    );
    let token = session["token"].as_str().expect("token").to_string();

    // The API answers, and a change made through it is audited.
    let (status, users) = call(
        reqwest::Method::GET,
        format!("{admin_api}/api/users?q=grace"),
        Some(&token),
        None,
    )
    .await?;
    ensure!(
        status == 200 && users["items"][0]["telegram_id"] == ADMIN,
        "{users}"
    );
    let (status, key) = call(
        reqwest::Method::POST,
        format!("{admin_api}/api/keys"),
        Some(&token),
        Some(json!({"name": "dashboard", "scopes": ["stats:read"]})),
    )
    .await?;
    ensure!(status == 201, "{status} {key}");
    let listed = stack.herald(&["api-key", "list"]).await?;
    ensure!(
        listed.contains("dashboard") && listed.contains("stats:read"),
        "{listed}"
    );
    ensure!(
        !listed.contains(key["key"].as_str().expect("key")),
        "never the secret"
    );

    let (_, audit) = call(
        reqwest::Method::GET,
        format!("{admin_api}/api/audit"),
        Some(&token),
        None,
    )
    .await?;
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_string(),
                e["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let user = format!("user:{}", session_user(&stack, ADMIN).await?);
    let telegram = format!("telegram:{ADMIN}");
    for wanted in [
        ("cli", "staff.grant"),
        ("cli", "staff.totp_enroll"),
        (telegram.as_str(), "auth.code_requested"),
        (telegram.as_str(), "auth.login_code"),
        (user.as_str(), "auth.login"),
        (user.as_str(), "key.create"),
    ] {
        ensure!(
            actions.iter().any(|(a, b)| a == wanted.0 && b == wanted.1),
            "{wanted:?} missing from {actions:?}"
        );
    }

    // Revoked from the CLI: the token stops working at once.
    stack
        .herald(&["admin", "revoke", "--telegram-id", &ADMIN.to_string()])
        .await?;
    let (status, refused) = call(
        reqwest::Method::GET,
        format!("{admin_api}/api/users"),
        Some(&token),
        None,
    )
    .await?;
    ensure!(
        status == 401 && refused["error"]["code"] == "unauthorized",
        "{status} {refused}"
    );
    stack.shutdown().await
}

/// The admin's user id.
async fn session_user(stack: &Stack, telegram_id: i64) -> anyhow::Result<uuid::Uuid> {
    let store = stack.store().await?;
    let user = store
        .user_by_telegram_id(telegram_id)
        .await?
        .expect("registered");
    store.close().await?;
    Ok(user.id)
}
