//! The double's `getUpdates` through teloxide: injected messages (private and group chats),
//! offsets, real long polling, Telegram's 409 for a competing poller, and a whole teloxide
//! `Dispatcher` round trip.

use std::time::Duration;

use herald_testkit::telegram::{TelegramDouble, TestChat, TestChatKind, TestUser};
use teloxide::payloads::GetUpdatesSetters as _;
use teloxide::prelude::*;
use teloxide::types::{MessageEntityKind, UpdateKind};
use teloxide::{ApiError, RequestError};

const TOKEN: &str = "555:UPDATES";
const WAIT: Duration = Duration::from_secs(10);

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

fn message(update: &Update) -> &Message {
    match &update.kind {
        UpdateKind::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test]
async fn injected_messages_arrive_and_offsets_confirm_them() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let alice = TestUser::new(1001, "Alice")
        .with_username("alice")
        .with_last_name("Liddell");
    let first = double.inject_message(&alice, "/subscribe BTC-USD");
    let second = double.inject_message(&alice, "hello");
    assert_eq!((first, second), (1, 2));
    assert_eq!(double.pending_updates(), 2);

    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 2);
    let m = message(&updates[0]);
    assert_eq!(m.text(), Some("/subscribe BTC-USD"));
    assert_eq!(m.chat.id, ChatId(1001));
    assert!(m.chat.is_private());
    assert_eq!(m.chat.username(), Some("alice"));
    let from = m.from.as_ref().unwrap();
    assert_eq!((from.id.0, from.first_name.as_str()), (1001, "Alice"));
    assert_eq!(from.last_name.as_deref(), Some("Liddell"));
    let entity = &m.entities().unwrap()[0];
    assert_eq!(
        (&entity.kind, entity.offset, entity.length),
        (&MessageEntityKind::BotCommand, 0, 10)
    );
    assert!(message(&updates[1]).entities().is_none_or(<[_]>::is_empty));

    // Asking again without an offset returns the same updates; a higher offset confirms.
    assert_eq!(bot.get_updates().await.unwrap().len(), 2);
    let rest = bot.get_updates().offset(2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(double.pending_updates(), 1);
    assert!(bot.get_updates().offset(3).await.unwrap().is_empty());
    assert_eq!(double.pending_updates(), 0);

    // `limit`, and a negative offset keeping only the last updates.
    for i in 0..5 {
        double.inject_message(&alice, &format!("m{i}"));
    }
    assert_eq!(bot.get_updates().limit(2).await.unwrap().len(), 2);
    let last = bot.get_updates().offset(-1).await.unwrap();
    assert_eq!(message(&last[0]).text(), Some("m4"));
    assert_eq!(double.pending_updates(), 1);
}

#[tokio::test]
async fn long_poll_waits_for_an_update() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(30).await }
    });
    double.wait_until(|d| d.is_polling(), WAIT).await.unwrap();
    double.inject_message(&TestUser::trader(5), "/start");
    let updates = tokio::time::timeout(WAIT, poll)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(updates.len(), 1);
    assert!(!double.is_polling());
}

#[tokio::test]
async fn long_poll_times_out_empty() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let updates = bot(&double).get_updates().timeout(1).await.unwrap();
    assert!(updates.is_empty());
}

#[tokio::test]
async fn a_second_poller_terminates_the_first_with_409() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(30).await }
    });
    double.wait_until(|d| d.is_polling(), WAIT).await.unwrap();
    let second = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(30).await }
    });
    let err = tokio::time::timeout(WAIT, first)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::Api(ApiError::TerminatedByOtherGetUpdates)
        ),
        "{err:?}"
    );
    double.wait_until(|d| d.is_polling(), WAIT).await.unwrap();
    double.inject_message(&TestUser::trader(5), "hi");
    let updates = tokio::time::timeout(WAIT, second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(updates.len(), 1);
}

#[tokio::test]
async fn shutdown_ends_waiting_polls() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let poll = tokio::spawn(async move { bot.get_updates().timeout(50).await });
    double.wait_until(|d| d.is_polling(), WAIT).await.unwrap();
    tokio::time::timeout(WAIT, double.shutdown()).await.unwrap();
    let updates = tokio::time::timeout(WAIT, poll)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(updates.is_empty());
}

#[tokio::test]
async fn a_teloxide_dispatcher_answers_through_the_double() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
        let text = format!("pong: {}", msg.text().unwrap_or_default());
        bot.send_message(msg.chat.id, text).await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(bot(&double), handler).build();
    let stop = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    double.wait_until(|d| d.is_polling(), WAIT).await.unwrap();
    assert_eq!(double.request_count("getMe"), 1);
    double.inject_message(&TestUser::trader(31), "/ping");
    double.inject_message(&TestUser::trader(32), "/ping");
    let replies = double.wait_for_messages(31, 1, WAIT).await.unwrap();
    assert_eq!(replies[0].text, "pong: /ping");
    double.wait_for_messages(32, 1, WAIT).await.unwrap();

    stop.shutdown().unwrap().await;
    running.await.unwrap();
    // The dispatcher confirmed what it handled on its way out.
    assert_eq!(double.pending_updates(), 0);
}

#[tokio::test]
async fn the_senders_language_shows_only_when_set() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    double.inject_message(&TestUser::trader(61).with_language("de"), "hallo");
    double.inject_message(&TestUser::trader(62), "hello");
    let updates = bot(&double).get_updates().await.unwrap();
    let language = |i: usize| {
        message(&updates[i])
            .from
            .as_ref()
            .unwrap()
            .language_code
            .clone()
    };
    assert_eq!(language(0).as_deref(), Some("de"));
    assert_eq!(language(1), None);
}

#[tokio::test]
async fn group_messages_come_from_their_group_and_the_bot_answers_there() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    let desk = TestChat::group(-4001, "Trading desk");
    let floor = TestChat::supergroup(-1_001_234_567_890, "Floor");
    assert_eq!(floor.kind, TestChatKind::Supergroup);
    let eve = TestUser::trader(63);
    double.inject_group_message(&desk, &eve, "/signals@herald_test_bot BTC");
    double.inject_group_message(&floor, &eve, "gm");

    let updates = bot.get_updates().await.unwrap();
    let m = message(&updates[0]);
    assert_eq!(m.chat.id, ChatId(-4001));
    assert!(m.chat.is_group());
    assert_eq!(m.chat.title(), Some("Trading desk"));
    assert_eq!(m.from.as_ref().unwrap().id.0, 63);
    let entity = &m.entities().unwrap()[0];
    assert_eq!(
        (&entity.kind, entity.offset, entity.length),
        (&MessageEntityKind::BotCommand, 0, 24)
    );
    let m = message(&updates[1]);
    assert!(m.chat.is_supergroup());
    assert_eq!(m.chat.title(), Some("Floor"));
    assert_eq!(m.id.0, 1, "message ids count per chat");

    let reply = bot.send_message(ChatId(-4001), "BTC: long").await.unwrap();
    assert!(reply.chat.is_group());
    assert_eq!(reply.chat.title(), Some("Trading desk"));
    assert_eq!(reply.id.0, 2);
    let reply = bot
        .send_message(ChatId(-1_001_234_567_890), "gm")
        .await
        .unwrap();
    assert!(reply.chat.is_supergroup());
    assert_eq!(double.sent_to(-4001)[0].text, "BTC: long");
}
