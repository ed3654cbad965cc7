//! A Telegram Bot API double: a real HTTP server on `127.0.0.1` that speaks the Bot API well
//! enough that teloxide, pointed at it with `Bot::new(token).set_api_url(url)`, cannot tell
//! it from Telegram — plus a control surface to play the traders and the network.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use herald_testkit::telegram::{TelegramDouble, TestUser};
//! let double = TelegramDouble::start("123456:TEST").await?;
//! // point the bot at double.api_url() …
//! double.inject_message(&TestUser::trader(42), "/start");
//! let replies = double.wait_for_messages(42, 1, std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```
//!
//! Layout:
//! - `api`: `/bot<token>/<method>` — parameters from query, JSON, form or multipart bodies
//!   (`multipart`: with uploaded files; bodies over 50 MB get 413); answers and errors shaped
//!   like Telegram's (`{"ok":false,"error_code":…,"description":…}`).
//! - `messages`: `sendMessage`, `sendPhoto`, `editMessageText`, `editMessageCaption`,
//!   `editMessageReplyMarkup` and `deleteMessage` with Telegram's HTML parsing (`html`),
//!   length limits, forum topics, reply targets, "message is not modified", deleted and too
//!   old messages, scripted [`Fault`]s and optional flood [`Limits`]; `photo`: the PNG
//!   checks of `sendPhoto` and [`test_png`].
//! - `chats`: groups, forums (topics: [`TelegramDouble::create_topic`]) and channels, and the
//!   bot's own membership: [`TelegramDouble::inject_my_chat_member`] and the 403s that
//!   follow.
//! - `callbacks`: inline button presses ([`TelegramDouble::press`]) and
//!   `answerCallbackQuery`.
//! - `updates`: `getUpdates` long polling (offset confirmation, 409 on a competing poller)
//!   and the webhook methods; `webhook`: delivering updates to a webhook, as Telegram does.
//! - `control`: the same control surface over HTTP under `/_double/` for other processes.
//!
//! Editing works as on Telegram: an `editMessageText` (or `editMessageCaption`) without
//! `reply_markup` *removes* the message's inline keyboard — a bot that keeps its buttons
//! must send them with every edit. Edits count toward the flood limits like sends.
//!
//! What the double does not do: Markdown parse modes are accepted but not parsed; of media,
//! only photos are modelled, and only PNGs (checked for what Herald's charts need: see
//! `sendPhoto` below), with one `PhotoSize` each; no media groups, documents or
//! `editMessageMedia`; inline mode is not modelled; `allowed_updates` is ignored (every update
//! is delivered); callback queries do not expire; a webhook's answer is not executed as a
//! method call; messages do not age by themselves (see [`TelegramDouble::age_message`]); no
//! update is sent for a deleted message or a created topic;
//! `createForumTopic` and the other chat-management methods are not served (topics come from
//! [`TelegramDouble::create_topic`]); rights are not checked beyond the bot's
//! [`MemberStatus`] in a chat; a reply to a message of another chat
//! (`reply_parameters.chat_id`) is checked and recorded but answered without
//! `external_reply`.
//!
//! `sendPhoto` takes the file in the multipart field `photo`, in the part an
//! `attach://<name>` value names (as teloxide sends it), or as the `file_id` of a photo the
//! double accepted before. An upload must be a PNG: the 8-byte signature, an `IHDR` chunk
//! first with a correct CRC, well-formed chunks up to an `IEND` that ends the file, at most
//! 10 MB — else 400 `Bad Request: IMAGE_PROCESS_FAILED`; and 100 to 4096 pixels wide and
//! high ([`photo::MIN_SIDE`], [`photo::MAX_SIDE`]: stricter than Telegram, which also takes
//! JPEG and WebP up to 10000 pixels width plus height) — else 400
//! `Bad Request: PHOTO_INVALID_DIMENSIONS`. A caption is parsed like a text, up to 1024
//! visible characters (`Bad Request: message caption is too long`).

mod api;
mod callbacks;
mod chats;
mod control;
mod html;
mod messages;
mod model;
mod multipart;
pub mod photo;
mod state;
mod updates;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, delete, get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use callbacks::Pressed;
pub use model::{
    CallbackAnswer, Fault, Limits, MemberStatus, MessageVersion, PhotoInfo, Press, SentMessage,
    TestChat, TestChatKind, TestUser,
};
pub use photo::png as test_png;
use state::{LimitState, Shared};

/// What a trader sees of `html` sent in HTML parse mode: tags stripped, entities decoded,
/// surrounding whitespace trimmed — exactly what the double records as
/// [`SentMessage::text`]. `Err` carries Telegram's "can't parse entities" reason.
pub fn visible_text(html: &str) -> Result<String, String> {
    html::parse(html).map(|parsed| html::trim(parsed).text)
}

/// A running Bot API double. Dropping it (or [`TelegramDouble::shutdown`]) stops the server.
pub struct TelegramDouble {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<JoinHandle<()>>,
    webhook: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TelegramDouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramDouble")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TelegramDouble {
    /// Starts a double for `token` on `127.0.0.1` on a free port.
    pub async fn start(token: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the Telegram double to 127.0.0.1:0")?;
        Self::start_on(listener, token)
    }

    /// Starts a double for `token` on an already bound listener (e.g. a fixed address for
    /// `herald demo`).
    pub fn start_on(listener: TcpListener, token: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(!token.is_empty(), "the Telegram double needs a bot token");
        let addr = listener
            .local_addr()
            .context("reading the Telegram double's address")?;
        let shared = Arc::new(Shared::new(token));
        let router = Router::new()
            .route("/_double/updates", post(control::inject))
            .route("/_double/sent", get(control::sent))
            .route("/_double/faults", post(control::faults))
            .route("/_double/faults/{chat_id}", delete(control::clear_faults))
            .route("/_double/chats", post(control::add_chat))
            .route("/_double/topics", post(control::create_topic))
            .route("/_double/my_chat_member", post(control::my_chat_member))
            .route(
                "/_double/messages/{chat_id}/{message_id}",
                delete(control::delete_message),
            )
            .route(
                "/_double/messages/{chat_id}/{message_id}/age",
                post(control::age_message),
            )
            .route(
                "/{bot}/{method}",
                any(api::handle).layer(DefaultBodyLimit::max(api::MAX_REQUEST_BYTES)),
            )
            .fallback(api::not_found)
            .with_state(shared.clone());
        let stop = shared.shutdown.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled_owned().await });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "Telegram double stopped");
            }
        });
        let webhook = tokio::spawn(webhook::run(shared.clone()));
        Ok(Self {
            shared,
            addr,
            server: Some(server),
            webhook: Some(webhook),
        })
    }

    /// The base URL to give teloxide (`Bot::set_api_url`) or `HERALD_TELEGRAM_API_URL`,
    /// e.g. `http://127.0.0.1:41234`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the double listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bot token the double accepts (any other gets 401 `Unauthorized`).
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The bot's username (`getMe`), without `@`.
    pub fn bot_username(&self) -> &str {
        &self.shared.bot.username
    }

    /// Stops the server and waits for it: waiting long polls are answered with no updates,
    /// webhook deliveries stop.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(webhook) = self.webhook.take() {
            let _ = webhook.await;
        }
    }

    // --- playing the traders ---

    /// Queues a private-chat message from `from` (chat id = user id) for the bot's
    /// `getUpdates`, or for delivery to its webhook if one is set; a text starting with `/`
    /// carries a `bot_command` entity. Returns the update id.
    pub fn inject_message(&self, from: &TestUser, text: &str) -> i64 {
        self.shared.inject_message(from, text)
    }

    /// Queues a message from `from` in the group or supergroup `chat` (as
    /// [`TelegramDouble::inject_message`] does for private chats; in a channel, a
    /// `channel_post` signed by the channel); from then on the bot's messages to `chat.id`
    /// show that chat. Returns the update id.
    pub fn inject_group_message(&self, chat: &TestChat, from: &TestUser, text: &str) -> i64 {
        self.shared.inject_group_message(chat, from, text)
    }

    /// Tells the double of the group, forum or channel `chat` without an update: from then on
    /// the bot's messages to `chat.id` show that chat (a channel's are signed by it), and a
    /// forum's topics ([`TelegramDouble::create_topic`]) may be sent to.
    pub fn add_chat(&self, chat: &TestChat) {
        self.shared.add_chat(chat);
    }

    /// Creates a topic named `name` in the forum `chat` (registering the chat, as
    /// [`TelegramDouble::add_chat`] does) and returns its `message_thread_id`, which takes a
    /// message id of the chat as on Telegram. Sends naming a thread id that is no topic of
    /// their chat — or naming one at all in a chat that is not a forum
    /// ([`TestChat::forum`]) — are answered 400 `Bad Request: message thread not found`. No
    /// update is queued.
    pub fn create_topic(&self, chat: &TestChat, name: &str) -> i32 {
        self.shared.create_topic(chat, name)
    }

    /// The topics of the forum `chat_id`, as (`message_thread_id`, name), oldest first.
    pub fn topics(&self, chat_id: i64) -> Vec<(i32, String)> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map(|c| {
                c.topics
                    .iter()
                    .map(|(id, name)| (*id, name.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Queues a `my_chat_member` update (Telegram's `ChatMemberUpdated`): `from` changed the
    /// bot's own status in the group, supergroup or channel `chat` from `old` to `new` — e.g.
    /// [`MemberStatus::Left`] → [`MemberStatus::Administrator`] when a trader adds the bot to
    /// a channel, [`MemberStatus::Member`] → [`MemberStatus::Kicked`] when one removes it. The
    /// chat is registered and the bot's new status kept: in a chat it left or was kicked
    /// from, sends, edits and deletions get Telegram's 403 (see [`MemberStatus`]). Delivered
    /// through `getUpdates` or the webhook like every update; returns the update id.
    pub fn inject_my_chat_member(
        &self,
        chat: &TestChat,
        from: &TestUser,
        old_status: MemberStatus,
        new_status: MemberStatus,
    ) -> i64 {
        self.shared
            .inject_my_chat_member(chat, from, old_status, new_status)
    }

    /// The bot's status in `chat_id` by the last [`TelegramDouble::inject_my_chat_member`];
    /// `None` if none was injected (the bot is taken to be a member).
    pub fn bot_status(&self, chat_id: i64) -> Option<MemberStatus> {
        self.shared.lock().membership.get(&chat_id).copied()
    }

    /// The trader deletes the message `message_id` of `chat_id` (the bot's or their own),
    /// as `deleteMessage` would: it stays on record with [`SentMessage::deleted`] set, but
    /// edits of it are answered 400 `Bad Request: message to edit not found`, replies to it
    /// `Bad Request: message to be replied not found` (unless the bot allows sending without
    /// the reply) and deleting it again `Bad Request: message to delete not found`. `false`
    /// if the chat has no such message (never sent, or deleted already). No update is
    /// queued: Telegram tells bots of no deletions.
    pub fn delete_message(&self, chat_id: i64, message_id: i32) -> bool {
        let deleted = self.shared.lock().delete_message(chat_id, message_id);
        self.shared.notify_changed();
        deleted
    }

    /// Makes the message `message_id` of `chat_id` too old to edit: edits of it are answered
    /// 400 `Bad Request: message can't be edited`, and the bot's `deleteMessage` of it
    /// `Bad Request: message can't be deleted` (Telegram: after 48 hours). `false` if the
    /// chat has no such message.
    pub fn age_message(&self, chat_id: i64, message_id: i32) -> bool {
        let aged = self.shared.lock().age_message(chat_id, message_id);
        self.shared.notify_changed();
        aged
    }

    /// Queues `from` pressing an inline keyboard button with callback `data` under the
    /// message `message_id` of `chat_id`: a `callback_query` update whose `message` is that
    /// message as the bot last left it (text, entities, `reply_markup`, `edit_date`). For a
    /// message the double did not record (a forged or forgotten one) the `message` is bare:
    /// id, chat, sender and date, no text.
    pub fn press(&self, from: &TestUser, chat_id: i64, message_id: i32, data: &str) -> Press {
        self.shared
            .press(from, chat_id, message_id, data, Pressed::Current)
    }

    /// Like [`TelegramDouble::press`], but the `message` is an inaccessible one (`"date": 0`,
    /// only id and chat), as Telegram sends for messages older than 48 hours.
    pub fn press_inaccessible(
        &self,
        from: &TestUser,
        chat_id: i64,
        message_id: i32,
        data: &str,
    ) -> Press {
        self.shared
            .press(from, chat_id, message_id, data, Pressed::Inaccessible)
    }

    /// Presses the inline keyboard button labelled `button_text` under `message`, as the
    /// message is now (the double's current record of it, else `message` itself). `None` if
    /// it has no such button, or the button carries no `callback_data`.
    pub fn press_button(
        &self,
        from: &TestUser,
        message: &SentMessage,
        button_text: &str,
    ) -> Option<Press> {
        let current = self
            .message(message.chat_id, message.message_id)
            .unwrap_or_else(|| message.clone());
        let data = current
            .inline_buttons()
            .into_iter()
            .find(|(text, _)| text == button_text)?
            .1?;
        Some(self.press(from, message.chat_id, message.message_id, &data))
    }

    /// Injected updates the bot has not confirmed yet (by polling with a higher offset), or
    /// that its webhook has not taken yet (answered 2xx).
    pub fn pending_updates(&self) -> usize {
        self.shared.lock().updates.len()
    }

    /// Whether a `getUpdates` long poll is waiting right now (the bot is up and polling).
    pub fn is_polling(&self) -> bool {
        self.shared.lock().poller.is_some()
    }

    // --- reading what the bot did ---

    /// Every message the double accepted, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        sent_all(&self.shared)
    }

    /// The messages accepted for one chat, oldest first.
    pub fn sent_to(&self, chat_id: i64) -> Vec<SentMessage> {
        sent_to(&self.shared, chat_id)
    }

    /// The photos accepted for one chat (`sendPhoto`: [`SentMessage::photo`] set), oldest
    /// first.
    pub fn photos_to(&self, chat_id: i64) -> Vec<SentMessage> {
        let mut sent = sent_to(&self.shared, chat_id);
        sent.retain(|m| m.photo.is_some());
        sent
    }

    /// Waits until `chat_id` has received at least `count` photos and returns all of them;
    /// on timeout the error lists what did arrive (photos' captions and other messages'
    /// texts).
    pub async fn wait_for_photos(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<SentMessage>> {
        let reached = self
            .wait_until(|d| d.photos_to(chat_id).len() >= count, timeout)
            .await;
        match reached {
            Ok(()) => Ok(self.photos_to(chat_id)),
            Err(_) => {
                let sent = self.sent_to(chat_id);
                let got: Vec<String> = sent
                    .iter()
                    .map(|m| match &m.photo {
                        Some(p) => format!("photo {}x{}: {:?}", p.width, p.height, m.text),
                        None => format!("text: {:?}", m.text),
                    })
                    .collect();
                anyhow::bail!(
                    "expected {count} photo(s) to chat {chat_id} within {timeout:?}, got: {got:#?}"
                )
            }
        }
    }

    /// The message `message_id` of `chat_id` as it is now (after any edits), if the bot sent
    /// it.
    pub fn message(&self, chat_id: i64, message_id: i32) -> Option<SentMessage> {
        self.shared
            .lock()
            .chats
            .get(&chat_id)?
            .sent
            .iter()
            .rev()
            .find(|m| m.message_id == message_id)
            .cloned()
    }

    /// How many edits (`editMessageText`, `editMessageCaption`, `editMessageReplyMarkup`) the
    /// double accepted in `chat_id`: with [`TelegramDouble::sent_to`], tells a menu that
    /// edits itself in place from one that sends new messages. Each message's own are
    /// [`SentMessage::edits`] and [`SentMessage::history`].
    pub fn edit_count(&self, chat_id: i64) -> usize {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map_or(0, |c| c.edits)
    }

    /// Every accepted `answerCallbackQuery`, oldest first.
    pub fn callback_answers(&self) -> Vec<CallbackAnswer> {
        self.shared.lock().callback_answers.clone()
    }

    /// The answer to the callback query `query_id` ([`Press::query_id`]), if the bot gave it.
    pub fn callback_answer_for(&self, query_id: &str) -> Option<CallbackAnswer> {
        self.shared
            .lock()
            .callback_answers
            .iter()
            .find(|a| a.callback_query_id == query_id)
            .cloned()
    }

    /// Waits until the bot answered the callback query `query_id` ([`Press::query_id`]) and
    /// returns the answer; `None` if it did not within `timeout`.
    pub async fn wait_for_callback_answer(
        &self,
        query_id: &str,
        timeout: Duration,
    ) -> Option<CallbackAnswer> {
        let _ = self
            .wait_until(|d| d.callback_answer_for(query_id).is_some(), timeout)
            .await;
        self.callback_answer_for(query_id)
    }

    /// How many sends (`sendMessage`, `sendPhoto`) reached the double for `chat_id`, faulted
    /// and refused ones included.
    pub fn attempts_to(&self, chat_id: i64) -> usize {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map_or(0, |c| c.send_attempts)
    }

    /// How many calls of `method` (case-insensitive, e.g. `"sendMessage"`) were made with the
    /// right token.
    pub fn request_count(&self, method: &str) -> usize {
        let method = method.to_ascii_lowercase();
        self.shared
            .lock()
            .request_counts
            .get(&method)
            .copied()
            .unwrap_or(0)
    }

    /// The commands of the last `setMyCommands` for every language (empty after
    /// `deleteMyCommands`).
    pub fn commands(&self) -> Vec<(String, String)> {
        self.commands_for("")
    }

    /// The commands of the last `setMyCommands` with `language_code` (`""`: for every
    /// language).
    pub fn commands_for(&self, language_code: &str) -> Vec<(String, String)> {
        self.shared
            .lock()
            .commands
            .get(language_code)
            .cloned()
            .unwrap_or_default()
    }

    /// The URL of the last `setWebhook`, if a webhook is set.
    pub fn webhook_url(&self) -> Option<String> {
        self.shared.lock().webhook.as_ref().map(|w| w.url.clone())
    }

    /// The `secret_token` of the last `setWebhook`, if a webhook with one is set.
    pub fn webhook_secret(&self) -> Option<String> {
        self.shared
            .lock()
            .webhook
            .as_ref()
            .and_then(|w| w.secret_token.clone())
    }

    /// Why the last webhook delivery failed since the webhook was set (as `getWebhookInfo`'s
    /// `last_error_message`, e.g. `"Wrong response from the webhook: 500 Internal Server
    /// Error"` or `"Connection refused"`).
    pub fn last_webhook_error(&self) -> Option<String> {
        self.shared
            .lock()
            .last_webhook_error
            .as_ref()
            .map(|(_, message)| message.clone())
    }

    /// How many times the double POSTed an update to a webhook, failed attempts included.
    pub fn webhook_delivery_attempts(&self) -> usize {
        self.shared.lock().webhook_attempts
    }

    /// Waits until `chat_id` has received at least `count` messages and returns all of them;
    /// on timeout the error lists what did arrive.
    pub async fn wait_for_messages(
        &self,
        chat_id: i64,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<SentMessage>> {
        let reached = self
            .wait_until(|d| d.message_count(chat_id) >= count, timeout)
            .await;
        let sent = self.sent_to(chat_id);
        match reached {
            Ok(()) => Ok(sent),
            Err(_) => {
                let texts: Vec<&str> = sent.iter().map(|m| m.text.as_str()).collect();
                anyhow::bail!(
                    "expected {count} message(s) to chat {chat_id} within {timeout:?}, got {}: {texts:#?}",
                    sent.len()
                )
            }
        }
    }

    /// Waits until `predicate` holds, re-checking it whenever the double's state changes (a
    /// request, an accepted message, a confirmed update, an injected update) — no polling.
    pub async fn wait_until(
        &self,
        mut predicate: impl FnMut(&Self) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if predicate(self) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return if predicate(self) {
                    Ok(())
                } else {
                    Err(anyhow::anyhow!(
                        "condition not met within {timeout:?} on the Telegram double"
                    ))
                };
            }
        }
    }

    fn message_count(&self, chat_id: i64) -> usize {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map_or(0, |c| c.sent.len())
    }

    // --- playing the network ---

    /// Queues one-shot faults for `chat_id`: each successive send or edit (`sendMessage`,
    /// `sendPhoto`, `editMessageText`, `editMessageCaption`, `editMessageReplyMarkup`) to that
    /// chat meets the next one, then sends succeed again.
    pub fn script_faults(&self, chat_id: i64, faults: impl IntoIterator<Item = Fault>) {
        self.shared
            .lock()
            .chats
            .entry(chat_id)
            .or_default()
            .scripted
            .extend(faults);
    }

    /// Makes every send to `chat_id` meet `fault` (after any scripted ones) until
    /// [`TelegramDouble::clear_faults`].
    pub fn set_fault(&self, chat_id: i64, fault: Fault) {
        self.shared
            .lock()
            .chats
            .entry(chat_id)
            .or_default()
            .persistent = Some(fault);
    }

    /// Removes the scripted and persistent faults of `chat_id`.
    pub fn clear_faults(&self, chat_id: i64) {
        if let Some(chat) = self.shared.lock().chats.get_mut(&chat_id) {
            chat.scripted.clear();
            chat.persistent = None;
        }
    }

    /// Enforces flood limits from now on: sends over them get 429 with `retry_after`.
    pub fn enforce_limits(&self, limits: Limits) {
        self.shared.lock().limits = Some(LimitState {
            limits,
            recent: Default::default(),
        });
    }

    /// Enforces Telegram's group limit from now on: at most `per_minute` sends and edits
    /// (messages and photos alike) accepted per group, supergroup or channel (any negative
    /// chat id) in any sliding minute; over it, 429 with `retry_after`, counted by
    /// [`TelegramDouble::too_many_requests_count`]. Independent of
    /// [`TelegramDouble::enforce_limits`].
    pub fn enforce_group_limit(&self, per_minute: u32) {
        self.shared.lock().group_per_minute = Some(per_minute);
    }

    /// Stops enforcing flood limits (the per-second ones and the group limit).
    pub fn disable_limits(&self) {
        let mut state = self.shared.lock();
        state.limits = None;
        state.group_per_minute = None;
        for chat in state.chats.values_mut() {
            chat.recent.clear();
            chat.recent_minute.clear();
        }
    }

    /// How many sends the flood limits answered with 429 (scripted faults not counted).
    pub fn too_many_requests_count(&self) -> usize {
        self.shared.lock().too_many_requests
    }

    /// When each accepted send or edit (`sendMessage`, `sendPhoto`, `editMessageText`,
    /// `editMessageCaption`, `editMessageReplyMarkup`) was accepted, oldest first, with its
    /// chat id (whether or not limits are enforced).
    pub fn accepted_at(&self) -> Vec<(i64, std::time::Instant)> {
        self.shared.lock().accepted.clone()
    }

    /// The most sends the double accepted within any sliding `window` (e.g. one second:
    /// compare with Telegram's 30), across all chats.
    pub fn max_accepted_in(&self, window: Duration) -> usize {
        self.shared.lock().max_in_window(None, window)
    }

    /// The most sends the double accepted for `chat_id` within any sliding `window`.
    pub fn max_accepted_to_chat_in(&self, chat_id: i64, window: Duration) -> usize {
        self.shared.lock().max_in_window(Some(chat_id), window)
    }
}

impl Drop for TelegramDouble {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

fn sent_all(shared: &Shared) -> Vec<SentMessage> {
    let state = shared.lock();
    state
        .order
        .iter()
        .filter_map(|(chat_id, index)| state.chats.get(chat_id)?.sent.get(*index).cloned())
        .collect()
}

fn sent_to(shared: &Shared, chat_id: i64) -> Vec<SentMessage> {
    shared
        .lock()
        .chats
        .get(&chat_id)
        .map(|c| c.sent.clone())
        .unwrap_or_default()
}
