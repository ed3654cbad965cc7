//! The double's memory: chats with their messages, topics and scripted faults, the bot's
//! membership of groups and channels, the update queue and its webhook deliveries, callback
//! queries, accepted photos, the registered commands and the request counters — one mutex,
//! held only for short, allocation-light critical sections.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::model::{
    CallbackAnswer, Fault, Limits, MemberStatus, PhotoInfo, SentMessage, TestChat, TestChatKind,
    TestUser,
};

/// The bot the double pretends to be.
#[derive(Debug, Clone)]
pub(crate) struct BotIdentity {
    pub id: i64,
    pub username: String,
    pub first_name: String,
}

/// Everything the server tasks and the [`super::TelegramDouble`] handle share.
pub(crate) struct Shared {
    pub token: String,
    pub bot: BotIdentity,
    state: Mutex<State>,
    /// Notified on every change a test may wait for (a request, a message, a confirmation).
    pub changed: Notify,
    /// Notified when an update is injected or the webhook changes (wakes a waiting
    /// `getUpdates` and the webhook delivery loop).
    pub updates_arrived: Notify,
    /// Cancelled when the double shuts down.
    pub shutdown: CancellationToken,
}

/// A `getUpdates` call that is waiting for updates.
pub(crate) struct Poller {
    pub id: u64,
    /// Answers the waiting call with a 409 and this description.
    pub terminate: oneshot::Sender<&'static str>,
}

#[derive(Default)]
pub(crate) struct Chat {
    /// The last message id used in this chat (by the bot or the trader).
    pub last_message_id: i32,
    pub sent: Vec<SentMessage>,
    pub send_attempts: usize,
    pub scripted: VecDeque<Fault>,
    pub persistent: Option<Fault>,
    /// Accepted sends within the last second (only kept while limits are enforced).
    pub recent: VecDeque<Instant>,
    /// Accepted sends within the last minute (only kept while a group limit is enforced).
    pub recent_minute: VecDeque<Instant>,
    /// Accepted edits (`editMessageText`, `editMessageReplyMarkup`) in this chat.
    pub edits: usize,
    /// When each edited message was last edited (Unix seconds), by message id.
    pub edit_dates: HashMap<i32, u64>,
    /// The `Message` JSON of the trader's messages injected into this chat, by message id
    /// (for the `reply_to_message` of the bot's replies).
    pub received: HashMap<i32, Value>,
    /// The ids of deleted messages (the bot's and the trader's).
    pub deleted: HashSet<i32>,
    /// The ids of messages made too old to edit or delete.
    pub aged: HashSet<i32>,
    /// The forum topics of this chat (a forum supergroup): thread id → name.
    pub topics: BTreeMap<i32, String>,
}

impl Chat {
    pub fn next_message_id(&mut self) -> i32 {
        self.last_message_id += 1;
        self.last_message_id
    }

    /// Whether the message `message_id` exists in this chat: an id the chat has used (by the
    /// bot, the trader or a service message) that was not deleted.
    pub fn exists(&self, message_id: i32) -> bool {
        (1..=self.last_message_id).contains(&message_id) && !self.deleted.contains(&message_id)
    }

    /// The fault the next send to this chat meets: a scripted one first, else the
    /// persistent one.
    pub fn next_fault(&mut self) -> Option<Fault> {
        self.scripted.pop_front().or(self.persistent)
    }
}

pub(crate) struct Update {
    pub id: i64,
    /// The chat it belongs to: a webhook delivers one chat's updates one at a time, in order.
    pub chat_id: Option<i64>,
    pub json: Value,
}

/// The webhook set by `setWebhook`.
pub(crate) struct Webhook {
    pub url: String,
    /// Sent as `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Option<String>,
    /// The most deliveries in flight at once.
    pub max_connections: usize,
}

/// One webhook delivery in flight: an update POSTed to the webhook.
pub(crate) struct Delivery {
    pub update_id: i64,
    pub chat_id: Option<i64>,
    pub update: Value,
    pub url: String,
    pub secret_token: Option<String>,
}

pub(crate) struct LimitState {
    pub limits: Limits,
    /// Accepted sends across all chats within the last second.
    pub recent: VecDeque<Instant>,
}

#[derive(Default)]
pub(crate) struct State {
    pub chats: HashMap<i64, Chat>,
    /// Every accepted message in order, as (chat id, index into that chat's `sent`).
    pub order: Vec<(i64, usize)>,
    pub users: HashMap<i64, TestUser>,
    pub updates: VecDeque<Update>,
    pub last_update_id: i64,
    pub poller: Option<Poller>,
    pub next_poller_id: u64,
    pub webhook: Option<Webhook>,
    /// Updates being delivered to the webhook (or waiting to retry), by id.
    pub delivering: HashSet<i64>,
    /// Chats with an update being delivered to the webhook (or waiting to retry).
    pub busy_chats: HashSet<i64>,
    /// The last failed webhook delivery since the webhook was set: (Unix seconds, what
    /// went wrong).
    pub last_webhook_error: Option<(u64, String)>,
    /// Every POST of an update to a webhook, failed ones included.
    pub webhook_attempts: usize,
    /// Groups, forums and channels the double was told of (a message injected into one,
    /// `add_chat`, a topic, a `my_chat_member` update), by chat id.
    pub groups: HashMap<i64, TestChat>,
    /// The bot's status in chats it got a `my_chat_member` update for, by chat id.
    pub membership: HashMap<i64, MemberStatus>,
    /// Every photo accepted, by its `file_id`.
    pub photos: HashMap<String, PhotoInfo>,
    /// Callback queries injected and not answered yet.
    pub open_queries: HashSet<String>,
    /// Every accepted `answerCallbackQuery`, in order.
    pub callback_answers: Vec<CallbackAnswer>,
    pub commands: std::collections::BTreeMap<String, Vec<(String, String)>>,
    pub request_counts: HashMap<String, usize>,
    pub limits: Option<LimitState>,
    /// Most sends accepted per group or channel (negative id) in any minute, when enforced.
    pub group_per_minute: Option<u32>,
    pub too_many_requests: usize,
    /// Every accepted send or edit, in order: (chat id, when).
    pub accepted: Vec<(i64, Instant)>,
}

impl Shared {
    pub fn new(token: &str) -> Self {
        let id = token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(1_000_000);
        Self {
            token: token.to_owned(),
            bot: BotIdentity {
                id,
                username: "herald_test_bot".into(),
                first_name: "Herald".into(),
            },
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            updates_arrived: Notify::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Locks the state; a panic elsewhere while it was held does not poison the double.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes everyone waiting for a change.
    pub fn notify_changed(&self) {
        self.changed.notify_waiters();
    }

    /// Runs `inject` on the state, then wakes the poller, the webhook and the waiters.
    pub fn inject<R>(&self, inject: impl FnOnce(&mut State) -> R) -> R {
        let result = inject(&mut self.lock());
        self.updates_arrived.notify_waiters();
        self.notify_changed();
        result
    }

    /// Queues a private-chat message from `from`; returns its update id.
    pub fn inject_message(&self, from: &TestUser, text: &str) -> i64 {
        self.inject(|state| {
            let chat = private_chat_json(from);
            state.queue_message(from.id, chat, from, text)
        })
    }

    /// Queues a message from `from` in the group `chat` (a `channel_post` without sender
    /// for a channel); returns its update id.
    pub fn inject_group_message(&self, chat: &TestChat, from: &TestUser, text: &str) -> i64 {
        self.inject(|state| {
            state.groups.insert(chat.id, chat.clone());
            state.queue_message(chat.id, group_chat_json(chat), from, text)
        })
    }

    /// The JSON of the bot as a `User`.
    pub fn bot_user_json(&self) -> Value {
        json!({
            "id": self.bot.id,
            "is_bot": true,
            "first_name": self.bot.first_name,
            "username": self.bot.username,
        })
    }
}

impl State {
    /// Queues an update of `kind` (`"message"`, `"callback_query"`, …) for `chat_id`;
    /// returns its update id.
    pub fn queue(&mut self, chat_id: Option<i64>, kind: &str, payload: Value) -> i64 {
        self.last_update_id += 1;
        let id = self.last_update_id;
        let mut json = json!({ "update_id": id });
        json[kind] = payload;
        self.updates.push_back(Update { id, chat_id, json });
        id
    }

    /// Queues a text message from `from` in the chat `chat_id` (whose JSON is `chat`); a
    /// text starting with `/` carries a `bot_command` entity. Returns the update id.
    fn queue_message(&mut self, chat_id: i64, chat: Value, from: &TestUser, text: &str) -> i64 {
        self.users.insert(from.id, from.clone());
        let channel = chat["type"] == "channel";
        let chat_state = self.chats.entry(chat_id).or_default();
        let message_id = chat_state.next_message_id();
        let mut message = json!({
            "message_id": message_id,
            "chat": chat,
            "date": unix_now(),
            "text": text,
        });
        if channel {
            // Channel posts are signed by the channel, not by the admin who wrote them.
            message["sender_chat"] = message["chat"].clone();
        } else {
            message["from"] = user_json(from);
        }
        if text.starts_with('/') {
            let command = text.split(char::is_whitespace).next().unwrap_or(text);
            message["entities"] = json!([{
                "type": "bot_command",
                "offset": 0,
                "length": command.encode_utf16().count(),
            }]);
        }
        chat_state.received.insert(message_id, message.clone());
        let kind = if channel { "channel_post" } else { "message" };
        self.queue(Some(chat_id), kind, message)
    }

    /// Drops confirmed updates: a positive offset confirms every update below it; a negative
    /// one keeps only the last `-offset` updates (Telegram's semantics).
    pub fn confirm(&mut self, offset: i64) -> bool {
        let before = self.updates.len();
        if offset > 0 {
            while self.updates.front().is_some_and(|u| u.id < offset) {
                self.updates.pop_front();
            }
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.updates.len() > keep {
                self.updates.pop_front();
            }
        }
        self.updates.len() != before
    }

    /// The first `limit` pending updates.
    pub fn peek_updates(&self, limit: usize) -> Vec<Value> {
        self.updates
            .iter()
            .take(limit)
            .map(|u| u.json.clone())
            .collect()
    }

    /// Answers the waiting `getUpdates`, if any, with a 409 and `description`.
    pub fn terminate_poller(&mut self, description: &'static str) {
        if let Some(poller) = self.poller.take() {
            let _ = poller.terminate.send(description);
        }
    }

    /// The JSON of a chat the bot talks to.
    pub fn chat_json(&self, chat_id: i64) -> Value {
        if let Some(group) = self.groups.get(&chat_id) {
            return group_chat_json(group);
        }
        match self.users.get(&chat_id) {
            Some(user) => private_chat_json(user),
            None if chat_id < 0 => json!({
                "id": chat_id,
                "type": if chat_id < -1_000_000_000_000 { "supergroup" } else { "group" },
                "title": format!("Group {chat_id}"),
            }),
            None => json!({
                "id": chat_id,
                "type": "private",
                "first_name": format!("User {chat_id}"),
            }),
        }
    }

    /// Checks the flood limits for one more accepted send or edit in `chat_id` (the group
    /// limit for every negative id: groups, supergroups and channels); returns the
    /// `retry_after` seconds when over them.
    pub fn over_limits(&mut self, chat_id: i64, now: Instant) -> Option<u32> {
        let second = Duration::from_secs(1);
        let minute = Duration::from_secs(60);
        let group_limit = self.group_per_minute.filter(|_| chat_id < 0);
        if self.limits.is_none() && group_limit.is_none() {
            return None;
        }
        let chat = self.chats.entry(chat_id).or_default();
        let mut blocked_until: Option<Instant> = None;
        let mut block = |oldest: Option<Instant>, window: Duration| {
            if let Some(oldest) = oldest {
                let until = oldest + window;
                blocked_until = Some(blocked_until.map_or(until, |b| b.max(until)));
            }
        };
        if let Some(limits) = self.limits.as_mut() {
            prune(&mut chat.recent, now, second);
            prune(&mut limits.recent, now, second);
            if chat.recent.len() >= limits.limits.per_chat_per_second as usize {
                block(chat.recent.front().copied(), second);
            }
            if limits.recent.len() >= limits.limits.per_second as usize {
                block(limits.recent.front().copied(), second);
            }
        }
        if let Some(limit) = group_limit {
            prune(&mut chat.recent_minute, now, minute);
            if chat.recent_minute.len() >= limit as usize {
                block(chat.recent_minute.front().copied(), minute);
            }
        }
        if let Some(until) = blocked_until {
            let wait = until.saturating_duration_since(now);
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Some(u32::try_from(secs.max(1)).unwrap_or(u32::MAX));
        }
        if let Some(limits) = self.limits.as_mut() {
            chat.recent.push_back(now);
            limits.recent.push_back(now);
        }
        if group_limit.is_some() {
            chat.recent_minute.push_back(now);
        }
        None
    }

    /// Claims the updates the webhook can be sent now: while a webhook is set, in queue order,
    /// each not yet in flight whose chat has no update in flight, up to the webhook's
    /// `max_connections` in flight.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        let Some(webhook) = &self.webhook else {
            return Vec::new();
        };
        let mut deliveries = Vec::new();
        for update in &self.updates {
            if self.delivering.len() >= webhook.max_connections {
                break;
            }
            if self.delivering.contains(&update.id) {
                continue;
            }
            if let Some(chat_id) = update.chat_id
                && !self.busy_chats.insert(chat_id)
            {
                continue;
            }
            self.delivering.insert(update.id);
            deliveries.push(Delivery {
                update_id: update.id,
                chat_id: update.chat_id,
                update: update.json.clone(),
                url: webhook.url.clone(),
                secret_token: webhook.secret_token.clone(),
            });
        }
        deliveries
    }

    /// Ends a delivery: the update leaves the queue if the webhook took it, and its chat may
    /// have its next update delivered.
    pub fn finish_delivery(&mut self, delivery: &Delivery, delivered: bool) {
        self.delivering.remove(&delivery.update_id);
        if let Some(chat_id) = delivery.chat_id {
            self.busy_chats.remove(&chat_id);
        }
        if delivered
            && let Some(index) = self.updates.iter().position(|u| u.id == delivery.update_id)
        {
            self.updates.remove(index);
        }
    }

    /// The most accepted sends (to `chat_id`, or to any chat) within any `window`.
    pub fn max_in_window(&self, chat_id: Option<i64>, window: Duration) -> usize {
        let times: Vec<Instant> = self
            .accepted
            .iter()
            .filter(|(chat, _)| chat_id.is_none_or(|c| c == *chat))
            .map(|(_, at)| *at)
            .collect();
        let mut most = 0;
        let mut first = 0;
        for (last, at) in times.iter().enumerate() {
            while first <= last && at.saturating_duration_since(times[first]) >= window {
                first += 1;
            }
            most = most.max(last + 1 - first);
        }
        most
    }
}

fn prune(recent: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while recent
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        recent.pop_front();
    }
}

/// The JSON of a user as a `User`.
pub(crate) fn user_json(user: &TestUser) -> Value {
    let mut v = json!({
        "id": user.id,
        "is_bot": false,
        "first_name": user.first_name,
    });
    if let Some(username) = &user.username {
        v["username"] = json!(username);
    }
    if let Some(last_name) = &user.last_name {
        v["last_name"] = json!(last_name);
    }
    if let Some(language_code) = &user.language_code {
        v["language_code"] = json!(language_code);
    }
    v
}

/// The JSON of a group, supergroup or channel as a `Chat`.
pub(crate) fn group_chat_json(chat: &TestChat) -> Value {
    let mut v = json!({ "id": chat.id, "type": chat.kind.as_str(), "title": chat.title });
    if chat.is_forum && chat.kind == TestChatKind::Supergroup {
        v["is_forum"] = json!(true);
    }
    v
}

/// The JSON of the private chat with `user`.
pub(crate) fn private_chat_json(user: &TestUser) -> Value {
    let mut v = json!({ "id": user.id, "type": "private", "first_name": user.first_name });
    if let Some(username) = &user.username {
        v["username"] = json!(username);
    }
    if let Some(last_name) = &user.last_name {
        v["last_name"] = json!(last_name);
    }
    v
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
