//! `sendMessage`, `editMessageText` and `editMessageReplyMarkup`: scripted faults, Telegram's
//! validation (HTML parse mode, empty and over-long text, the message replied to, edits that
//! change nothing), optional flood limits, then the recorded message.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::api::{Params, Reply};
use super::html::{self, Entity, Parsed};
use super::model::{Fault, SentMessage};
use super::state::{Shared, State, unix_now};

/// The longest text Telegram accepts, in UTF-16 code units after entity parsing.
const MAX_TEXT_UTF16: usize = 4096;

/// `chat_id` as Telegram reads it.
fn chat_id(params: &Params) -> Result<i64, Reply> {
    match params.int("chat_id") {
        None => Err(Reply::bad_request("chat_id is empty")),
        // `@channelusername` and the like: the double knows no public chats.
        Some(Err(())) => Err(Reply::bad_request("chat not found")),
        Some(Ok(id)) => Ok(id),
    }
}

/// Applies the next fault scripted for `chat_id`, if any: `Some(reply)` ends the request.
async fn apply_fault(fault: Option<Fault>) -> Option<Reply> {
    match fault? {
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::TooManyRequests { retry_after } => Some(Reply::retry_after(retry_after)),
        other => {
            let (status, description) = other.status_and_description()?;
            Some(Reply::error(status, description))
        }
    }
}

/// What the trader will see, or Telegram's error.
struct Rendered {
    parsed: Parsed,
    raw_text: String,
    parse_mode: Option<String>,
}

fn render(params: &Params) -> Result<Rendered, Reply> {
    let raw_text = params.string("text").unwrap_or_default();
    let parse_mode = params.string("parse_mode").filter(|m| !m.is_empty());
    let parsed = parse_text(&raw_text, parse_mode.as_deref())?;
    if parsed.text.is_empty() {
        return Err(Reply::bad_request("message text is empty"));
    }
    if parsed.text.encode_utf16().count() > MAX_TEXT_UTF16 {
        return Err(Reply::bad_request("message is too long"));
    }
    Ok(Rendered {
        parsed,
        raw_text,
        parse_mode,
    })
}

/// `raw_text` as Telegram shows it in `parse_mode`, trimmed.
fn parse_text(raw_text: &str, parse_mode: Option<&str>) -> Result<Parsed, Reply> {
    let parsed = match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => html::parse(raw_text)
            .map_err(|e| Reply::bad_request(&format!("can't parse entities: {e}")))?,
        // The double does not parse Markdown: the text is shown as sent.
        Some("markdown" | "markdownv2") | None => Parsed {
            text: raw_text.to_owned(),
            entities: Vec::new(),
        },
        Some(_) => return Err(Reply::bad_request("unsupported parse_mode")),
    };
    Ok(html::trim(parsed))
}

/// What a recorded message shows: its text and entities, parsed again from what the bot sent
/// (which parsed once, so parses again; should it not, the visible text without entities).
fn shown(message: &SentMessage) -> Parsed {
    parse_text(&message.raw_text, message.parse_mode.as_deref()).unwrap_or_else(|_| Parsed {
        text: message.text.clone(),
        entities: Vec::new(),
    })
}

/// The inline keyboard of a `reply_markup`, if it has one with buttons: the only markup a
/// message carries (Telegram echoes no other), and what "not modified" compares.
fn inline_markup(reply_markup: Option<&Value>) -> Option<&Value> {
    reply_markup.filter(|m| {
        m.get("inline_keyboard")
            .and_then(Value::as_array)
            .is_some_and(|rows| {
                rows.iter()
                    .any(|r| r.as_array().is_some_and(|r| !r.is_empty()))
            })
    })
}

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply \
                            markup are exactly the same as a current content and reply markup \
                            of the message";

/// The `Message` JSON of a bot message.
struct MessageJson<'a> {
    chat: Value,
    message_id: i32,
    entities: &'a [Entity],
    text: &'a str,
    reply_markup: Option<&'a Value>,
    date: u64,
    edit_date: Option<u64>,
    reply_to_message: Option<Value>,
}

impl MessageJson<'_> {
    fn into_json(self, shared: &Shared) -> Value {
        let mut message = json!({
            "message_id": self.message_id,
            "from": shared.bot_user_json(),
            "chat": self.chat,
            "date": self.date,
            "text": self.text,
        });
        if !self.entities.is_empty() {
            message["entities"] = Value::Array(self.entities.iter().map(Entity::to_json).collect());
        }
        if let Some(markup) = inline_markup(self.reply_markup) {
            message["reply_markup"] = markup.clone();
        }
        if let Some(edit_date) = self.edit_date {
            message["edit_date"] = json!(edit_date);
        }
        if let Some(replied) = self.reply_to_message {
            message["reply_to_message"] = replied;
        }
        message
    }
}

/// The `Message` JSON of the message `message_id` of `chat_id` as the bot last left it, if
/// the double recorded it (with the message it replies to, if any).
pub(crate) fn recorded_message_json(
    shared: &Shared,
    state: &State,
    chat_id: i64,
    message_id: i32,
) -> Option<Value> {
    bot_message_json(shared, state, chat_id, message_id, true)
}

fn bot_message_json(
    shared: &Shared,
    state: &State,
    chat_id: i64,
    message_id: i32,
    with_reply: bool,
) -> Option<Value> {
    let chat = state.chats.get(&chat_id)?;
    let message = chat
        .sent
        .iter()
        .rev()
        .find(|m| m.message_id == message_id)?;
    let parsed = shown(message);
    let reply_to_message = message
        .reply_to_message_id
        .filter(|_| with_reply)
        .and_then(|id| replied_json(shared, state, chat_id, id));
    Some(
        MessageJson {
            chat: state.chat_json(chat_id),
            message_id,
            entities: &parsed.entities,
            text: &parsed.text,
            reply_markup: message.reply_markup.as_ref(),
            date: unix_secs(message.at),
            edit_date: chat.edit_dates.get(&message_id).copied(),
            reply_to_message,
        }
        .into_json(shared),
    )
}

/// The `reply_to_message` of a message replying to `message_id`: the bot's message as it is
/// now, or the trader's as injected (without a `reply_to_message` of its own, as on
/// Telegram), or just its id and chat if the double has neither.
fn replied_json(shared: &Shared, state: &State, chat_id: i64, message_id: i32) -> Option<Value> {
    bot_message_json(shared, state, chat_id, message_id, false)
        .or_else(|| {
            state
                .chats
                .get(&chat_id)?
                .received
                .get(&message_id)
                .cloned()
        })
        .or_else(|| {
            Some(json!({
                "message_id": message_id,
                "chat": state.chat_json(chat_id),
                "date": unix_now(),
            }))
        })
}

fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The message a send replies to: `reply_parameters.message_id` or the legacy
/// `reply_to_message_id`, with whether a missing target may be ignored.
fn reply_target(params: &Params) -> Result<Option<(i64, bool)>, Reply> {
    let allow_without = params.flag("allow_sending_without_reply");
    if let Some(parameters) = params.json("reply_parameters") {
        let Some(message_id) = parameters.get("message_id").and_then(Value::as_i64) else {
            return Err(Reply::bad_request(
                "can't parse reply parameters JSON object",
            ));
        };
        let allow = parameters
            .get("allow_sending_without_reply")
            .and_then(Value::as_bool)
            .unwrap_or(allow_without);
        return Ok(Some((message_id, allow)));
    }
    match params.int("reply_to_message_id") {
        None | Some(Ok(0)) => Ok(None),
        Some(Ok(id)) => Ok(Some((id, allow_without))),
        Some(Err(())) => Err(Reply::bad_request("message to be replied not found")),
    }
}

/// `sendMessage`.
pub(crate) async fn send_message(shared: &Shared, params: &Params) -> Reply {
    let chat_id = match chat_id(params) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let fault = {
        let mut state = shared.lock();
        let chat = state.chats.entry(chat_id).or_default();
        chat.send_attempts += 1;
        chat.next_fault()
    };
    shared.notify_changed();
    if let Some(reply) = apply_fault(fault).await {
        return reply;
    }
    let rendered = match render(params) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let reply_markup = params.json("reply_markup");
    let reply_target = match reply_target(params) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let (message_id, chat, at, reply_to_message) = {
        let mut state = shared.lock();
        // Message ids count up per chat from 1, the trader's and the bot's alike.
        let last_id = state.chats.get(&chat_id).map_or(0, |c| c.last_message_id);
        let reply_to_message_id = match reply_target {
            None => None,
            Some((id, _)) if (1..=i64::from(last_id)).contains(&id) => i32::try_from(id).ok(),
            Some((_, true)) => None,
            Some((_, false)) => return Reply::bad_request("message to be replied not found"),
        };
        let now = Instant::now();
        if let Some(retry_after) = state.over_limits(chat_id, now) {
            state.too_many_requests += 1;
            drop(state);
            shared.notify_changed();
            return Reply::retry_after(retry_after);
        }
        let chat_json = state.chat_json(chat_id);
        let reply_to_message =
            reply_to_message_id.and_then(|id| replied_json(shared, &state, chat_id, id));
        let chat = state.chats.entry(chat_id).or_default();
        let message_id = chat.next_message_id();
        let at = SystemTime::now();
        chat.sent.push(SentMessage {
            chat_id,
            message_id,
            text: rendered.parsed.text.clone(),
            raw_text: rendered.raw_text,
            parse_mode: rendered.parse_mode,
            reply_markup: reply_markup.clone(),
            allow_paid_broadcast: params.flag("allow_paid_broadcast"),
            disable_notification: params.flag("disable_notification"),
            reply_to_message_id,
            edits: 0,
            at,
        });
        let index = chat.sent.len() - 1;
        state.order.push((chat_id, index));
        state.accepted.push((chat_id, now));
        (message_id, chat_json, at, reply_to_message)
    };
    shared.notify_changed();
    Reply::ok(
        MessageJson {
            chat,
            message_id,
            entities: &rendered.parsed.entities,
            text: &rendered.parsed.text,
            reply_markup: reply_markup.as_ref(),
            date: unix_secs(at),
            edit_date: None,
            reply_to_message,
        }
        .into_json(shared),
    )
}

/// The chat and message an edit is for (messages in chats; inline messages are not
/// supported).
fn edit_target(params: &Params) -> Result<(i64, i64), Reply> {
    if params.string("inline_message_id").is_some() {
        return Err(Reply::bad_request(
            "the Telegram double does not support inline messages",
        ));
    }
    let chat_id = chat_id(params)?;
    match params.int("message_id") {
        None => Err(Reply::bad_request("message identifier is not specified")),
        Some(Err(())) => Err(Reply::bad_request("message to edit not found")),
        Some(Ok(id)) => Ok((chat_id, id)),
    }
}

/// The new content of an edited message.
struct Edit {
    parsed: Parsed,
    raw_text: String,
    parse_mode: Option<String>,
    reply_markup: Option<Value>,
}

/// Applies an edit to a recorded message: Telegram's "not found" and "not modified"
/// answers, the flood limits, then the message changed in place. `new_content` builds the
/// edit from the current message. Answers with the edited message.
fn apply_edit(
    shared: &Shared,
    chat_id: i64,
    message_id: i64,
    new_content: impl FnOnce(&SentMessage) -> Edit,
) -> Reply {
    let json = {
        let mut state = shared.lock();
        let Some((index, message_id)) = state.chats.get(&chat_id).and_then(|c| {
            let index = c
                .sent
                .iter()
                .rposition(|m| i64::from(m.message_id) == message_id)?;
            Some((index, c.sent[index].message_id))
        }) else {
            return Reply::bad_request("message to edit not found");
        };
        let current = &state.chats[&chat_id].sent[index];
        let edit = new_content(current);
        let same_markup = inline_markup(current.reply_markup.as_ref())
            == inline_markup(edit.reply_markup.as_ref());
        if same_markup && current.text == edit.parsed.text && shown(current) == edit.parsed {
            return Reply::bad_request(NOT_MODIFIED);
        }
        let now = Instant::now();
        if let Some(retry_after) = state.over_limits(chat_id, now) {
            state.too_many_requests += 1;
            drop(state);
            shared.notify_changed();
            return Reply::retry_after(retry_after);
        }
        state.accepted.push((chat_id, now));
        let chat_json = state.chat_json(chat_id);
        let reply_to_message = state.chats[&chat_id].sent[index]
            .reply_to_message_id
            .and_then(|id| replied_json(shared, &state, chat_id, id));
        let edit_date = unix_now();
        let Some(chat) = state.chats.get_mut(&chat_id) else {
            return Reply::bad_request("message to edit not found");
        };
        chat.edits += 1;
        chat.edit_dates.insert(message_id, edit_date);
        let Some(message) = chat.sent.get_mut(index) else {
            return Reply::bad_request("message to edit not found");
        };
        message.text.clone_from(&edit.parsed.text);
        message.raw_text = edit.raw_text;
        message.parse_mode = edit.parse_mode;
        message.reply_markup.clone_from(&edit.reply_markup);
        message.edits += 1;
        MessageJson {
            chat: chat_json,
            message_id,
            entities: &edit.parsed.entities,
            text: &edit.parsed.text,
            reply_markup: edit.reply_markup.as_ref(),
            date: unix_secs(message.at),
            edit_date: Some(edit_date),
            reply_to_message,
        }
        .into_json(shared)
    };
    shared.notify_changed();
    Reply::ok(json)
}

/// The message an edit names, once the chat's next scripted fault (if any) has been applied.
async fn edit_target_after_faults(shared: &Shared, params: &Params) -> Result<(i64, i64), Reply> {
    let (chat_id, message_id) = edit_target(params)?;
    let fault = shared.lock().chats.entry(chat_id).or_default().next_fault();
    match apply_fault(fault).await {
        Some(reply) => Err(reply),
        None => Ok((chat_id, message_id)),
    }
}

/// `editMessageText`: new text (and keyboard: without `reply_markup` the inline keyboard is
/// removed, as on Telegram).
pub(crate) async fn edit_message_text(shared: &Shared, params: &Params) -> Reply {
    let (chat_id, message_id) = match edit_target_after_faults(shared, params).await {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let rendered = match render(params) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let reply_markup = params.json("reply_markup");
    apply_edit(shared, chat_id, message_id, |_| Edit {
        parsed: rendered.parsed,
        raw_text: rendered.raw_text,
        parse_mode: rendered.parse_mode,
        reply_markup,
    })
}

/// `editMessageReplyMarkup`: a new inline keyboard, the text unchanged (without
/// `reply_markup` the keyboard is removed).
pub(crate) async fn edit_message_reply_markup(shared: &Shared, params: &Params) -> Reply {
    let (chat_id, message_id) = match edit_target_after_faults(shared, params).await {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let reply_markup = params.json("reply_markup");
    apply_edit(shared, chat_id, message_id, |current| Edit {
        parsed: shown(current),
        raw_text: current.raw_text.clone(),
        parse_mode: current.parse_mode.clone(),
        reply_markup,
    })
}
