//! The double's Bot API surface through teloxide: identity, authentication, unknown methods,
//! commands, webhooks and the small methods; and the HTTP control surface.

use herald_testkit::telegram::{Fault, SentMessage, TelegramDouble, TestUser};
use teloxide::prelude::*;
use teloxide::types::{BotCommand, ChatAction};
use teloxide::{ApiError, RequestError};

const TOKEN: &str = "987654:API-test";

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

#[tokio::test]
async fn get_me_is_a_bot_with_a_username() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let me = bot(&double).get_me().await.unwrap();
    assert!(me.is_bot);
    assert_eq!(me.id.0, 987_654);
    assert_eq!(me.username(), "herald_test_bot");
    assert_eq!(double.bot_username(), "herald_test_bot");
}

#[tokio::test]
async fn a_trailing_slash_in_the_api_url_works() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = Bot::new(TOKEN)
        .set_api_url(reqwest::Url::parse(&format!("{}/", double.api_url())).unwrap());
    bot.get_me().await.unwrap();
}

#[tokio::test]
async fn another_token_is_unauthorized_and_unknown_methods_are_not_found() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let wrong = Bot::new("1:WRONG").set_api_url(reqwest::Url::parse(&double.api_url()).unwrap());
    let err = wrong.get_me().await.unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::InvalidToken)),
        "{err:?}"
    );
    assert_eq!(double.request_count("getMe"), 0);

    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/bot1:WRONG/getMe", double.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "ok": false, "error_code": 401, "description": "Unauthorized" })
    );
    let res = http
        .post(format!("{}/bot{TOKEN}/sendTelepathy", double.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "ok": false, "error_code": 404, "description": "Not Found: method not found" })
    );
}

#[tokio::test]
async fn commands_are_validated_and_kept() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let commands = vec![
        BotCommand::new("start", "Start receiving signals"),
        BotCommand::new("stop_all", "Stop everything"),
    ];
    bot.set_my_commands(commands.clone()).await.unwrap();
    assert_eq!(
        double.commands(),
        [
            ("start".to_owned(), "Start receiving signals".to_owned()),
            ("stop_all".to_owned(), "Stop everything".to_owned())
        ]
    );
    assert_eq!(bot.get_my_commands().await.unwrap(), commands);

    // teloxide's `BotCommands::bot_commands()` sends names with their '/', which Telegram
    // accepts and drops.
    bot.set_my_commands(vec![BotCommand::new("/help", "List the commands")])
        .await
        .unwrap();
    assert_eq!(
        double.commands(),
        [("help".to_owned(), "List the commands".to_owned())]
    );

    let invalid = |command: &str, description: &str| vec![BotCommand::new(command, description)];
    for (commands, description) in [
        (
            invalid("Start", "Capital letters"),
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            invalid("", "Empty name"),
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            invalid(&"a".repeat(33), "Too long"),
            "Bad Request: BOT_COMMAND_INVALID",
        ),
        (
            invalid("go", ""),
            "Bad Request: command description must be non-empty",
        ),
        (
            invalid("go", "ab"),
            "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID",
        ),
        (
            invalid("go", &"d".repeat(257)),
            "Bad Request: command description length must not exceed 256",
        ),
        (
            (0..101)
                .map(|i| BotCommand::new(format!("c{i}"), "desc"))
                .collect(),
            "Bad Request: BOT_COMMANDS_TOO_MUCH",
        ),
    ] {
        let err = bot.set_my_commands(commands).await.unwrap_err();
        assert!(
            matches!(&err, RequestError::Api(ApiError::Unknown(d)) if d == description),
            "{description}: {err:?}"
        );
    }
    assert_eq!(
        double.commands().len(),
        1,
        "a rejected call changes nothing"
    );
    bot.set_my_commands(
        (0..100)
            .map(|i| BotCommand::new(format!("c{i}"), "desc"))
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    bot.delete_my_commands().await.unwrap();
    assert!(double.commands().is_empty());
}

#[tokio::test]
async fn webhooks_are_recorded_and_block_polling() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    assert_eq!(bot.get_webhook_info().await.unwrap().url, None);
    let url = reqwest::Url::parse("https://herald.example.com/telegram/webhook").unwrap();
    bot.set_webhook(url.clone()).await.unwrap();
    assert_eq!(bot.get_webhook_info().await.unwrap().url, Some(url.clone()));
    assert_eq!(double.webhook_url().as_deref(), Some(url.as_str()));

    let err = bot.get_updates().await.unwrap_err();
    let RequestError::Api(ApiError::Unknown(description)) = &err else {
        panic!("{err:?}");
    };
    assert!(
        description.starts_with("Conflict: can't use getUpdates method while webhook is active")
    );

    bot.delete_webhook().await.unwrap();
    assert_eq!(double.webhook_url(), None);
    assert!(bot.get_updates().await.unwrap().is_empty());
}

#[tokio::test]
async fn small_methods_answer_true() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    bot.send_chat_action(ChatId(5), ChatAction::Typing)
        .await
        .unwrap();
    // Only a query the double injected can be answered (see `telegram_callbacks`).
    let press = double.press(&TestUser::trader(5), 5, 1, "data");
    bot.answer_callback_query(teloxide::types::CallbackQueryId(press.query_id))
        .await
        .unwrap();
    bot.close().await.unwrap();
    bot.log_out().await.unwrap();
    for method in ["sendChatAction", "answerCallbackQuery", "close", "logOut"] {
        assert_eq!(double.request_count(method), 1, "{method}");
    }
}

#[tokio::test]
async fn http_control_surface_drives_the_double() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_double/{path}", double.api_url());

    let res: serde_json::Value = http
        .post(control("updates"))
        .json(&serde_json::json!({
            "from": { "id": 77, "username": "alice", "first_name": "Alice", "last_name": null },
            "text": "/start"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["update_id"], 1);
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 1);

    let res = http
        .post(control("faults"))
        .json(&serde_json::json!({
            "chat_id": 77,
            "faults": [{ "type": "too_many_requests", "retry_after": 2 }, { "type": "bot_blocked" }]
        }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert!(matches!(
        bot.send_message(ChatId(77), "a").await,
        Err(RequestError::RetryAfter(_))
    ));
    assert!(matches!(
        bot.send_message(ChatId(77), "b").await,
        Err(RequestError::Api(ApiError::BotBlocked))
    ));
    bot.send_message(ChatId(77), "<i>hello</i>")
        .parse_mode(teloxide::types::ParseMode::Html)
        .await
        .unwrap();

    let res = http
        .post(control("faults"))
        .json(&serde_json::json!({ "chat_id": 77, "faults": [{ "type": "chat_not_found" }], "persistent": true }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert!(matches!(
        bot.send_message(ChatId(77), "c").await,
        Err(RequestError::Api(ApiError::ChatNotFound))
    ));
    let res = http.delete(control("faults/77")).send().await.unwrap();
    assert!(res.status().is_success());
    bot.send_message(ChatId(77), "d").await.unwrap();
    bot.send_message(ChatId(78), "elsewhere").await.unwrap();

    let sent: Vec<SentMessage> = http
        .get(control("sent?chat_id=77"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = sent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello", "d"]);
    assert_eq!(sent[0].raw_text, "<i>hello</i>");
    // The chat was known from the injected message: ids continue after the trader's /start.
    assert_eq!(sent[0].message_id, 2);
    assert_eq!(
        sent,
        double.sent_to(77).iter().map(round_ms).collect::<Vec<_>>()
    );
    let all: Vec<SentMessage> = http
        .get(control("sent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);

    let res = http
        .post(control("faults"))
        .json(&serde_json::json!({ "chat_id": 1, "faults": [], "persistent": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    double.script_faults(1, [Fault::ChatNotFound]);
}

/// `SentMessage::at` crosses HTTP in whole milliseconds.
fn round_ms(m: &SentMessage) -> SentMessage {
    let ms =
        m.at.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
    SentMessage {
        at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64),
        ..m.clone()
    }
}

#[tokio::test]
async fn test_users_build_conveniently() {
    let user = TestUser::new(5, "Bob")
        .with_username("bob")
        .with_last_name("Builder");
    assert_eq!(user.username.as_deref(), Some("bob"));
    assert_eq!(TestUser::trader(9).username.as_deref(), Some("trader_9"));
    assert_eq!(user.language_code, None);
    assert_eq!(
        user.with_language("pt-br").language_code.as_deref(),
        Some("pt-br")
    );
    // Over the control surface the language is optional, and kept when given.
    let bare: TestUser =
        serde_json::from_value(serde_json::json!({ "id": 1, "first_name": "A" })).unwrap();
    assert_eq!(bare, TestUser::new(1, "A"));
    let german: TestUser = serde_json::from_value(
        serde_json::json!({ "id": 1, "first_name": "A", "language_code": "de" }),
    )
    .unwrap();
    assert_eq!(german, TestUser::new(1, "A").with_language("de"));
}
