//! `sendMessage`, `sendPhoto`, `editMessageText`, `editMessageCaption`,
//! `editMessageReplyMarkup` and `deleteMessage`: scripted faults, the bot's membership of the
//! chat, Telegram's validation (HTML parse mode, empty and over-long texts and captions, the
//! uploaded PNG, the forum topic, the message replied to, edits of deleted, too old or
//! unchanged messages), optional flood limits, then the recorded message.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::api::{Params, Reply};
use super::chats::THREAD_NOT_FOUND;
use super::html::{self, Entity, Parsed};
use super::model::{Fault, MessageVersion, PhotoInfo, SentMessage, TestChatKind};
use super::photo;
use super::state::{Shared, State, unix_now};

/// The longest text Telegram accepts, in UTF-16 code units after entity parsing.
const MAX_TEXT_UTF16: usize = 4096;

/// The longest caption Telegram accepts, in UTF-16 code units after entity parsing.
const MAX_CAPTION_UTF16: usize = 1024;

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

/// The `caption` of a photo as the trader will see it (may be empty), or Telegram's error.
fn render_caption(params: &Params) -> Result<Rendered, Reply> {
    let raw_text = params.string("caption").unwrap_or_default();
    let parse_mode = params.string("parse_mode").filter(|m| !m.is_empty());
    let parsed = parse_text(&raw_text, parse_mode.as_deref())?;
    if parsed.text.encode_utf16().count() > MAX_CAPTION_UTF16 {
        return Err(Reply::bad_request("message caption is too long"));
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
    /// Posted in a channel: signed by the channel (`sender_chat`), without `from`.
    channel: bool,
    message_id: i32,
    thread_id: Option<i32>,
    entities: &'a [Entity],
    /// The text, or the caption of a photo.
    text: &'a str,
    photo: Option<&'a PhotoInfo>,
    reply_markup: Option<&'a Value>,
    date: u64,
    edit_date: Option<u64>,
    reply_to_message: Option<Value>,
}

impl MessageJson<'_> {
    fn into_json(self, shared: &Shared) -> Value {
        let mut message = json!({
            "message_id": self.message_id,
            "chat": self.chat,
            "date": self.date,
        });
        if self.channel {
            message["sender_chat"] = message["chat"].clone();
        } else {
            message["from"] = shared.bot_user_json();
        }
        if let Some(thread_id) = self.thread_id {
            message["message_thread_id"] = json!(thread_id);
            message["is_topic_message"] = json!(true);
        }
        let entities = || Value::Array(self.entities.iter().map(Entity::to_json).collect());
        match self.photo {
            None => {
                message["text"] = json!(self.text);
                if !self.entities.is_empty() {
                    message["entities"] = entities();
                }
            }
            Some(photo) => {
                message["photo"] = json!([{
                    "file_id": photo.file_id,
                    "file_unique_id": unique_file_id(&photo.file_id),
                    "file_size": photo.bytes,
                    "width": photo.width,
                    "height": photo.height,
                }]);
                if !self.text.is_empty() {
                    message["caption"] = json!(self.text);
                }
                if !self.entities.is_empty() {
                    message["caption_entities"] = entities();
                }
            }
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

/// The `file_unique_id` of the photo `file_id` (stable, shorter, as Telegram's are).
fn unique_file_id(file_id: &str) -> String {
    format!("AQAD{}", file_id.trim_start_matches("AgAC"))
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
        .filter(|_| with_reply && message.reply_to_chat_id.is_none())
        .and_then(|id| replied_json(shared, state, chat_id, id));
    Some(
        MessageJson {
            chat: state.chat_json(chat_id),
            channel: state.chat_kind(chat_id) == Some(TestChatKind::Channel),
            message_id,
            thread_id: message.thread_id,
            entities: &parsed.entities,
            text: &parsed.text,
            photo: message.photo.as_ref(),
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
    if state
        .chats
        .get(&chat_id)
        .is_some_and(|c| c.deleted.contains(&message_id))
    {
        // A deleted message is no longer shown as replied to.
        return None;
    }
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

/// The message a send replies to: `reply_parameters` (`message_id`, optional `chat_id`) or
/// the legacy `reply_to_message_id`.
struct ReplyTarget {
    /// Another chat than the one sent to (`reply_parameters.chat_id`), if given.
    chat_id: Option<i64>,
    message_id: i64,
    /// Whether a missing target may be ignored (`allow_sending_without_reply`).
    allow_without: bool,
}

fn reply_target(params: &Params) -> Result<Option<ReplyTarget>, Reply> {
    let allow_without = params.flag("allow_sending_without_reply");
    if let Some(parameters) = params.json("reply_parameters") {
        let Some(message_id) = parameters.get("message_id").and_then(Value::as_i64) else {
            return Err(Reply::bad_request(
                "can't parse reply parameters JSON object",
            ));
        };
        let chat_id = match parameters.get("chat_id") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(chat_not_found)?),
            Some(Value::String(s)) => Some(s.trim().parse().map_err(|_| chat_not_found())?),
            Some(_) => return Err(chat_not_found()),
        };
        let allow = parameters
            .get("allow_sending_without_reply")
            .and_then(Value::as_bool)
            .unwrap_or(allow_without);
        return Ok(Some(ReplyTarget {
            chat_id,
            message_id,
            allow_without: allow,
        }));
    }
    match params.int("reply_to_message_id") {
        None | Some(Ok(0)) => Ok(None),
        Some(Ok(message_id)) => Ok(Some(ReplyTarget {
            chat_id: None,
            message_id,
            allow_without,
        })),
        Some(Err(())) => Err(Reply::bad_request("message to be replied not found")),
    }
}

fn chat_not_found() -> Reply {
    Reply::bad_request("chat not found")
}

/// The forum topic a send names (`message_thread_id`; 0 or absent: none).
fn thread_id(params: &Params) -> Result<Option<i32>, Reply> {
    match params.int("message_thread_id") {
        None | Some(Ok(0)) => Ok(None),
        Some(Ok(id)) => i32::try_from(id)
            .map(Some)
            .map_err(|_| Reply::bad_request(THREAD_NOT_FOUND)),
        Some(Err(())) => Err(Reply::bad_request(THREAD_NOT_FOUND)),
    }
}

/// What a send carries: a text, or a photo with a caption (possibly empty).
struct Content {
    rendered: Rendered,
    photo: Option<PhotoInfo>,
}

/// The first steps of every send to `chat_id`: counts the attempt, applies the chat's next
/// scripted fault, then refuses a chat the bot may not send `what` to. `Some(reply)` ends
/// the request.
async fn begin_send(shared: &Shared, chat_id: i64, what: &str) -> Option<Reply> {
    let fault = {
        let mut state = shared.lock();
        let chat = state.chats.entry(chat_id).or_default();
        chat.send_attempts += 1;
        chat.next_fault()
    };
    shared.notify_changed();
    if let Some(reply) = apply_fault(fault).await {
        return Some(reply);
    }
    shared.lock().membership_error(chat_id, Some(what))
}

/// `sendMessage`.
pub(crate) async fn send_message(shared: &Shared, params: &Params) -> Reply {
    let chat_id = match chat_id(params) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    if let Some(reply) = begin_send(shared, chat_id, "text messages").await {
        return reply;
    }
    match render(params) {
        Ok(rendered) => send(
            shared,
            params,
            chat_id,
            Content {
                rendered,
                photo: None,
            },
        ),
        Err(reply) => reply,
    }
}

/// `sendPhoto`: a PNG uploaded in the multipart field `photo` (or in the part an
/// `attach://<name>` value names, as teloxide sends it), or the `file_id` of a photo the
/// double accepted before; the caption as the message's text.
pub(crate) async fn send_photo(shared: &Shared, params: &Params) -> Reply {
    let chat_id = match chat_id(params) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    if let Some(reply) = begin_send(shared, chat_id, "photos").await {
        return reply;
    }
    let rendered = match render_caption(params) {
        Ok(rendered) => rendered,
        Err(reply) => return reply,
    };
    match uploaded_photo(shared, params) {
        Ok(photo) => send(
            shared,
            params,
            chat_id,
            Content {
                rendered,
                photo: Some(photo),
            },
        ),
        Err(reply) => reply,
    }
}

/// The photo of a `sendPhoto`, checked (a new upload gets its `file_id` when recorded).
fn uploaded_photo(shared: &Shared, params: &Params) -> Result<PhotoInfo, Reply> {
    const WRONG_FILE: &str = "wrong file identifier/HTTP URL specified";
    let bytes = match params.file("photo") {
        Some(bytes) => bytes,
        None => {
            let value = params.string("photo").unwrap_or_default();
            if value.is_empty() {
                return Err(Reply::bad_request("there is no photo in the request"));
            }
            match value.strip_prefix("attach://") {
                Some(name) => params
                    .file(name)
                    .ok_or_else(|| Reply::bad_request(WRONG_FILE))?,
                None => {
                    return shared
                        .lock()
                        .photos
                        .get(&value)
                        .cloned()
                        .ok_or_else(|| Reply::bad_request(WRONG_FILE));
                }
            }
        }
    };
    let (width, height) = photo::check_png(bytes).map_err(Reply::bad_request)?;
    Ok(PhotoInfo {
        width,
        height,
        bytes: bytes.len(),
        file_id: String::new(),
    })
}

/// Checks the topic and the message replied to, applies the flood limits and records the
/// message; answers with it.
fn send(shared: &Shared, params: &Params, chat_id: i64, content: Content) -> Reply {
    let reply_markup = params.json("reply_markup");
    let reply_target = match reply_target(params) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let thread_id = match thread_id(params) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let json = {
        let mut state = shared.lock();
        if let Some(thread_id) = thread_id
            && !state.has_topic(chat_id, thread_id)
        {
            return Reply::bad_request(THREAD_NOT_FOUND);
        }
        let (reply_to_message_id, reply_to_chat_id) = match reply_target {
            None => (None, None),
            Some(target) => {
                let in_chat = target.chat_id.unwrap_or(chat_id);
                let id = i32::try_from(target.message_id).ok();
                let exists =
                    id.is_some_and(|id| state.chats.get(&in_chat).is_some_and(|c| c.exists(id)));
                match (exists, target.allow_without) {
                    (true, _) => (id, Some(in_chat).filter(|c| *c != chat_id)),
                    (false, true) => (None, None),
                    (false, false) => {
                        return Reply::bad_request("message to be replied not found");
                    }
                }
            }
        };
        let now = Instant::now();
        if let Some(retry_after) = state.over_limits(chat_id, now) {
            state.too_many_requests += 1;
            drop(state);
            shared.notify_changed();
            return Reply::retry_after(retry_after);
        }
        let photo = content.photo.map(|mut photo| {
            if photo.file_id.is_empty() {
                photo.file_id = format!("AgACAgQAAx{:012}", state.photos.len() + 1);
                state.photos.insert(photo.file_id.clone(), photo.clone());
            }
            photo
        });
        let chat = state.chats.entry(chat_id).or_default();
        // Message ids count up per chat from 1, the trader's and the bot's alike.
        let message_id = chat.next_message_id();
        let rendered = content.rendered;
        chat.sent.push(SentMessage {
            chat_id,
            message_id,
            text: rendered.parsed.text,
            raw_text: rendered.raw_text,
            parse_mode: rendered.parse_mode,
            reply_markup,
            allow_paid_broadcast: params.flag("allow_paid_broadcast"),
            disable_notification: params.flag("disable_notification"),
            reply_to_message_id,
            reply_to_chat_id,
            thread_id,
            photo,
            edits: 0,
            history: Vec::new(),
            deleted: false,
            at: SystemTime::now(),
        });
        let index = chat.sent.len() - 1;
        state.order.push((chat_id, index));
        state.accepted.push((chat_id, now));
        recorded_message_json(shared, &state, chat_id, message_id)
    };
    shared.notify_changed();
    match json {
        Some(json) => Reply::ok(json),
        None => Reply::error(500, "Internal Server Error"),
    }
}

/// The chat and message an edit or deletion is for (messages in chats; inline messages are
/// not supported). `not_found` is Telegram's description for an unusable `message_id`.
fn target_message(params: &Params, not_found: &str) -> Result<(i64, i64), Reply> {
    if params.string("inline_message_id").is_some() {
        return Err(Reply::bad_request(
            "the Telegram double does not support inline messages",
        ));
    }
    let chat_id = chat_id(params)?;
    match params.int("message_id") {
        None => Err(Reply::bad_request("message identifier is not specified")),
        Some(Err(())) => Err(Reply::bad_request(not_found)),
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

const EDIT_NOT_FOUND: &str = "message to edit not found";

/// Applies an edit to a recorded message: Telegram's 403 for a chat the bot is not in, its
/// "not found" (never sent by the bot, or deleted), "can't be edited" (too old, or the
/// trader's) and "not modified" answers, the flood limits, then the message changed in
/// place, its former content added to its history. `new_content` builds the edit from the
/// current message, or refuses it. Answers with the edited message.
fn apply_edit(
    shared: &Shared,
    chat_id: i64,
    message_id: i64,
    new_content: impl FnOnce(&SentMessage) -> Result<Edit, Reply>,
) -> Reply {
    let json = {
        let mut state = shared.lock();
        if let Some(reply) = state.membership_error(chat_id, None) {
            return reply;
        }
        let Some(chat) = state.chats.get(&chat_id) else {
            return Reply::bad_request(EDIT_NOT_FOUND);
        };
        let Some(index) = chat
            .sent
            .iter()
            .rposition(|m| i64::from(m.message_id) == message_id && !m.deleted)
        else {
            let theirs = i32::try_from(message_id)
                .is_ok_and(|id| chat.received.contains_key(&id) && chat.exists(id));
            return Reply::bad_request(if theirs {
                "message can't be edited"
            } else {
                EDIT_NOT_FOUND
            });
        };
        let current = &chat.sent[index];
        let message_id = current.message_id;
        if chat.aged.contains(&message_id) {
            return Reply::bad_request("message can't be edited");
        }
        let edit = match new_content(current) {
            Ok(edit) => edit,
            Err(reply) => return reply,
        };
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
        let Some(chat) = state.chats.get_mut(&chat_id) else {
            return Reply::bad_request(EDIT_NOT_FOUND);
        };
        chat.edits += 1;
        chat.edit_dates.insert(message_id, unix_now());
        let Some(message) = chat.sent.get_mut(index) else {
            return Reply::bad_request(EDIT_NOT_FOUND);
        };
        let former = MessageVersion {
            text: std::mem::replace(&mut message.text, edit.parsed.text),
            raw_text: std::mem::replace(&mut message.raw_text, edit.raw_text),
            parse_mode: std::mem::replace(&mut message.parse_mode, edit.parse_mode),
            reply_markup: std::mem::replace(&mut message.reply_markup, edit.reply_markup),
            replaced_at: SystemTime::now(),
        };
        message.history.push(former);
        message.edits += 1;
        recorded_message_json(shared, &state, chat_id, message_id)
    };
    shared.notify_changed();
    match json {
        Some(json) => Reply::ok(json),
        None => Reply::bad_request(EDIT_NOT_FOUND),
    }
}

/// The message an edit names, once the chat's next scripted fault (if any) has been applied.
async fn edit_target_after_faults(shared: &Shared, params: &Params) -> Result<(i64, i64), Reply> {
    let (chat_id, message_id) = target_message(params, EDIT_NOT_FOUND)?;
    let fault = shared.lock().chats.entry(chat_id).or_default().next_fault();
    match apply_fault(fault).await {
        Some(reply) => Err(reply),
        None => Ok((chat_id, message_id)),
    }
}

/// `editMessageText`: new text (and keyboard: without `reply_markup` the inline keyboard is
/// removed, as on Telegram). A photo has no text to edit (its caption is
/// `editMessageCaption`'s).
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
    apply_edit(shared, chat_id, message_id, |current| {
        if current.photo.is_some() {
            return Err(Reply::bad_request(
                "there is no text in the message to edit",
            ));
        }
        Ok(Edit {
            parsed: rendered.parsed,
            raw_text: rendered.raw_text,
            parse_mode: rendered.parse_mode,
            reply_markup,
        })
    })
}

/// `editMessageCaption`: a photo's new caption (empty removes it) and keyboard (without
/// `reply_markup` the inline keyboard is removed, as on Telegram).
pub(crate) async fn edit_message_caption(shared: &Shared, params: &Params) -> Reply {
    let (chat_id, message_id) = match edit_target_after_faults(shared, params).await {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let rendered = match render_caption(params) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let reply_markup = params.json("reply_markup");
    apply_edit(shared, chat_id, message_id, |current| {
        if current.photo.is_none() {
            return Err(Reply::bad_request(
                "there is no caption in the message to edit",
            ));
        }
        Ok(Edit {
            parsed: rendered.parsed,
            raw_text: rendered.raw_text,
            parse_mode: rendered.parse_mode,
            reply_markup,
        })
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
    apply_edit(shared, chat_id, message_id, |current| {
        Ok(Edit {
            parsed: shown(current),
            raw_text: current.raw_text.clone(),
            parse_mode: current.parse_mode.clone(),
            reply_markup,
        })
    })
}

/// `deleteMessage`: the bot's own messages and the trader's (no rights are checked); not
/// one deleted already or never sent, nor one made too old. No flood limits, no scripted
/// faults.
pub(crate) fn delete_message(shared: &Shared, params: &Params) -> Reply {
    const NOT_FOUND: &str = "message to delete not found";
    let (chat_id, message_id) = match target_message(params, NOT_FOUND) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let outcome = {
        let mut state = shared.lock();
        if let Some(reply) = state.membership_error(chat_id, None) {
            return reply;
        }
        let aged = i32::try_from(message_id).is_ok_and(|id| {
            state
                .chats
                .get(&chat_id)
                .is_some_and(|c| c.exists(id) && c.aged.contains(&id))
        });
        if aged {
            return Reply::bad_request("message can't be deleted");
        }
        i32::try_from(message_id).is_ok_and(|id| state.delete_message(chat_id, id))
    };
    if !outcome {
        return Reply::bad_request(NOT_FOUND);
    }
    shared.notify_changed();
    Reply::ok(json!(true))
}

impl State {
    /// Deletes the message `message_id` of `chat_id` (the bot's or the trader's); `false` if
    /// there is no such message, or it was deleted already.
    pub fn delete_message(&mut self, chat_id: i64, message_id: i32) -> bool {
        let Some(chat) = self.chats.get_mut(&chat_id) else {
            return false;
        };
        if !chat.exists(message_id) {
            return false;
        }
        chat.deleted.insert(message_id);
        for message in chat.sent.iter_mut().filter(|m| m.message_id == message_id) {
            message.deleted = true;
        }
        true
    }

    /// Makes the message `message_id` of `chat_id` too old to edit or delete (by the bot);
    /// `false` if there is no such message.
    pub fn age_message(&mut self, chat_id: i64, message_id: i32) -> bool {
        let Some(chat) = self.chats.get_mut(&chat_id) else {
            return false;
        };
        if !chat.exists(message_id) {
            return false;
        }
        chat.aged.insert(message_id);
        true
    }
}
