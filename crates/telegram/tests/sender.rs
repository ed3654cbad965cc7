//! `Sender::send_html` against the Bot API double, through the real teloxide client: what
//! Telegram receives, how each failure is classified, that a 429 pauses the budget, and
//! that a reply is sent again after a 429.

use std::sync::Arc;
use std::time::Duration;

use herald_telegram::{
    Limiter, LimiterConfig, Priority, REPLY_TRIES, SendError, Sender, SentMessageId, bot,
};
use herald_testkit::telegram::{Fault, TelegramDouble};

const TOKEN: &str = "424242:SENDER-test_token";

async fn start() -> (TelegramDouble, Sender) {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(TOKEN, &double.api_url()).unwrap();
    let sender = Sender::new(bot, Arc::new(Limiter::new(LimiterConfig::unlimited())));
    (double, sender)
}

#[tokio::test]
async fn a_sent_message_arrives_exactly_as_rendered() {
    let (double, sender) = start().await;
    let html =
        "<b>BTC/USD</b> LONG\nEntry: 64,000.50 &amp; up\n<a href=\"https://example.com\">chart</a>";
    let id = sender.send_html(42, html, Priority::Bulk).await.unwrap();
    assert_eq!(id, SentMessageId(1));
    assert_eq!(
        sender
            .send_html(42, "second", Priority::Bulk)
            .await
            .unwrap(),
        SentMessageId(2)
    );

    let sent = double.sent_to(42);
    assert_eq!(sent[0].raw_text, html);
    assert_eq!(sent[0].text, "BTC/USD LONG\nEntry: 64,000.50 & up\nchart");
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
}

#[tokio::test]
async fn faults_map_to_what_the_caller_should_do() {
    let (double, sender) = start().await;
    double.script_faults(
        7,
        [
            Fault::BotBlocked,
            Fault::UserDeactivated,
            Fault::ChatNotFound,
        ],
    );
    assert_eq!(
        sender.send_html(7, "x", Priority::Bulk).await,
        Err(SendError::Blocked {
            reason: "Forbidden: bot was blocked by the user".into()
        })
    );
    assert_eq!(
        sender.send_html(7, "x", Priority::Bulk).await,
        Err(SendError::Blocked {
            reason: "Forbidden: user is deactivated".into()
        })
    );
    assert_eq!(
        sender.send_html(7, "x", Priority::Bulk).await,
        Err(SendError::ChatNotFound)
    );

    let too_long = "x".repeat(4097);
    assert_eq!(
        sender.send_html(7, &too_long, Priority::Bulk).await,
        Err(SendError::Permanent(
            "Bad Request: message is too long".into()
        ))
    );
    let err = sender
        .send_html(7, "1 < 2", Priority::Bulk)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(d) if d.starts_with("Bad Request: can't parse entities")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(double.attempts_to(7), 5);
    assert!(double.sent_to(7).is_empty());
}

#[tokio::test]
async fn too_many_requests_returns_the_wait_and_pauses_every_send() {
    let (double, sender) = start().await;
    double.script_faults(9, [Fault::TooManyRequests { retry_after: 5 }]);
    let before = tokio::time::Instant::now();
    let err = sender.send_html(9, "x", Priority::Bulk).await.unwrap_err();
    assert_eq!(err, SendError::RetryAfter(Duration::from_secs(5)));
    let until = sender
        .budget()
        .paused_until()
        .expect("the limiter is paused");
    assert!(until >= before + Duration::from_secs(5));

    // Another chat's send is held back too: it has not reached Telegram while paused.
    let held = tokio::spawn({
        let sender = sender.clone();
        async move { sender.send_html(10, "y", Priority::Bulk).await }
    });
    let reached = double
        .wait_until(|d| d.attempts_to(10) > 0, Duration::from_millis(300))
        .await;
    assert!(reached.is_err(), "a send went out during the pause");
    held.abort();
}

#[tokio::test]
async fn server_errors_are_transient_after_teloxides_ten_second_delay() {
    // teloxide sleeps 10 s (DELAY_ON_SERVER_ERROR) on any 5xx before returning: both sends
    // run concurrently so this test takes ~10 s, not 20.
    let (double, sender) = start().await;
    double.script_faults(1, [Fault::ServerError(500)]);
    double.script_faults(2, [Fault::ServerError(502)]);
    let (a, b) = tokio::join!(
        sender.send_html(1, "x", Priority::Bulk),
        sender.send_html(2, "x", Priority::Bulk)
    );
    assert_eq!(a, Err(SendError::Transient("Internal Server Error".into())));
    assert_eq!(b, Err(SendError::Transient("Bad Gateway".into())));
}

#[tokio::test]
async fn a_timeout_is_unknown_not_transient() {
    // The request reached Telegram; the answer did not come back in time: the message may
    // have been delivered, so it must not be taken for a surely failed send.
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let bot = teloxide::Bot::with_client(TOKEN, client)
        .set_api_url(reqwest::Url::parse(&double.api_url()).unwrap());
    let sender = Sender::new(bot, Arc::new(Limiter::new(LimiterConfig::unlimited())));
    double.script_faults(3, [Fault::Delay(Duration::from_secs(2))]);
    let err = sender.send_html(3, "x", Priority::Bulk).await.unwrap_err();
    assert!(matches!(&err, SendError::Unknown(_)), "{err:?}");
    assert_eq!(err.outcome(), "unknown");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_reply_refused_with_429_is_sent_again_after_the_wait() {
    let (double, sender) = start().await;
    double.script_faults(
        11,
        [
            Fault::TooManyRequests { retry_after: 1 },
            Fault::TooManyRequests { retry_after: 1 },
        ],
    );
    let id = sender.reply_html(11, "pong").await.unwrap();
    assert_eq!(double.attempts_to(11), 3);
    assert_eq!(double.sent_to(11)[0].message_id, id.0);

    // … but not for ever.
    double.set_fault(12, Fault::TooManyRequests { retry_after: 1 });
    let err = sender.reply_html(12, "pong").await.unwrap_err();
    assert_eq!(err, SendError::RetryAfter(Duration::from_secs(1)));
    assert_eq!(double.attempts_to(12), REPLY_TRIES as usize);
}

#[tokio::test]
async fn paid_broadcast_marks_bulk_sends_only() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let sender = Sender::new(
        bot(TOKEN, &double.api_url()).unwrap(),
        Arc::new(Limiter::new(LimiterConfig::unlimited())),
    )
    .with_paid_broadcast(true);
    sender.send_html(1, "signal", Priority::Bulk).await.unwrap();
    sender.reply_html(1, "reply").await.unwrap();
    let sent = double.sent_to(1);
    assert_eq!(
        sent.iter()
            .map(|m| m.allow_paid_broadcast)
            .collect::<Vec<_>>(),
        [true, false]
    );
}
