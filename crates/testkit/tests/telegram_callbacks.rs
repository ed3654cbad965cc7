//! Inline keyboards through teloxide: the trader pressing buttons (`callback_query` updates
//! carrying the message as the bot left it), `answerCallbackQuery` accepted once per query,
//! menus editing themselves with `editMessageReplyMarkup`, and a whole teloxide `Dispatcher`
//! answering presses.

use std::time::Duration;

use herald_testkit::telegram::{CallbackAnswer, TelegramDouble, TestUser};
use teloxide::payloads::{
    AnswerCallbackQuerySetters as _, EditMessageReplyMarkupSetters as _,
    EditMessageTextSetters as _, SendMessageSetters as _,
};
use teloxide::prelude::*;
use teloxide::types::{
    CallbackQueryId, InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage,
    MessageId, ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};

const TOKEN: &str = "777:CALLBACKS";
const WAIT: Duration = Duration::from_secs(10);
const QUERY_INVALID: &str =
    "Bad Request: query is too old and response timeout expired or query ID is invalid";

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

fn keyboard(buttons: &[(&str, &str)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([buttons
        .iter()
        .map(|(text, data)| InlineKeyboardButton::callback(*text, *data))
        .collect::<Vec<_>>()])
}

fn callback(update: &Update) -> &CallbackQuery {
    match &update.kind {
        UpdateKind::CallbackQuery(q) => q,
        other => panic!("not a callback query: {other:?}"),
    }
}

#[tokio::test]
async fn a_press_carries_the_message_as_the_bot_left_it() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let ada = TestUser::new(501, "Ada").with_language("de");
    let sent = bot
        .send_message(ChatId(501), "<b>Pick</b> a pair")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard(&[("BTC", "pair:btc"), ("ETH", "pair:eth")]))
        .await
        .unwrap();
    bot.edit_message_text(ChatId(501), sent.id, "<b>Pick</b> one pair")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard(&[("BTC", "pair:btc"), ("SOL", "pair:sol")]))
        .await
        .unwrap();

    let recorded = &double.sent_to(501)[0];
    assert_eq!(
        recorded.inline_buttons(),
        [
            ("BTC".to_owned(), Some("pair:btc".to_owned())),
            ("SOL".to_owned(), Some("pair:sol".to_owned()))
        ]
    );
    let press = double.press_button(&ada, recorded, "SOL").unwrap();
    assert!(double.press_button(&ada, recorded, "ETH").is_none());
    assert_eq!(press.update_id, 1);

    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 1);
    let query = callback(&updates[0]);
    assert_eq!(query.id.0, press.query_id);
    assert_eq!(query.data.as_deref(), Some("pair:sol"));
    assert!(!query.chat_instance.is_empty());
    assert_eq!(query.from.id.0, 501);
    assert_eq!(query.from.language_code.as_deref(), Some("de"));
    let message = query.message.as_ref().unwrap().regular_message().unwrap();
    assert_eq!(message.id, sent.id);
    assert_eq!(message.chat.id, ChatId(501));
    assert_eq!(message.text(), Some("Pick one pair"));
    assert_eq!(message.entities().unwrap().len(), 1);
    assert!(message.edit_date().is_some());
    assert_eq!(message.from.as_ref().map(|u| u.is_bot), Some(true));
    assert_eq!(
        message.reply_markup(),
        Some(&keyboard(&[("BTC", "pair:btc"), ("SOL", "pair:sol")]))
    );
}

#[tokio::test]
async fn presses_on_unknown_and_old_messages_are_still_delivered() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let bo = TestUser::trader(502);
    let forged = double.press(&bo, 502, 77, "stale:data");
    let old = double.press_inaccessible(&bo, 502, 78, "old:data");
    assert_ne!(forged.query_id, old.query_id);

    let updates = bot.get_updates().await.unwrap();
    let first = callback(&updates[0]);
    assert_eq!(first.data.as_deref(), Some("stale:data"));
    let message = first.message.as_ref().unwrap().regular_message().unwrap();
    assert_eq!((message.id, message.chat.id), (MessageId(77), ChatId(502)));
    assert_eq!(message.text(), None);
    let second = callback(&updates[1]);
    assert!(matches!(
        second.message,
        Some(MaybeInaccessibleMessage::Inaccessible(_))
    ));
    assert_eq!(second.message.as_ref().unwrap().id(), MessageId(78));
}

#[tokio::test]
async fn each_query_is_answered_once() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let cy = TestUser::trader(503);
    let press = double.press(&cy, 503, 1, "x");
    let other = double.press(&cy, 503, 1, "y");
    assert!(double.callback_answer_for(&press.query_id).is_none());

    bot.answer_callback_query(CallbackQueryId(press.query_id.clone()))
        .text("Saved")
        .show_alert(true)
        .await
        .unwrap();
    let answer = CallbackAnswer {
        callback_query_id: press.query_id.clone(),
        text: Some("Saved".into()),
        show_alert: true,
    };
    assert_eq!(
        double.callback_answer_for(&press.query_id),
        Some(answer.clone())
    );

    // A second answer, or an answer to a query that never was, is Telegram's 400 (teloxide
    // spells the description with a lower-case "id", so it does not recognise it).
    for id in [press.query_id.clone(), "4382117000000000".to_owned()] {
        let err = bot
            .answer_callback_query(CallbackQueryId(id))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RequestError::Api(ApiError::Unknown(d)) if d == QUERY_INVALID),
            "{err:?}"
        );
    }
    let http = reqwest::Client::new();
    let res = http
        .post(format!(
            "{}/bot{TOKEN}/answerCallbackQuery",
            double.api_url()
        ))
        .json(&serde_json::json!({ "callback_query_id": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({ "ok": false, "error_code": 400, "description": QUERY_INVALID })
    );

    // Waiting for the answer to one press is not fooled by answers to others.
    assert_eq!(
        double
            .wait_for_callback_answer(&other.query_id, Duration::from_millis(50))
            .await,
        None
    );
    let waiting = double.wait_for_callback_answer(&other.query_id, WAIT);
    let answering = async {
        tokio::task::yield_now().await;
        bot.answer_callback_query(CallbackQueryId(other.query_id.clone()))
            .await
            .unwrap();
    };
    let (got, ()) = tokio::join!(waiting, answering);
    assert_eq!(
        got,
        Some(CallbackAnswer {
            callback_query_id: other.query_id.clone(),
            text: None,
            show_alert: false,
        })
    );
    assert_eq!(double.callback_answers().len(), 2);
    assert_eq!(double.callback_answers()[0], answer);
}

#[tokio::test]
async fn menus_edit_their_keyboard_in_place() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let menu = bot
        .send_message(ChatId(504), "Settings")
        .reply_markup(keyboard(&[("Mute", "mute")]))
        .await
        .unwrap();
    let edited = bot
        .edit_message_reply_markup(ChatId(504), menu.id)
        .reply_markup(keyboard(&[("Unmute", "unmute")]))
        .await
        .unwrap();
    assert_eq!(edited.text(), Some("Settings"));
    assert!(edited.edit_date().is_some());
    assert_eq!(
        edited.reply_markup(),
        Some(&keyboard(&[("Unmute", "unmute")]))
    );
    let recorded = double.message(504, menu.id.0).unwrap();
    assert_eq!(
        recorded.inline_buttons(),
        [("Unmute".to_owned(), Some("unmute".to_owned()))]
    );
    assert_eq!(recorded.edits, 1);

    // The same keyboard again changes nothing: Telegram's 400.
    let err = bot
        .edit_message_reply_markup(ChatId(504), menu.id)
        .reply_markup(keyboard(&[("Unmute", "unmute")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageNotModified)),
        "{err:?}"
    );
    // Without a markup the keyboard goes; then removing it again changes nothing.
    let bare = bot
        .edit_message_reply_markup(ChatId(504), menu.id)
        .await
        .unwrap();
    assert!(bare.reply_markup().is_none());
    assert!(
        double
            .message(504, menu.id.0)
            .unwrap()
            .reply_markup
            .is_none()
    );
    let err = bot
        .edit_message_reply_markup(ChatId(504), menu.id)
        .reply_markup(InlineKeyboardMarkup::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageNotModified)),
        "{err:?}"
    );
    let err = bot
        .edit_message_reply_markup(ChatId(504), MessageId(99))
        .reply_markup(keyboard(&[("x", "x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToEditNotFound)),
        "{err:?}"
    );

    assert_eq!(double.edit_count(504), 2);
    assert_eq!(double.edit_count(505), 0);
    assert_eq!(double.sent_to(504).len(), 1);
    assert_eq!(double.request_count("editMessageReplyMarkup"), 5);
}

#[tokio::test]
async fn a_teloxide_dispatcher_answers_presses_and_edits_the_menu() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let handler = dptree::entry()
        .branch(
            Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
                bot.send_message(msg.chat.id, "Signals: on")
                    .reply_markup(keyboard(&[("Turn off", "off")]))
                    .await?;
                respond(())
            }),
        )
        .branch(Update::filter_callback_query().endpoint(
            |bot: Bot, q: CallbackQuery| async move {
                let on = q.data.as_deref() == Some("on");
                let (text, button) = if on {
                    ("Signals: on", ("Turn off", "off"))
                } else {
                    ("Signals: off", ("Turn on", "on"))
                };
                if let Some(message) = &q.message {
                    bot.edit_message_text(message.chat().id, message.id(), text)
                        .reply_markup(keyboard(&[button]))
                        .await?;
                }
                bot.answer_callback_query(q.id).text(text).await?;
                respond(())
            },
        ));
    let mut dispatcher = Dispatcher::builder(bot(&double), handler).build();
    let stop = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    let dee = TestUser::trader(506);
    double.inject_message(&dee, "/settings");
    let menu = double
        .wait_for_messages(506, 1, WAIT)
        .await
        .unwrap()
        .remove(0);
    let press = double.press_button(&dee, &menu, "Turn off").unwrap();
    let answer = double
        .wait_for_callback_answer(&press.query_id, WAIT)
        .await
        .unwrap();
    assert_eq!(answer.text.as_deref(), Some("Signals: off"));
    let press = double.press_button(&dee, &menu, "Turn on").unwrap();
    double
        .wait_for_callback_answer(&press.query_id, WAIT)
        .await
        .unwrap();

    let sent = double.sent_to(506);
    assert_eq!(
        sent.len(),
        1,
        "the menu edits itself rather than sending anew"
    );
    assert_eq!(sent[0].text, "Signals: on");
    assert_eq!(sent[0].edits, 2);
    assert_eq!(double.edit_count(506), 2);

    stop.shutdown().unwrap().await;
    running.await.unwrap();
}
