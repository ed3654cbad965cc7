//! The double's `sendMessage`/`editMessageText`, driven by the real teloxide client: what is
//! recorded, Telegram's validation, scripted faults and flood limits.

use std::time::Duration;

use herald_testkit::telegram::TestUser;
use herald_testkit::telegram::{Fault, Limits, TelegramDouble};
use teloxide::payloads::{EditMessageTextSetters as _, SendMessageSetters as _};
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, MessageEntityKind, MessageId, ParseMode,
    ReplyParameters, Seconds,
};
use teloxide::{ApiError, RequestError};

const TOKEN: &str = "123456:TEST-token_abc";

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

async fn start() -> (TelegramDouble, Bot) {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    (double, bot)
}

#[tokio::test]
async fn html_message_is_recorded_as_the_trader_sees_it() {
    let (double, bot) = start().await;
    let raw = "<b>BTC/USD</b> long @ 64&#44;000 &lt;strong&gt; 🚀\n<i>note</i>";
    let message = bot
        .send_message(ChatId(42), raw)
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();

    assert_eq!(message.id, MessageId(1));
    assert_eq!(message.chat.id, ChatId(42));
    assert!(message.from.as_ref().unwrap().is_bot);
    let visible = "BTC/USD long @ 64,000 <strong> 🚀\nnote";
    assert_eq!(message.text(), Some(visible));
    let entities = message.entities().unwrap();
    assert_eq!(entities[0].kind, MessageEntityKind::Bold);
    assert_eq!((entities[0].offset, entities[0].length), (0, 7));
    assert_eq!(entities[1].kind, MessageEntityKind::Italic);
    // 🚀 is two UTF-16 units: "…🚀\n" puts "note" at 34.
    assert_eq!((entities[1].offset, entities[1].length), (34, 4));

    let sent = double.sent_to(42);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, visible);
    assert_eq!(sent[0].raw_text, raw);
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].message_id, 1);
    assert_eq!(double.request_count("sendMessage"), 1);
    assert_eq!(double.attempts_to(42), 1);
}

#[tokio::test]
async fn message_ids_increase_per_chat() {
    let (double, bot) = start().await;
    for chat in [1, 2, 1, 1, 2] {
        bot.send_message(ChatId(chat), format!("to {chat}"))
            .await
            .unwrap();
    }
    let ids = |chat| -> Vec<i32> { double.sent_to(chat).iter().map(|m| m.message_id).collect() };
    assert_eq!(ids(1), [1, 2, 3]);
    assert_eq!(ids(2), [1, 2]);
    let order: Vec<i64> = double.sent().iter().map(|m| m.chat_id).collect();
    assert_eq!(order, [1, 2, 1, 1, 2]);
}

#[tokio::test]
async fn telegram_rejects_what_it_cannot_show() {
    let (double, bot) = start().await;
    let err = bot.send_message(ChatId(1), "").await.unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageTextIsEmpty)),
        "{err:?}"
    );
    let err = bot
        .send_message(ChatId(1), "<b> </b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageTextIsEmpty)),
        "{err:?}"
    );

    let err = bot
        .send_message(ChatId(1), "x".repeat(4097))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageIsTooLong)),
        "{err:?}"
    );
    // The limit counts visible UTF-16 units: markup does not count, surrogate pairs count 2.
    let at_limit = format!("<b>{}</b>", "x".repeat(4096));
    bot.send_message(ChatId(1), at_limit)
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    let err = bot
        .send_message(ChatId(1), "😀".repeat(2049))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageIsTooLong)),
        "{err:?}"
    );

    for (html, why) in [
        ("price < 5", "Unsupported start tag \"\" at byte offset 6"),
        (
            "<div>x</div>",
            "Unsupported start tag \"div\" at byte offset 0",
        ),
        (
            "<b>x</i>",
            "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"",
        ),
        (
            "<b>bold",
            "Can't find end tag corresponding to start tag \"b\"",
        ),
    ] {
        let err = bot
            .send_message(ChatId(1), html)
            .parse_mode(ParseMode::Html)
            .await
            .unwrap_err();
        let RequestError::Api(ApiError::CantParseEntities(description)) = &err else {
            panic!("{html}: {err:?}");
        };
        assert_eq!(
            description,
            &format!("Bad Request: can't parse entities: {why}")
        );
    }
    // Without a parse mode the same text is fine.
    bot.send_message(ChatId(1), "price < 5").await.unwrap();
    assert_eq!(double.sent_to(1).len(), 2);
}

#[tokio::test]
async fn missing_chat_id_and_raw_encodings() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/bot{TOKEN}/sendMessage", double.api_url());

    let res = http
        .post(&url)
        .json(&serde_json::json!({ "text": "hi" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "ok": false, "error_code": 400, "description": "Bad Request: chat_id is empty" })
    );

    // Form body, and a query string with a lower-case method name.
    let res = http
        .post(&url)
        .form(&[
            ("chat_id", "5"),
            ("text", "<b>form</b>"),
            ("parse_mode", "HTML"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .get(format!(
            "{}/bot{TOKEN}/sendmessage?chat_id=5&text=query",
            double.api_url()
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"]["message_id"], 2);
    let texts: Vec<String> = double.sent_to(5).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["form", "query"]);
    assert_eq!(double.request_count("SENDMESSAGE"), 3);
}

#[tokio::test]
async fn each_fault_answers_like_telegram() {
    let (double, bot) = start().await;
    double.script_faults(
        7,
        [
            Fault::TooManyRequests { retry_after: 5 },
            Fault::BotBlocked,
            Fault::UserDeactivated,
            Fault::ChatNotFound,
        ],
    );
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(bot.send_message(ChatId(7), "signal").await.unwrap_err());
    }
    assert!(matches!(errors[0], RequestError::RetryAfter(s) if s == Seconds::from_seconds(5)));
    assert!(matches!(errors[1], RequestError::Api(ApiError::BotBlocked)));
    assert!(matches!(
        errors[2],
        RequestError::Api(ApiError::UserDeactivated)
    ));
    assert!(matches!(
        errors[3],
        RequestError::Api(ApiError::ChatNotFound)
    ));
    // The script is used up: the next send goes through; other chats were never affected.
    bot.send_message(ChatId(7), "signal").await.unwrap();
    bot.send_message(ChatId(8), "signal").await.unwrap();
    assert_eq!(double.attempts_to(7), 5);
    assert_eq!(double.sent_to(7).len(), 1);
}

#[tokio::test]
async fn raw_fault_bodies_are_telegrams() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    double.script_faults(
        1,
        [
            Fault::TooManyRequests { retry_after: 35 },
            Fault::ServerError(502),
        ],
    );
    let http = reqwest::Client::new();
    let url = format!("{}/bot{TOKEN}/sendMessage", double.api_url());
    let send = || {
        http.post(&url)
            .json(&serde_json::json!({ "chat_id": 1, "text": "x" }))
            .send()
    };

    let res = send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({
            "ok": false,
            "error_code": 429,
            "description": "Too Many Requests: retry after 35",
            "parameters": { "retry_after": 35 }
        })
    );
    let res = send().await.unwrap();
    assert_eq!(res.status(), 502);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "ok": false, "error_code": 502, "description": "Bad Gateway" })
    );
}

#[tokio::test]
async fn persistent_faults_last_until_cleared_and_delay_then_answers() {
    let (double, bot) = start().await;
    double.set_fault(3, Fault::BotBlocked);
    for _ in 0..3 {
        let err = bot.send_message(ChatId(3), "x").await.unwrap_err();
        assert!(matches!(err, RequestError::Api(ApiError::BotBlocked)));
    }
    double.clear_faults(3);
    bot.send_message(ChatId(3), "x").await.unwrap();

    double.script_faults(3, [Fault::Delay(Duration::from_millis(200))]);
    let started = std::time::Instant::now();
    bot.send_message(ChatId(3), "late").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(double.attempts_to(3), 5);
    assert_eq!(double.sent_to(3).len(), 2);
}

#[tokio::test]
async fn flood_limits_answer_429_when_enforced() {
    let (double, bot) = start().await;
    double.enforce_limits(Limits {
        per_second: 3,
        per_chat_per_second: 1,
    });
    bot.send_message(ChatId(1), "a").await.unwrap();
    let err = bot.send_message(ChatId(1), "b").await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetryAfter(s) if s == Seconds::from_seconds(1)),
        "{err:?}"
    );
    bot.send_message(ChatId(2), "c").await.unwrap();
    bot.send_message(ChatId(3), "d").await.unwrap();
    let err = bot.send_message(ChatId(4), "e").await.unwrap_err();
    assert!(matches!(err, RequestError::RetryAfter(_)), "{err:?}");
    assert_eq!(double.too_many_requests_count(), 2);
    assert_eq!(double.sent().len(), 3);

    double.disable_limits();
    bot.send_message(ChatId(1), "f").await.unwrap();
}

#[tokio::test]
async fn the_group_limit_counts_per_group_per_minute_and_accepted_sends_are_timed() {
    let (double, bot) = start().await;
    double.enforce_group_limit(2);
    bot.send_message(ChatId(-5), "a").await.unwrap();
    bot.send_message(ChatId(-5), "b").await.unwrap();
    let err = bot.send_message(ChatId(-5), "c").await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetryAfter(s) if s.seconds() >= 59),
        "{err:?}"
    );
    bot.send_message(ChatId(-6), "other group").await.unwrap();
    for text in ["private chats", "are not", "groups"] {
        bot.send_message(ChatId(5), text).await.unwrap();
    }
    assert_eq!(double.too_many_requests_count(), 1);

    let accepted = double.accepted_at();
    assert_eq!(
        accepted.iter().map(|(chat, _)| *chat).collect::<Vec<_>>(),
        [-5, -5, -6, 5, 5, 5]
    );
    assert!(accepted.windows(2).all(|w| w[0].1 <= w[1].1));
    let minute = Duration::from_secs(60);
    assert_eq!(double.max_accepted_in(minute), 6);
    assert_eq!(double.max_accepted_to_chat_in(-5, minute), 2);
    assert_eq!(double.max_accepted_to_chat_in(7, minute), 0);
    assert_eq!(double.max_accepted_in(Duration::ZERO), 0);
}

#[tokio::test]
async fn edits_replace_the_recorded_text() {
    let (double, bot) = start().await;
    let message = bot.send_message(ChatId(9), "draft").await.unwrap();
    let edited = bot
        .edit_message_text(ChatId(9), message.id, "<b>final</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert_eq!(edited.text(), Some("final"));
    assert!(edited.edit_date().is_some());
    let sent = double.sent_to(9);
    assert_eq!(
        (sent.len(), sent[0].text.as_str(), sent[0].raw_text.as_str()),
        (1, "final", "<b>final</b>")
    );

    let err = bot
        .edit_message_text(ChatId(9), message.id, "<b>final</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageNotModified)),
        "{err:?}"
    );
    let err = bot
        .edit_message_text(ChatId(9), MessageId(99), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToEditNotFound)),
        "{err:?}"
    );
    double.script_faults(9, [Fault::BotBlocked]);
    let err = bot
        .edit_message_text(ChatId(9), message.id, "again")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::BotBlocked)),
        "{err:?}"
    );
}

#[tokio::test]
async fn wait_for_messages_reports_what_arrived() {
    let (double, bot) = start().await;
    bot.send_message(ChatId(11), "only one").await.unwrap();
    let err = double
        .wait_for_messages(11, 2, Duration::from_millis(100))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 2 message(s) to chat 11"), "{err}");
    assert!(err.contains("only one"), "{err}");

    let waiting = double.wait_for_messages(11, 2, Duration::from_secs(10));
    let sending = async {
        tokio::task::yield_now().await;
        bot.send_message(ChatId(11), "second").await.unwrap();
    };
    let (got, ()) = tokio::join!(waiting, sending);
    let texts: Vec<String> = got.unwrap().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["only one", "second"]);
}

#[tokio::test]
async fn silent_sends_and_replies_are_recorded() {
    let (double, bot) = start().await;
    let trader = TestUser::trader(21);
    double.inject_message(&trader, "/price BTC");
    let reply = bot
        .send_message(ChatId(21), "BTC: 64,000")
        .reply_parameters(ReplyParameters::new(MessageId(1)))
        .disable_notification(true)
        .await
        .unwrap();
    let replied = reply.reply_to_message().unwrap();
    assert_eq!(
        (replied.id, replied.text()),
        (MessageId(1), Some("/price BTC"))
    );
    // Replying to the bot's own message shows that message.
    let again = bot
        .send_message(ChatId(21), "and ETH?")
        .reply_parameters(ReplyParameters::new(reply.id))
        .await
        .unwrap();
    assert_eq!(
        again.reply_to_message().unwrap().text(),
        Some("BTC: 64,000")
    );

    let err = bot
        .send_message(ChatId(21), "to nothing")
        .reply_parameters(ReplyParameters::new(MessageId(50)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToReplyNotFound)),
        "{err:?}"
    );
    let lenient = bot
        .send_message(ChatId(21), "to nothing, allowed")
        .reply_parameters(ReplyParameters::new(MessageId(50)).allow_sending_without_reply())
        .await
        .unwrap();
    assert!(lenient.reply_to_message().is_none());

    // The legacy parameter, in a form body.
    let res = reqwest::Client::new()
        .post(format!("{}/bot{TOKEN}/sendMessage", double.api_url()))
        .form(&[
            ("chat_id", "21"),
            ("text", "legacy"),
            ("reply_to_message_id", "2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let sent = double.sent_to(21);
    let recorded: Vec<(bool, Option<i32>)> = sent
        .iter()
        .map(|m| (m.disable_notification, m.reply_to_message_id))
        .collect();
    assert_eq!(
        recorded,
        [
            (true, Some(1)),
            (false, Some(2)),
            (false, None),
            (false, Some(2))
        ]
    );
}

#[tokio::test]
async fn an_edit_that_changes_nothing_is_refused_and_formatting_counts_as_change() {
    let (double, bot) = start().await;
    let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Ok", "ok")]]);
    let message = bot
        .send_message(ChatId(22), "final")
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    let not_modified = |err: RequestError| {
        assert!(
            matches!(err, RequestError::Api(ApiError::MessageNotModified)),
            "{err:?}"
        );
    };
    not_modified(
        bot.edit_message_text(ChatId(22), message.id, "final")
            .reply_markup(keyboard.clone())
            .await
            .unwrap_err(),
    );
    // The same text in bold is a change; the same bold text again is not.
    bot.edit_message_text(ChatId(22), message.id, "<b>final</b>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard.clone())
        .await
        .unwrap();
    not_modified(
        bot.edit_message_text(ChatId(22), message.id, "<strong>final</strong>")
            .parse_mode(ParseMode::Html)
            .reply_markup(keyboard.clone())
            .await
            .unwrap_err(),
    );
    // Leaving the markup out removes the keyboard: a change too.
    let edited = bot
        .edit_message_text(ChatId(22), message.id, "<b>final</b>")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert!(edited.reply_markup().is_none());
    assert_eq!(double.edit_count(22), 2);
    assert_eq!(double.sent_to(22)[0].edits, 2);
}
