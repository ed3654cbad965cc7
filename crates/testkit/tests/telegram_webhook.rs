//! The double delivering updates to a webhook set through teloxide, as Telegram does: queued
//! and new updates POSTed with the secret token header, retried until the webhook answers
//! 2xx, one chat at a time and in order, concurrently across chats up to `max_connections`;
//! `getWebhookInfo` reporting the backlog and the last error; `deleteWebhook` and shutdown
//! stopping delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use herald_testkit::telegram::{TelegramDouble, TestChat, TestUser};
use teloxide::payloads::SetWebhookSetters as _;
use teloxide::prelude::*;
use teloxide::types::UpdateKind;
use teloxide::{ApiError, RequestError};
use tokio::net::TcpListener;

const TOKEN: &str = "888:WEBHOOK";
const WAIT: Duration = Duration::from_secs(10);

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

/// What the test webhook saw.
#[derive(Default)]
struct Seen {
    /// Every request, in arrival order: (update id, chat id, secret header).
    attempts: Vec<(i64, Option<i64>, Option<String>)>,
    /// The updates answered 200, in order, parsed by teloxide.
    accepted: Vec<Update>,
    in_flight: usize,
    max_in_flight: usize,
    in_flight_per_chat: HashMap<i64, usize>,
    max_in_flight_per_chat: usize,
}

/// How the test webhook behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    /// Answer this many first requests with 500.
    fail_first: usize,
    /// Take this long over each request.
    delay: Duration,
}

#[derive(Clone)]
struct Hook {
    seen: Arc<Mutex<Seen>>,
    script: Script,
}

/// A webhook on a free port; returns its URL.
async fn webhook(script: Script) -> (reqwest::Url, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let hook = Hook {
        seen: seen.clone(),
        script,
    };
    let router = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(hook);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (
        reqwest::Url::parse(&format!("http://{addr}/hook")).unwrap(),
        seen,
    )
}

async fn receive(State(hook): State<Hook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    assert_eq!(
        headers.get("content-type").unwrap().to_str().unwrap(),
        "application/json"
    );
    // As teloxide's own webhook listener does: from the raw body.
    let update: Update = serde_json::from_slice(&body).expect("teloxide reads the update");
    assert!(
        !matches!(update.kind, UpdateKind::Error(_)),
        "teloxide cannot read {}",
        String::from_utf8_lossy(&body)
    );
    let chat = update.chat().map(|c| c.id.0);
    let secret = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.to_str().unwrap().to_owned());
    let fail = {
        let mut seen = hook.seen.lock().unwrap();
        seen.attempts.push((i64::from(update.id.0), chat, secret));
        if seen.attempts.len() <= hook.script.fail_first {
            true
        } else {
            seen.in_flight += 1;
            seen.max_in_flight = seen.max_in_flight.max(seen.in_flight);
            if let Some(chat) = chat {
                let n = seen.in_flight_per_chat.entry(chat).or_default();
                *n += 1;
                let n = *n;
                seen.max_in_flight_per_chat = seen.max_in_flight_per_chat.max(n);
            }
            false
        }
    };
    if fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    tokio::time::sleep(hook.script.delay).await;
    let mut seen = hook.seen.lock().unwrap();
    seen.in_flight -= 1;
    if let Some(chat) = chat {
        *seen.in_flight_per_chat.entry(chat).or_default() -= 1;
    }
    seen.accepted.push(update);
    StatusCode::OK
}

fn text(update: &Update) -> &str {
    match &update.kind {
        UpdateKind::Message(m) => m.text().unwrap_or_default(),
        UpdateKind::CallbackQuery(q) => q.data.as_deref().unwrap_or_default(),
        other => panic!("unexpected update {other:?}"),
    }
}

#[tokio::test]
async fn queued_and_new_updates_are_pushed_with_the_secret_token() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let (url, seen) = webhook(Script::default()).await;
    let trader = TestUser::trader(701);
    double.inject_message(&trader, "/start");
    double.inject_message(&trader, "queued");

    bot.set_webhook(url.clone())
        .secret_token("s3cr3t_Token-1")
        .await
        .unwrap();
    assert_eq!(double.webhook_secret().as_deref(), Some("s3cr3t_Token-1"));
    double
        .wait_until(|d| d.pending_updates() == 0, WAIT)
        .await
        .unwrap();
    double.inject_message(&trader, "pushed");
    double.press(&trader, 701, 1, "button");
    double
        .wait_until(|d| d.pending_updates() == 0, WAIT)
        .await
        .unwrap();

    {
        let seen = seen.lock().unwrap();
        let texts: Vec<&str> = seen.accepted.iter().map(text).collect();
        assert_eq!(texts, ["/start", "queued", "pushed", "button"]);
        assert!(
            seen.attempts
                .iter()
                .all(|(_, _, secret)| secret.as_deref() == Some("s3cr3t_Token-1"))
        );
    }
    assert_eq!(double.webhook_delivery_attempts(), 4);
    assert_eq!(double.last_webhook_error(), None);

    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(info.url, Some(url));
    assert_eq!(info.pending_update_count, 0);
    assert_eq!(info.max_connections, Some(40));
    assert_eq!(info.last_error_message, None);
    // Polling is refused while the webhook is set.
    assert!(bot.get_updates().await.is_err());
}

#[tokio::test]
async fn failed_deliveries_are_retried_in_order_and_reported() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let (url, seen) = webhook(Script {
        fail_first: 2,
        delay: Duration::ZERO,
    })
    .await;
    bot.set_webhook(url).await.unwrap();
    assert_eq!(double.webhook_secret(), None);
    let trader = TestUser::trader(702);
    for text in ["a", "b", "c"] {
        double.inject_message(&trader, text);
    }
    double
        .wait_until(|d| d.last_webhook_error().is_some(), WAIT)
        .await
        .unwrap();
    let info = bot.get_webhook_info().await.unwrap();
    assert_eq!(
        info.last_error_message.as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
    assert!(info.last_error_date.is_some());
    assert!(info.pending_update_count >= 1);

    double
        .wait_until(|d| d.pending_updates() == 0, WAIT)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let attempted: Vec<i64> = seen.attempts.iter().map(|(id, _, _)| *id).collect();
    // The first update was retried until taken; the others waited for it.
    assert_eq!(attempted, [1, 1, 1, 2, 3]);
    let texts: Vec<&str> = seen.accepted.iter().map(text).collect();
    assert_eq!(texts, ["a", "b", "c"]);
    assert_eq!(double.webhook_delivery_attempts(), 5);
    assert_eq!(
        double.last_webhook_error().as_deref(),
        Some("Wrong response from the webhook: 500 Internal Server Error")
    );
}

#[tokio::test]
async fn chats_are_delivered_concurrently_up_to_max_connections_each_in_order() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let (url, seen) = webhook(Script {
        fail_first: 0,
        delay: Duration::from_millis(200),
    })
    .await;
    // Three private chats and a group, three updates each, queued before the webhook.
    let group = TestChat::group(-7001, "Desk");
    for round in 0..3 {
        for id in [711, 712, 713] {
            double.inject_message(&TestUser::trader(id), &format!("{id}:{round}"));
        }
        double.inject_group_message(&group, &TestUser::trader(711), &format!("-7001:{round}"));
    }
    bot.set_webhook(url).max_connections(3).await.unwrap();
    assert_eq!(
        bot.get_webhook_info().await.unwrap().max_connections,
        Some(3)
    );
    double
        .wait_until(|d| d.pending_updates() == 0, WAIT)
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.accepted.len(), 12);
    assert_eq!(seen.max_in_flight_per_chat, 1, "one chat's updates overlap");
    assert_eq!(seen.max_in_flight, 3, "max_connections is not the limit");
    for chat in [711, 712, 713, -7001] {
        let rounds: Vec<String> = seen
            .accepted
            .iter()
            .filter(|u| u.chat().map(|c| c.id.0) == Some(chat))
            .map(|u| text(u).to_owned())
            .collect();
        assert_eq!(
            rounds,
            (0..3).map(|r| format!("{chat}:{r}")).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn an_unreachable_webhook_is_reported_until_deleted_and_polling_takes_over() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    bot.set_webhook(reqwest::Url::parse(&format!("http://{closed}/hook")).unwrap())
        .await
        .unwrap();
    double.inject_message(&TestUser::trader(720), "lost?");
    double
        .wait_until(|d| d.webhook_delivery_attempts() >= 2, WAIT)
        .await
        .unwrap();
    assert_eq!(
        double.last_webhook_error().as_deref(),
        Some("Connection refused")
    );
    assert_eq!(double.pending_updates(), 1);

    bot.delete_webhook().await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let attempts = double.webhook_delivery_attempts();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        double.webhook_delivery_attempts(),
        attempts,
        "still delivering"
    );
    assert_eq!(double.last_webhook_error(), None);
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 1);

    // Shutdown ends a delivery loop that is retrying.
    bot.set_webhook(reqwest::Url::parse(&format!("http://{closed}/hook")).unwrap())
        .await
        .unwrap();
    tokio::time::timeout(WAIT, double.shutdown()).await.unwrap();
}

#[tokio::test]
async fn set_webhook_validates_like_telegram() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let url = reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap();
    let err = bot
        .set_webhook(url.clone())
        .secret_token("bot:token")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Api(ApiError::Unknown(d))
            if d == "Bad Request: secret token contains unallowed characters"),
        "{err:?}"
    );
    let err = bot
        .set_webhook(reqwest::Url::parse("ftp://127.0.0.1/hook").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Api(ApiError::Unknown(d))
            if d == "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"),
        "{err:?}"
    );
    assert_eq!(double.webhook_url(), None);
    // max_connections is clamped to Telegram's 1..=100.
    bot.set_webhook(url).max_connections(0).await.unwrap();
    assert_eq!(
        bot.get_webhook_info().await.unwrap().max_connections,
        Some(1)
    );
}
