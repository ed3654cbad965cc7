//! The double's public vocabulary: who talks to the bot ([`TestUser`], from a private chat or
//! a [`TestChat`] group, forum or channel), what the bot sent ([`SentMessage`], with its
//! [`PhotoInfo`] and earlier [`MessageVersion`]s), the trader's button presses ([`Press`]) and
//! the bot's answers to them ([`CallbackAnswer`]), the bot's own membership of a chat
//! ([`MemberStatus`]), what can go wrong ([`Fault`]) and how fast the bot may send
//! ([`Limits`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Telegram user who writes to the bot from a private chat (whose chat id is the user id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestUser {
    /// Telegram user id; also the id of the private chat with the bot.
    pub id: i64,
    /// `@username`, without the `@`.
    #[serde(default)]
    pub username: Option<String>,
    /// First name, as Telegram always has one.
    pub first_name: String,
    /// Last name, if the user set one.
    #[serde(default)]
    pub last_name: Option<String>,
    /// The IETF language tag of the user's Telegram app (e.g. `"de"`, `"pt-br"`), sent as
    /// `language_code` in the `from` of their updates; Telegram omits it when unknown.
    #[serde(default)]
    pub language_code: Option<String>,
}

impl TestUser {
    /// A user with only an id and a first name.
    pub fn new(id: i64, first_name: impl Into<String>) -> Self {
        Self {
            id,
            username: None,
            first_name: first_name.into(),
            last_name: None,
            language_code: None,
        }
    }

    /// A typical trader: first name `Trader`, username `trader_<id>`.
    pub fn trader(id: i64) -> Self {
        Self::new(id, "Trader").with_username(format!("trader_{id}"))
    }

    /// Sets the username (without `@`).
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the last name.
    pub fn with_last_name(mut self, last_name: impl Into<String>) -> Self {
        self.last_name = Some(last_name.into());
        self
    }

    /// Sets the language of the user's Telegram app (an IETF language tag such as `"de"`).
    pub fn with_language(mut self, code: impl Into<String>) -> Self {
        self.language_code = Some(code.into());
        self
    }
}

/// A group, supergroup (possibly a forum) or channel with the bot in it, for
/// [`super::TelegramDouble::inject_group_message`], [`super::TelegramDouble::add_chat`],
/// [`super::TelegramDouble::create_topic`] and
/// [`super::TelegramDouble::inject_my_chat_member`]. Its id is negative, as Telegram's are
/// (supergroups' and channels' look like `-100…`, e.g. `-1001234567890`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestChat {
    /// The chat id (negative).
    pub id: i64,
    /// The group's or channel's title.
    pub title: String,
    /// A basic group, a supergroup or a channel.
    pub kind: TestChatKind,
    /// Whether the supergroup is a forum (`"is_forum": true`): messages go to topics made
    /// with [`super::TelegramDouble::create_topic`] (or `createForumTopic`), named by their
    /// `message_thread_id`. False when absent in JSON.
    #[serde(default)]
    pub is_forum: bool,
}

/// What kind of group a [`TestChat`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestChatKind {
    /// A basic group (`"type":"group"`).
    Group,
    /// A supergroup (`"type":"supergroup"`), a forum if [`TestChat::is_forum`].
    Supergroup,
    /// A channel (`"type":"channel"`): the bot's posts in it carry the channel as
    /// `sender_chat` and no `from`.
    Channel,
}

impl TestChatKind {
    /// Telegram's `type` of such a chat (`"group"`, `"supergroup"`, `"channel"`), also the
    /// word its 403 descriptions use ("bot was kicked from the supergroup chat").
    pub fn as_str(self) -> &'static str {
        match self {
            TestChatKind::Group => "group",
            TestChatKind::Supergroup => "supergroup",
            TestChatKind::Channel => "channel",
        }
    }
}

impl TestChat {
    /// A basic group.
    pub fn group(id: i64, title: impl Into<String>) -> Self {
        Self::of_kind(id, title, TestChatKind::Group)
    }

    /// A supergroup.
    pub fn supergroup(id: i64, title: impl Into<String>) -> Self {
        Self::of_kind(id, title, TestChatKind::Supergroup)
    }

    /// A supergroup that is a forum: sends name a topic by `message_thread_id`, which must
    /// exist ([`super::TelegramDouble::create_topic`]).
    pub fn forum(id: i64, title: impl Into<String>) -> Self {
        Self {
            is_forum: true,
            ..Self::supergroup(id, title)
        }
    }

    /// A channel (ids look like `-100…`).
    pub fn channel(id: i64, title: impl Into<String>) -> Self {
        Self::of_kind(id, title, TestChatKind::Channel)
    }

    fn of_kind(id: i64, title: impl Into<String>, kind: TestChatKind) -> Self {
        Self {
            id,
            title: title.into(),
            kind,
            is_forum: false,
        }
    }
}

/// The bot's membership of a chat, as in the `old_chat_member`/`new_chat_member` of a
/// `my_chat_member` update ([`super::TelegramDouble::inject_my_chat_member`]). In JSON it is
/// Telegram's `status`: `"left"`, `"member"`, `"administrator"`, `"restricted"`, `"kicked"`.
///
/// While the bot's last injected status in a chat is [`MemberStatus::Left`] or
/// [`MemberStatus::Kicked`], the double answers sends, edits and deletions there with
/// Telegram's 403 (`Forbidden: bot is not a member of the group chat`, `Forbidden: bot was
/// kicked from the supergroup chat`, …); while it is [`MemberStatus::Restricted`], sends
/// get 400 `Bad Request: not enough rights to send text messages to the chat` (or
/// `photos`), and so do sends to a channel where it is only a [`MemberStatus::Member`]
/// (`Bad Request: need administrator rights in the channel chat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Not in the chat (never added, or removed without a ban).
    Left,
    /// An ordinary member.
    Member,
    /// An administrator (with the rights a bot usually gets: post, edit and delete
    /// messages, manage topics, …).
    Administrator,
    /// A member who may not send anything.
    Restricted,
    /// Removed and banned (`until_date` 0: forever).
    Kicked,
}

impl MemberStatus {
    /// Telegram's `status` string.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Left => "left",
            MemberStatus::Member => "member",
            MemberStatus::Administrator => "administrator",
            MemberStatus::Restricted => "restricted",
            MemberStatus::Kicked => "kicked",
        }
    }

    /// Whether the bot is in the chat with this status (may be sent to).
    pub fn is_present(self) -> bool {
        !matches!(self, MemberStatus::Left | MemberStatus::Kicked)
    }
}

impl std::str::FromStr for MemberStatus {
    type Err = String;

    /// Reads Telegram's `status` string (`"kicked"`, …; `"banned"` is taken for `"kicked"`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "left" => MemberStatus::Left,
            "member" => MemberStatus::Member,
            "administrator" => MemberStatus::Administrator,
            "restricted" => MemberStatus::Restricted,
            "kicked" | "banned" => MemberStatus::Kicked,
            other => return Err(format!("unknown chat member status {other:?}")),
        })
    }
}

/// One injected button press ([`super::TelegramDouble::press`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Press {
    /// The id of the update carrying the callback query.
    pub update_id: i64,
    /// The callback query id: what the bot passes to `answerCallbackQuery`, and what
    /// [`super::TelegramDouble::wait_for_callback_answer`] waits for.
    pub query_id: String,
}

/// An accepted `answerCallbackQuery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAnswer {
    /// The query answered ([`Press::query_id`]).
    pub callback_query_id: String,
    /// The notification text, if any.
    #[serde(default)]
    pub text: Option<String>,
    /// Whether the text is shown as an alert rather than a toast.
    #[serde(default)]
    pub show_alert: bool,
}

/// A message the double accepted from the bot (`sendMessage`, or `sendPhoto` with its
/// caption as the text), as the trader would see it.
///
/// An `editMessageText` (or `editMessageCaption` of a photo) replaces `text`, `raw_text`,
/// `parse_mode` and `reply_markup` of the message it edits, in place; an
/// `editMessageReplyMarkup` replaces `reply_markup`. As on Telegram, an edit without
/// `reply_markup` *removes* the inline keyboard: a bot that wants to keep its buttons must
/// send them again with every edit. Each accepted edit adds one to `edits` and the content
/// it replaced to `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The chat it went to.
    pub chat_id: i64,
    /// Its id in that chat (ids increase per chat, shared with the trader's own messages).
    pub message_id: i32,
    /// The visible text: tags stripped, HTML entities decoded, surrounding whitespace
    /// trimmed — what the trader sees.
    pub text: String,
    /// The `text` parameter exactly as the bot sent it.
    pub raw_text: String,
    /// The `parse_mode` parameter, if any (e.g. `"HTML"`).
    pub parse_mode: Option<String>,
    /// The `reply_markup` parameter, if any, as JSON.
    pub reply_markup: Option<serde_json::Value>,
    /// The `allow_paid_broadcast` parameter (false when absent).
    #[serde(default)]
    pub allow_paid_broadcast: bool,
    /// The `disable_notification` parameter (false when absent): sent silently.
    #[serde(default)]
    pub disable_notification: bool,
    /// The message this one replies to: `reply_parameters.message_id`, or the legacy
    /// `reply_to_message_id`. `None` also when the target did not exist and the bot allowed
    /// sending without a reply.
    #[serde(default)]
    pub reply_to_message_id: Option<i32>,
    /// The chat of the message replied to, when it is another chat than `chat_id`
    /// (`reply_parameters.chat_id`); `None` for replies within the chat.
    #[serde(default)]
    pub reply_to_chat_id: Option<i64>,
    /// The forum topic it went to (`message_thread_id`); `None` outside topics.
    #[serde(default)]
    pub thread_id: Option<i32>,
    /// The photo, for a `sendPhoto` (whose caption is `text`/`raw_text`, possibly empty).
    #[serde(default)]
    pub photo: Option<PhotoInfo>,
    /// How many accepted edits changed this message since it was sent.
    #[serde(default)]
    pub edits: u32,
    /// What the message showed before each accepted edit, oldest first: `history[0]` is the
    /// message as sent; the current content is the message's own fields.
    #[serde(default)]
    pub history: Vec<MessageVersion>,
    /// Whether the message was deleted since (by `deleteMessage` or
    /// [`super::TelegramDouble::delete_message`]): it stays on record, but can no longer be
    /// edited or replied to.
    #[serde(default)]
    pub deleted: bool,
    /// When the double accepted it (serialised as milliseconds since the Unix epoch).
    #[serde(
        rename = "at_ms",
        serialize_with = "ser_time",
        deserialize_with = "de_time"
    )]
    pub at: SystemTime,
}

impl SentMessage {
    /// The buttons of its inline keyboard, row by row, as (text, `callback_data`) — `None`
    /// for buttons that carry no callback data (URL buttons and the like). Empty without an
    /// inline keyboard.
    pub fn inline_buttons(&self) -> Vec<(String, Option<String>)> {
        inline_buttons(self.reply_markup.as_ref())
    }

    /// Every visible text the message showed, oldest first: as sent, then after each edit
    /// (the last one is `text`).
    pub fn texts(&self) -> Vec<&str> {
        self.history
            .iter()
            .map(|v| v.text.as_str())
            .chain(std::iter::once(self.text.as_str()))
            .collect()
    }
}

/// A photo the double accepted (`sendPhoto`): a PNG it checked, or one it had accepted
/// before, sent again by its `file_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoInfo {
    /// Width in pixels (from the PNG's `IHDR`).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the uploaded file in bytes.
    pub bytes: usize,
    /// The `file_id` the double gave it (in the answer's `photo`): sending this id again
    /// sends the same photo without an upload.
    #[serde(default)]
    pub file_id: String,
}

/// What a message showed before an edit ([`SentMessage::history`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageVersion {
    /// The visible text (or caption).
    pub text: String,
    /// The text (or caption) exactly as the bot sent it.
    pub raw_text: String,
    /// Its `parse_mode`, if any.
    #[serde(default)]
    pub parse_mode: Option<String>,
    /// Its `reply_markup`, if any.
    #[serde(default)]
    pub reply_markup: Option<serde_json::Value>,
    /// When this version was replaced by the edit (serialised as milliseconds since the
    /// Unix epoch).
    #[serde(
        rename = "replaced_at_ms",
        serialize_with = "ser_time",
        deserialize_with = "de_time"
    )]
    pub replaced_at: SystemTime,
}

/// The (text, `callback_data`) of every button of an inline keyboard markup.
fn inline_buttons(markup: Option<&serde_json::Value>) -> Vec<(String, Option<String>)> {
    let Some(rows) = markup
        .and_then(|m| m.get("inline_keyboard"))
        .and_then(serde_json::Value::as_array)
    else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|button| {
            let text = button.get("text")?.as_str()?.to_owned();
            let data = button
                .get("callback_data")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            Some((text, data))
        })
        .collect()
}

fn ser_time<S: Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
    let ms = u64::deserialize(d)?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

/// A failure the double answers a `sendMessage`, `sendPhoto`, `editMessageText`,
/// `editMessageCaption` or `editMessageReplyMarkup` with, instead of accepting it — with
/// Telegram's exact status and description.
///
/// In JSON (the `/_double/faults` control route) a fault is written
/// `{"type":"too_many_requests","retry_after":5}`, `{"type":"bot_blocked"}`,
/// `{"type":"user_deactivated"}`, `{"type":"chat_not_found"}`,
/// `{"type":"server_error","status":502}` or `{"type":"delay","ms":1500}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "FaultWire", from = "FaultWire")]
pub enum Fault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after = N`.
    TooManyRequests {
        /// Seconds the bot must wait.
        retry_after: u32,
    },
    /// 403 `Forbidden: bot was blocked by the user`.
    BotBlocked,
    /// 403 `Forbidden: user is deactivated`.
    UserDeactivated,
    /// 400 `Bad Request: chat not found`.
    ChatNotFound,
    /// That HTTP status (500 `Internal Server Error`, 502 `Bad Gateway`, 503
    /// `Service Unavailable`, 504 `Gateway Timeout`). Note that teloxide sleeps 10 s before
    /// returning any 5xx to its caller.
    ServerError(u16),
    /// Waits this long, then answers normally (or with whatever comes next).
    Delay(Duration),
}

impl Fault {
    /// The HTTP status and Telegram description of this fault (`None` for [`Fault::Delay`]).
    pub fn status_and_description(&self) -> Option<(u16, String)> {
        Some(match *self {
            Fault::TooManyRequests { retry_after } => {
                (429, format!("Too Many Requests: retry after {retry_after}"))
            }
            Fault::BotBlocked => (403, "Forbidden: bot was blocked by the user".into()),
            Fault::UserDeactivated => (403, "Forbidden: user is deactivated".into()),
            Fault::ChatNotFound => (400, "Bad Request: chat not found".into()),
            Fault::ServerError(status) => (status, server_error_description(status).into()),
            Fault::Delay(_) => return None,
        })
    }
}

/// Telegram's (nginx's) wording for a 5xx status.
pub(crate) fn server_error_description(status: u16) -> &'static str {
    match status {
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    }
}

/// The JSON shape of a [`Fault`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FaultWire {
    TooManyRequests { retry_after: u32 },
    BotBlocked,
    UserDeactivated,
    ChatNotFound,
    ServerError { status: u16 },
    Delay { ms: u64 },
}

impl From<Fault> for FaultWire {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::TooManyRequests { retry_after } => FaultWire::TooManyRequests { retry_after },
            Fault::BotBlocked => FaultWire::BotBlocked,
            Fault::UserDeactivated => FaultWire::UserDeactivated,
            Fault::ChatNotFound => FaultWire::ChatNotFound,
            Fault::ServerError(status) => FaultWire::ServerError { status },
            Fault::Delay(d) => FaultWire::Delay {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
        }
    }
}

impl From<FaultWire> for Fault {
    fn from(wire: FaultWire) -> Self {
        match wire {
            FaultWire::TooManyRequests { retry_after } => Fault::TooManyRequests { retry_after },
            FaultWire::BotBlocked => Fault::BotBlocked,
            FaultWire::UserDeactivated => Fault::UserDeactivated,
            FaultWire::ChatNotFound => Fault::ChatNotFound,
            FaultWire::ServerError { status } => Fault::ServerError(status),
            FaultWire::Delay { ms } => Fault::Delay(Duration::from_millis(ms)),
        }
    }
}

/// Flood limits the double can enforce (off by default): over them, a send is answered
/// `429 Too Many Requests: retry after N`. Counted over sliding one-second windows of
/// accepted sends and edits (`sendMessage`, `sendPhoto`, `editMessageText`,
/// `editMessageCaption`, `editMessageReplyMarkup`: editing counts like sending). Telegram's
/// third limit, per group or channel per minute, is switched on apart:
/// [`super::TelegramDouble::enforce_group_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Accepted sends per second across all chats (Telegram: about 30).
    pub per_second: u32,
    /// Accepted sends per second to one chat (Telegram: about 1).
    pub per_chat_per_second: u32,
}

impl Default for Limits {
    /// Telegram's documented limits: 30 messages/second overall, 1 per chat.
    fn default() -> Self {
        Self {
            per_second: 30,
            per_chat_per_second: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_through_json() {
        let faults = [
            Fault::TooManyRequests { retry_after: 7 },
            Fault::BotBlocked,
            Fault::UserDeactivated,
            Fault::ChatNotFound,
            Fault::ServerError(502),
            Fault::Delay(Duration::from_millis(250)),
        ];
        let json = serde_json::to_string(&faults).unwrap();
        assert!(
            json.contains(r#"{"type":"server_error","status":502}"#),
            "{json}"
        );
        let back: Vec<Fault> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, faults);
    }

    #[test]
    fn fault_descriptions_are_telegrams() {
        assert_eq!(
            Fault::TooManyRequests { retry_after: 35 }.status_and_description(),
            Some((429, "Too Many Requests: retry after 35".into()))
        );
        assert_eq!(
            Fault::ServerError(502).status_and_description(),
            Some((502, "Bad Gateway".into()))
        );
        assert_eq!(Fault::Delay(Duration::ZERO).status_and_description(), None);
    }
}
