//! The double for a signal's lifecycle, driven by the real teloxide client: charts sent as
//! photos (and the PNGs Telegram refuses), forum topics, replies, deleted and too old
//! messages, edit history, channels under the group flood limit, and the bot's own
//! `my_chat_member` updates — over `getUpdates`, the webhook and the `/_double/` control
//! surface.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use herald_testkit::telegram::{
    MemberStatus, TelegramDouble, TestChat, TestChatKind, TestUser, test_png,
};
use teloxide::payloads::{
    EditMessageCaptionSetters as _, EditMessageTextSetters as _, SendMessageSetters as _,
    SendPhotoSetters as _,
};
use teloxide::prelude::*;
use teloxide::types::{
    ChatMemberStatus, FileId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile,
    MessageEntityKind, MessageId, ParseMode, ReplyParameters, ThreadId, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::net::TcpListener;

const TOKEN: &str = "424242:LIFECYCLE";
const WAIT: Duration = Duration::from_secs(10);

fn bot(double: &TelegramDouble) -> Bot {
    Bot::new(double.token()).set_api_url(reqwest::Url::parse(&double.api_url()).unwrap())
}

async fn start() -> (TelegramDouble, Bot) {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let bot = bot(&double);
    (double, bot)
}

fn keyboard(label: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(label, label)]])
}

/// The description of a Telegram error teloxide does not name.
fn unknown(err: &RequestError) -> &str {
    match err {
        RequestError::Api(ApiError::Unknown(description)) => description,
        other => panic!("not an unknown API error: {other:?}"),
    }
}

fn chart(width: u32, height: u32) -> InputFile {
    InputFile::memory(test_png(width, height)).file_name("chart.png")
}

#[tokio::test]
async fn photos_are_recorded_with_their_caption_and_size() {
    let (double, bot) = start().await;
    let png = test_png(640, 480);
    let message = bot
        .send_photo(ChatId(42), InputFile::memory(png.clone()))
        .caption("<b>BTC/USD</b> long &amp; strong")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("Got it"))
        .disable_notification(true)
        .await
        .unwrap();

    assert_eq!(message.id, MessageId(1));
    assert!(message.from.as_ref().unwrap().is_bot);
    let sizes = message.photo().unwrap();
    let largest = sizes.last().unwrap();
    assert_eq!((largest.width, largest.height), (640, 480));
    assert_eq!(largest.file.size as usize, png.len());
    assert_eq!(message.caption(), Some("BTC/USD long & strong"));
    let entities = message.caption_entities().unwrap();
    assert_eq!(entities[0].kind, MessageEntityKind::Bold);
    assert_eq!((entities[0].offset, entities[0].length), (0, 7));
    assert!(message.text().is_none());
    assert_eq!(
        message.reply_markup().unwrap().inline_keyboard[0][0].text,
        "Got it"
    );

    bot.send_message(ChatId(42), "not a photo").await.unwrap();
    let photos = double.wait_for_photos(42, 1, WAIT).await.unwrap();
    assert_eq!(photos.len(), 1);
    let sent = &photos[0];
    assert_eq!(sent.text, "BTC/USD long & strong");
    assert_eq!(sent.raw_text, "<b>BTC/USD</b> long &amp; strong");
    assert!(sent.disable_notification);
    assert_eq!(sent.inline_buttons()[0].0, "Got it");
    let info = sent.photo.as_ref().unwrap();
    assert_eq!((info.width, info.height, info.bytes), (640, 480, png.len()));
    assert_eq!(info.file_id, largest.file.id.0);
    assert_eq!(double.sent_to(42).len(), 2);
    assert_eq!(double.photos_to(42).len(), 1);
    assert_eq!(double.request_count("sendPhoto"), 1);
    assert_eq!(double.attempts_to(42), 2);

    // Sent again by its file id, without a caption: no upload, the same photo.
    let again = bot
        .send_photo(ChatId(43), InputFile::file_id(FileId(info.file_id.clone())))
        .await
        .unwrap();
    assert_eq!(again.photo().unwrap().last().unwrap().width, 640);
    assert_eq!(again.caption(), None);
    let resent = &double.photos_to(43)[0];
    assert_eq!(resent.photo, sent.photo);
    assert_eq!(resent.text, "");

    let err = double
        .wait_for_photos(43, 2, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("photo 640x480"), "{err}");
}

#[tokio::test]
async fn telegram_refuses_what_is_not_a_readable_png_of_the_right_size() {
    let (double, bot) = start().await;
    let good = test_png(200, 150);
    let mut bad_signature = good.clone();
    bad_signature[0] = 0xFF;
    let mut bad_crc = good.clone();
    bad_crc[8 + 8 + 13] ^= 0x01;
    let truncated = good[..good.len() - 12].to_vec();
    let jpeg_like = b"\xFF\xD8\xFF\xE0 not a png".to_vec();
    // Uncompressed 3000 x 3500 greyscale: over 10 MB.
    let huge = test_png(3000, 3500);
    assert!(huge.len() > 10 * 1024 * 1024);
    for (bytes, why) in [
        (bad_signature, "signature"),
        (bad_crc, "IHDR CRC"),
        (truncated, "no IEND"),
        (jpeg_like, "not a PNG"),
        (huge, "over 10 MB"),
    ] {
        let err = bot
            .send_photo(ChatId(7), InputFile::memory(bytes))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::Api(ApiError::ImageProcessFailed)),
            "{why}: {err:?}"
        );
    }
    for (width, height) in [(99, 500), (500, 99), (4097, 200), (200, 4097)] {
        let err = bot
            .send_photo(ChatId(7), chart(width, height))
            .await
            .unwrap_err();
        assert_eq!(
            unknown(&err),
            "Bad Request: PHOTO_INVALID_DIMENSIONS",
            "{width}x{height}"
        );
    }
    let err = bot
        .send_photo(ChatId(7), InputFile::file_id(FileId("AgACunknown".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::WrongFileIdOrUrl)),
        "{err:?}"
    );
    let err = bot
        .send_photo(ChatId(7), chart(200, 150))
        .caption("x".repeat(1025))
        .await
        .unwrap_err();
    assert_eq!(unknown(&err), "Bad Request: message caption is too long");
    let err = bot
        .send_photo(ChatId(7), chart(200, 150))
        .caption("<b>open")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Api(ApiError::CantParseEntities(_))),
        "{err:?}"
    );
    assert!(double.sent_to(7).is_empty());

    // The limits themselves pass: 1024 visible characters (markup not counted), the
    // smallest and the largest sides.
    bot.send_photo(ChatId(7), chart(100, 4096))
        .caption(format!("<i>{}</i>", "x".repeat(1024)))
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    bot.send_photo(ChatId(7), chart(4096, 100)).await.unwrap();
    assert_eq!(double.photos_to(7).len(), 2);
}

#[tokio::test]
async fn raw_uploads_in_the_photo_field_and_missing_photos() {
    let double = TelegramDouble::start(TOKEN).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/bot{TOKEN}/sendPhoto", double.api_url());
    let png = test_png(300, 200);
    let multipart = |fields: &[(&str, &str)], file: Option<&[u8]>| {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--XB\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some(file) = file {
            body.extend_from_slice(
                b"--XB\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"c.png\"\r\n\
Content-Type: image/png\r\n\r\n",
            );
            body.extend_from_slice(file);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XB--\r\n");
        body
    };
    let post = |body: Vec<u8>| {
        http.post(&url)
            .header("content-type", "multipart/form-data; boundary=XB")
            .body(body)
            .send()
    };

    let res = post(multipart(
        &[("chat_id", "9"), ("caption", "direct")],
        Some(&png),
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["result"]["photo"][0]["width"], 300);
    assert_eq!(body["result"]["caption"], "direct");

    let res = post(multipart(&[("chat_id", "9")], None)).await.unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "ok": false,
            "error_code": 400,
            "description": "Bad Request: there is no photo in the request"
        })
    );
    let res = post(multipart(
        &[("chat_id", "9"), ("photo", "attach://missing")],
        None,
    ))
    .await
    .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["description"],
        "Bad Request: wrong file identifier/HTTP URL specified"
    );
    let photos = double.photos_to(9);
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].photo.as_ref().unwrap().bytes, png.len());
}

#[tokio::test]
async fn sends_go_to_existing_forum_topics_only() {
    let (double, bot) = start().await;
    let forum = TestChat::forum(-1_001_000_000_001, "Signals");
    assert!(forum.is_forum);
    let btc = double.create_topic(&forum, "BTC");
    let eth = double.create_topic(&forum, "ETH");
    assert_ne!(btc, eth);
    assert_eq!(
        double.topics(forum.id),
        [(btc, "BTC".to_owned()), (eth, "ETH".to_owned())]
    );

    let message = bot
        .send_message(ChatId(forum.id), "BTC long")
        .message_thread_id(ThreadId(MessageId(btc)))
        .await
        .unwrap();
    assert_eq!(message.thread_id, Some(ThreadId(MessageId(btc))));
    assert!(message.is_topic_message);
    assert!(message.chat.is_supergroup());
    // Topics take message ids of the chat, as on Telegram.
    assert_eq!(message.id, MessageId(eth + 1));
    let photo = bot
        .send_photo(ChatId(forum.id), chart(400, 300))
        .message_thread_id(ThreadId(MessageId(eth)))
        .await
        .unwrap();
    assert_eq!(photo.thread_id, Some(ThreadId(MessageId(eth))));
    // The general topic: no thread id.
    bot.send_message(ChatId(forum.id), "to everyone")
        .await
        .unwrap();
    let threads: Vec<Option<i32>> = double
        .sent_to(forum.id)
        .iter()
        .map(|m| m.thread_id)
        .collect();
    assert_eq!(threads, [Some(btc), Some(eth), None]);

    let supergroup = TestChat::supergroup(-1_001_000_000_002, "Not a forum");
    double.add_chat(&supergroup);
    for (chat, thread) in [
        (forum.id, eth + 100),
        (supergroup.id, btc),
        (-5, btc),
        (42, btc),
    ] {
        let err = bot
            .send_message(ChatId(chat), "nowhere")
            .message_thread_id(ThreadId(MessageId(thread)))
            .await
            .unwrap_err();
        assert_eq!(
            unknown(&err),
            "Bad Request: message thread not found",
            "{chat}"
        );
        let err = bot
            .send_photo(ChatId(chat), chart(400, 300))
            .message_thread_id(ThreadId(MessageId(thread)))
            .await
            .unwrap_err();
        assert_eq!(unknown(&err), "Bad Request: message thread not found");
    }
    assert_eq!(double.sent_to(forum.id).len(), 3);
    assert!(double.sent_to(supergroup.id).is_empty());
}

#[tokio::test]
async fn replies_need_a_target_that_still_exists() {
    let (double, bot) = start().await;
    let signal = bot.send_message(ChatId(42), "BTC long").await.unwrap();
    let update = bot
        .send_message(ChatId(42), "TP1 hit")
        .reply_parameters(ReplyParameters::new(signal.id))
        .await
        .unwrap();
    assert_eq!(update.reply_to_message().unwrap().id, signal.id);
    let chart_reply = bot
        .send_photo(ChatId(42), chart(400, 300))
        .reply_parameters(ReplyParameters::new(signal.id))
        .await
        .unwrap();
    assert_eq!(chart_reply.reply_to_message().unwrap().id, signal.id);

    // The trader deletes the signal: replies to it are refused unless allowed without it.
    assert!(double.delete_message(42, signal.id.0));
    assert!(!double.delete_message(42, signal.id.0), "deleted twice");
    assert!(double.message(42, signal.id.0).unwrap().deleted);
    let err = bot
        .send_message(ChatId(42), "SL hit")
        .reply_parameters(ReplyParameters::new(signal.id))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToReplyNotFound)),
        "{err:?}"
    );
    let err = bot
        .send_photo(ChatId(42), chart(400, 300))
        .reply_parameters(ReplyParameters::new(signal.id))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageToReplyNotFound)),
        "{err:?}"
    );
    let lenient = bot
        .send_message(ChatId(42), "SL hit")
        .reply_parameters(ReplyParameters::new(signal.id).allow_sending_without_reply())
        .await
        .unwrap();
    assert!(lenient.reply_to_message().is_none());
    // A message the bot deleted itself is as gone; never-sent ones never existed.
    assert!(bot.delete_message(ChatId(42), update.id).await.is_ok());
    for target in [update.id, MessageId(999)] {
        let err = bot
            .send_message(ChatId(42), "again")
            .reply_parameters(ReplyParameters::new(target))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::Api(ApiError::MessageToReplyNotFound)),
            "{err:?}"
        );
    }
    // The record keeps what a message replied to, deleted since or not.
    let stored = double.message(42, chart_reply.id.0).unwrap();
    assert_eq!(stored.reply_to_message_id, Some(signal.id.0));

    // The legacy parameter, raw.
    let http = reqwest::Client::new();
    let target = chart_reply.id.0.to_string();
    let res = http
        .post(format!("{}/bot{TOKEN}/sendMessage", double.api_url()))
        .form(&[
            ("chat_id", "42"),
            ("text", "legacy"),
            ("reply_to_message_id", target.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .post(format!("{}/bot{TOKEN}/sendMessage", double.api_url()))
        .json(&serde_json::json!({
            "chat_id": 42,
            "text": "legacy gone",
            "reply_to_message_id": signal.id.0,
        }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["description"],
        "Bad Request: message to be replied not found"
    );

    let replies: Vec<(String, Option<i32>)> = double
        .sent_to(42)
        .into_iter()
        .map(|m| (m.text, m.reply_to_message_id))
        .collect();
    assert_eq!(
        replies,
        [
            ("BTC long".to_owned(), None),
            ("TP1 hit".to_owned(), Some(signal.id.0)),
            (String::new(), Some(signal.id.0)),
            ("SL hit".to_owned(), None),
            ("legacy".to_owned(), Some(chart_reply.id.0)),
        ]
    );
}

#[tokio::test]
async fn deleted_and_aged_messages_cannot_be_edited_and_edits_are_kept() {
    let (double, bot) = start().await;
    let signal = bot
        .send_message(ChatId(42), "BTC long @ 64000")
        .reply_markup(keyboard("Close"))
        .await
        .unwrap();

    // An edit with a keyboard keeps it; one without removes it, as on Telegram.
    let edited = bot
        .edit_message_text(ChatId(42), signal.id, "BTC long @ 64000 — TP1 hit")
        .reply_markup(keyboard("Close"))
        .await
        .unwrap();
    assert!(edited.reply_markup().is_some());
    let edited = bot
        .edit_message_text(ChatId(42), signal.id, "BTC long @ 64000 — closed")
        .await
        .unwrap();
    assert!(edited.reply_markup().is_none());
    let stored = double.message(42, signal.id.0).unwrap();
    assert_eq!(stored.edits, 2);
    assert_eq!(
        stored.texts(),
        [
            "BTC long @ 64000",
            "BTC long @ 64000 — TP1 hit",
            "BTC long @ 64000 — closed"
        ]
    );
    assert!(stored.reply_markup.is_none());
    assert_eq!(stored.history.len(), 2);
    assert!(stored.history[0].reply_markup.is_some());
    assert!(stored.history[1].reply_markup.is_some());
    assert!(stored.history[0].replaced_at <= stored.history[1].replaced_at);

    // Too old to edit (or delete); other messages are still fine.
    assert!(double.age_message(42, signal.id.0));
    let err = bot
        .edit_message_text(ChatId(42), signal.id, "later")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{err:?}"
    );
    let err = bot
        .edit_message_reply_markup(ChatId(42), signal.id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{err:?}"
    );
    let err = bot.delete_message(ChatId(42), signal.id).await.unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageCantBeDeleted)),
        "{err:?}"
    );
    assert!(!double.age_message(42, 999));

    // Deleted by the trader, by the bot, or never sent: not found.
    let second = bot.send_message(ChatId(42), "ETH short").await.unwrap();
    let third = bot.send_message(ChatId(42), "SOL long").await.unwrap();
    assert!(double.delete_message(42, second.id.0));
    bot.delete_message(ChatId(42), third.id).await.unwrap();
    assert!(double.message(42, third.id.0).unwrap().deleted);
    for id in [second.id, third.id, MessageId(999)] {
        let err = bot
            .edit_message_text(ChatId(42), id, "edited")
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::Api(ApiError::MessageToEditNotFound)),
            "{id:?}: {err:?}"
        );
        let err = bot
            .edit_message_reply_markup(ChatId(42), id)
            .reply_markup(keyboard("x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::Api(ApiError::MessageToEditNotFound)),
            "{id:?}: {err:?}"
        );
        let err = bot.delete_message(ChatId(42), id).await.unwrap_err();
        assert!(
            matches!(err, RequestError::Api(ApiError::MessageToDeleteNotFound)),
            "{id:?}: {err:?}"
        );
    }
    // The trader's own messages can be deleted by the bot, not edited.
    double.inject_message(&TestUser::trader(42), "/close BTC");
    let theirs = MessageId(third.id.0 + 1);
    let err = bot
        .edit_message_text(ChatId(42), theirs, "mine now")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{err:?}"
    );
    bot.delete_message(ChatId(42), theirs).await.unwrap();
    assert_eq!(double.edit_count(42), 2);
    assert_eq!(double.sent_to(42).len(), 3);
}

#[tokio::test]
async fn photo_captions_are_edited_and_photos_have_no_text() {
    let (double, bot) = start().await;
    let photo = bot
        .send_photo(ChatId(42), chart(800, 600))
        .caption("BTC chart")
        .reply_markup(keyboard("Refresh"))
        .await
        .unwrap();
    let err = bot
        .edit_message_text(ChatId(42), photo.id, "text")
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Bad Request: there is no text in the message to edit"
    );
    let edited = bot
        .edit_message_caption(ChatId(42), photo.id)
        .caption("<b>BTC</b> chart — closed")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap();
    assert_eq!(edited.caption(), Some("BTC chart — closed"));
    assert!(edited.photo().is_some());
    assert!(edited.reply_markup().is_none());
    let stored = double.message(42, photo.id.0).unwrap();
    assert_eq!(stored.texts(), ["BTC chart", "BTC chart — closed"]);
    assert_eq!(stored.photo.as_ref().unwrap().width, 800);

    let text = bot.send_message(ChatId(42), "plain").await.unwrap();
    let err = bot
        .edit_message_caption(ChatId(42), text.id)
        .caption("caption")
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Bad Request: there is no caption in the message to edit"
    );
}

#[tokio::test]
async fn channels_are_recorded_and_groups_and_channels_share_the_per_minute_limit() {
    let (double, bot) = start().await;
    let channel = TestChat::channel(-1_002_000_000_001, "Herald signals");
    assert_eq!(channel.kind, TestChatKind::Channel);
    double.add_chat(&channel);
    let post = bot
        .send_message(ChatId(channel.id), "BTC long")
        .await
        .unwrap();
    assert!(post.chat.is_channel());
    assert_eq!(post.chat.title(), Some("Herald signals"));
    assert!(post.from.is_none());
    assert_eq!(post.sender_chat.as_ref().unwrap().id, ChatId(channel.id));
    let photo = bot
        .send_photo(ChatId(channel.id), chart(400, 300))
        .await
        .unwrap();
    assert!(photo.chat.is_channel());
    assert_eq!(double.sent_to(channel.id).len(), 2);

    double.enforce_group_limit(3);
    let group = TestChat::group(-4242, "Desk");
    double.add_chat(&group);
    for chat in [channel.id, group.id, -1_003_000_000_001] {
        // A message, a photo and an edit: three sends; the fourth of any kind is over.
        let first = bot.send_message(ChatId(chat), "one").await.unwrap();
        bot.send_photo(ChatId(chat), chart(400, 300)).await.unwrap();
        bot.edit_message_text(ChatId(chat), first.id, "one, edited")
            .await
            .unwrap();
        let err = bot
            .send_photo(ChatId(chat), chart(400, 300))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::RetryAfter(s) if s.seconds() >= 59),
            "{chat}: {err:?}"
        );
        let err = bot
            .edit_message_text(ChatId(chat), first.id, "one, edited again")
            .await
            .unwrap_err();
        assert!(
            matches!(err, RequestError::RetryAfter(_)),
            "{chat}: {err:?}"
        );
        let err = bot.send_message(ChatId(chat), "four").await.unwrap_err();
        assert!(
            matches!(err, RequestError::RetryAfter(_)),
            "{chat}: {err:?}"
        );
    }
    assert_eq!(double.too_many_requests_count(), 9);
    // Private chats are not groups.
    for n in 0..4 {
        bot.send_photo(ChatId(42), chart(400, 300))
            .caption(format!("{n}"))
            .await
            .unwrap();
    }
    let raw = reqwest::Client::new()
        .post(format!("{}/bot{TOKEN}/sendMessage", double.api_url()))
        .json(&serde_json::json!({ "chat_id": channel.id, "text": "over" }))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error_code"], 429);
    assert!(body["parameters"]["retry_after"].as_u64().unwrap() >= 59);
}

#[tokio::test]
async fn my_chat_member_updates_arrive_and_a_removed_bot_is_refused() {
    let (double, bot) = start().await;
    let me = bot.get_me().await.unwrap();
    let admin = TestUser::trader(7).with_last_name("Admin");
    let channel = TestChat::channel(-1_002_000_000_002, "Signals channel");
    let group = TestChat::group(-777, "Desk");
    let forum = TestChat::forum(-1_001_000_000_003, "Forum");
    double.inject_my_chat_member(
        &channel,
        &admin,
        MemberStatus::Left,
        MemberStatus::Administrator,
    );
    double.inject_my_chat_member(&group, &admin, MemberStatus::Left, MemberStatus::Member);
    double.inject_my_chat_member(&group, &admin, MemberStatus::Member, MemberStatus::Kicked);
    double.inject_my_chat_member(
        &forum,
        &admin,
        MemberStatus::Member,
        MemberStatus::Restricted,
    );
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 4);
    let changes: Vec<(i64, ChatMemberStatus, ChatMemberStatus)> = updates
        .iter()
        .map(|u| match &u.kind {
            UpdateKind::MyChatMember(m) => {
                assert_eq!(m.from.id.0, 7);
                assert_eq!(m.from.last_name.as_deref(), Some("Admin"));
                assert_eq!(m.new_chat_member.user.id, me.id);
                assert!(m.new_chat_member.user.is_bot);
                assert_eq!(m.old_chat_member.user.id, me.id);
                assert!(m.date.timestamp() > 0);
                (
                    m.chat.id.0,
                    m.old_chat_member.status(),
                    m.new_chat_member.status(),
                )
            }
            other => panic!("not a my_chat_member update: {other:?}"),
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                channel.id,
                ChatMemberStatus::Left,
                ChatMemberStatus::Administrator
            ),
            (group.id, ChatMemberStatus::Left, ChatMemberStatus::Member),
            (group.id, ChatMemberStatus::Member, ChatMemberStatus::Banned),
            (
                forum.id,
                ChatMemberStatus::Member,
                ChatMemberStatus::Restricted
            ),
        ]
    );
    match &updates[0].kind {
        UpdateKind::MyChatMember(m) => {
            assert!(m.chat.is_channel());
            assert!(m.new_chat_member.can_post_messages());
        }
        _ => unreachable!(),
    }
    assert_eq!(double.bot_status(group.id), Some(MemberStatus::Kicked));
    assert_eq!(double.bot_status(42), None);

    // Where the bot is an administrator it posts; kicked, it gets Telegram's 403.
    bot.send_message(ChatId(channel.id), "hello channel")
        .await
        .unwrap();
    let err = bot
        .send_message(ChatId(group.id), "still here?")
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Forbidden: bot was kicked from the group chat"
    );
    let err = bot
        .send_photo(ChatId(forum.id), chart(400, 300))
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Bad Request: not enough rights to send photos to the chat"
    );

    // Removed from the channel without a ban; then added back.
    double.inject_my_chat_member(
        &channel,
        &admin,
        MemberStatus::Administrator,
        MemberStatus::Left,
    );
    let err = bot
        .send_message(ChatId(channel.id), "gone")
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Forbidden: bot is not a member of the channel chat"
    );
    let err = bot
        .edit_message_text(ChatId(channel.id), MessageId(1), "edit")
        .await
        .unwrap_err();
    assert_eq!(
        unknown(&err),
        "Forbidden: bot is not a member of the channel chat"
    );
    double.inject_my_chat_member(
        &channel,
        &admin,
        MemberStatus::Left,
        MemberStatus::Administrator,
    );
    bot.send_message(ChatId(channel.id), "back").await.unwrap();
    assert_eq!(double.sent_to(channel.id).len(), 2);
}

/// A webhook that keeps the body of every update it is sent.
async fn webhook() -> (reqwest::Url, Arc<Mutex<Vec<Bytes>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(seen): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    seen.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(seen.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (
        reqwest::Url::parse(&format!("http://{addr}/hook")).unwrap(),
        seen,
    )
}

#[tokio::test]
async fn my_chat_member_updates_reach_the_webhook_and_the_control_surface_works() {
    let (double, bot) = start().await;
    let (url, seen) = webhook().await;
    bot.set_webhook(url).await.unwrap();
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_double/{path}", double.api_url());

    let supergroup = serde_json::json!({
        "id": -1_001_000_000_009i64, "title": "Traders", "kind": "supergroup"
    });
    let res = http
        .post(control("my_chat_member"))
        .json(&serde_json::json!({
            "chat": supergroup,
            "from": { "id": 5, "first_name": "Owner" },
            "old_status": "left",
            "new_status": "administrator",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["update_id"], 1);
    double
        .wait_until(|_| !seen.lock().unwrap().is_empty(), WAIT)
        .await
        .unwrap();
    // As teloxide's own webhook listener does: from the raw body.
    let update: Update = serde_json::from_slice(&seen.lock().unwrap()[0]).unwrap();
    match update.kind {
        UpdateKind::MyChatMember(m) => {
            assert_eq!(m.chat.id, ChatId(-1_001_000_000_009));
            assert!(m.chat.is_supergroup());
            assert!(m.old_chat_member.is_left());
            assert!(m.new_chat_member.is_administrator());
            assert_eq!(m.from.first_name, "Owner");
        }
        other => panic!("not a my_chat_member update: {other:?}"),
    }
    bot.delete_webhook().await.unwrap();

    // A forum and a topic over HTTP.
    let forum = serde_json::json!({
        "id": -1_001_000_000_010i64, "title": "Forum", "kind": "supergroup", "is_forum": true
    });
    let res = http
        .post(control("chats"))
        .json(&forum)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = http
        .post(control("topics"))
        .json(&serde_json::json!({ "chat": forum, "name": "BTC" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let thread = i32::try_from(body["message_thread_id"].as_i64().unwrap()).unwrap();
    let message = bot
        .send_message(ChatId(-1_001_000_000_010), "in the topic")
        .message_thread_id(ThreadId(MessageId(thread)))
        .await
        .unwrap();
    assert!(message.chat.is_supergroup());

    // Age, then delete, over HTTP.
    let path = format!("messages/-1001000000010/{}", message.id.0);
    let res = http
        .post(control(&format!("{path}/age")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let err = bot
        .edit_message_text(ChatId(-1_001_000_000_010), message.id, "edited")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageCantBeEdited)),
        "{err:?}"
    );
    let res = http.delete(control(&path)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = http.delete(control(&path)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = http
        .post(control("messages/-1001000000010/999/age"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // What was sent carries the new fields.
    let res = http
        .get(control("sent?chat_id=-1001000000010"))
        .send()
        .await
        .unwrap();
    let sent: Vec<serde_json::Value> = res.json().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["thread_id"], thread);
    assert_eq!(sent[0]["deleted"], true);
    assert_eq!(sent[0]["photo"], serde_json::Value::Null);
}
