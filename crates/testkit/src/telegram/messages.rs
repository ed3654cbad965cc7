//! `sendMessage` and `editMessageText`: scripted faults, Telegram's validation (HTML parse
//! mode, empty and over-long text), optional flood limits, then the recorded message.

use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::api::{Params, Reply};
use super::html::{self, Entity, Parsed};
use super::model::{Fault, SentMessage};
use super::state::{Shared, unix_now};

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
    let parsed = match parse_mode
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html") => html::parse(&raw_text)
            .map_err(|e| Reply::bad_request(&format!("can't parse entities: {e}")))?,
        // The double does not parse Markdown: the text is shown as sent.
        Some("markdown" | "markdownv2") | None => Parsed {
            text: raw_text.clone(),
            entities: Vec::new(),
        },
        Some(_) => return Err(Reply::bad_request("unsupported parse_mode")),
    };
    let parsed = html::trim(parsed);
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

/// The `Message` JSON the bot gets back.
fn message_json(
    shared: &Shared,
    chat: Value,
    message_id: i32,
    entities: &[Entity],
    text: &str,
    reply_markup: Option<&Value>,
    edited: bool,
) -> Value {
    let now = unix_now();
    let mut message = json!({
        "message_id": message_id,
        "from": shared.bot_user_json(),
        "chat": chat,
        "date": now,
        "text": text,
    });
    if !entities.is_empty() {
        message["entities"] = Value::Array(entities.iter().map(Entity::to_json).collect());
    }
    // Telegram echoes only inline keyboards.
    if let Some(markup) = reply_markup.filter(|m| m.get("inline_keyboard").is_some()) {
        message["reply_markup"] = markup.clone();
    }
    if edited {
        message["edit_date"] = json!(now);
    }
    message
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
    let (message_id, chat) = {
        let mut state = shared.lock();
        let now = Instant::now();
        if let Some(retry_after) = state.over_limits(chat_id, now) {
            state.too_many_requests += 1;
            drop(state);
            shared.notify_changed();
            return Reply::retry_after(retry_after);
        }
        let chat_json = state.chat_json(chat_id);
        let chat = state.chats.entry(chat_id).or_default();
        let message_id = chat.next_message_id();
        chat.sent.push(SentMessage {
            chat_id,
            message_id,
            text: rendered.parsed.text.clone(),
            raw_text: rendered.raw_text,
            parse_mode: rendered.parse_mode,
            reply_markup: reply_markup.clone(),
            allow_paid_broadcast: params.flag("allow_paid_broadcast"),
            at: SystemTime::now(),
        });
        let index = chat.sent.len() - 1;
        state.order.push((chat_id, index));
        state.accepted.push((chat_id, now));
        (message_id, chat_json)
    };
    shared.notify_changed();
    Reply::ok(message_json(
        shared,
        chat,
        message_id,
        &rendered.parsed.entities,
        &rendered.parsed.text,
        reply_markup.as_ref(),
        false,
    ))
}

/// `editMessageText` (of a message in a chat; inline messages are not supported).
pub(crate) async fn edit_message_text(shared: &Shared, params: &Params) -> Reply {
    if params.string("inline_message_id").is_some() {
        return Reply::bad_request("the Telegram double does not support inline messages");
    }
    let chat_id = match chat_id(params) {
        Ok(id) => id,
        Err(reply) => return reply,
    };
    let message_id = match params.int("message_id") {
        None => return Reply::bad_request("message identifier is not specified"),
        Some(Err(())) => return Reply::bad_request("message to edit not found"),
        Some(Ok(id)) => id,
    };
    let fault = shared.lock().chats.entry(chat_id).or_default().next_fault();
    if let Some(reply) = apply_fault(fault).await {
        return reply;
    }
    let rendered = match render(params) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let reply_markup = params.json("reply_markup");
    let chat = {
        let mut state = shared.lock();
        let chat_json = state.chat_json(chat_id);
        let Some(index) = state.chats.get(&chat_id).and_then(|c| {
            c.sent
                .iter()
                .rposition(|m| i64::from(m.message_id) == message_id)
        }) else {
            return Reply::bad_request("message to edit not found");
        };
        let current = &state.chats[&chat_id].sent[index];
        if current.text == rendered.parsed.text && current.reply_markup == reply_markup {
            return Reply::bad_request(
                "message is not modified: specified new message content and reply markup are \
                 exactly the same as a current content and reply markup of the message",
            );
        }
        let now = Instant::now();
        if let Some(retry_after) = state.over_limits(chat_id, now) {
            state.too_many_requests += 1;
            return Reply::retry_after(retry_after);
        }
        state.accepted.push((chat_id, now));
        let Some(message) = state
            .chats
            .get_mut(&chat_id)
            .and_then(|c| c.sent.get_mut(index))
        else {
            return Reply::bad_request("message to edit not found");
        };
        message.text = rendered.parsed.text.clone();
        message.raw_text = rendered.raw_text;
        message.parse_mode = rendered.parse_mode;
        message.reply_markup = reply_markup.clone();
        chat_json
    };
    shared.notify_changed();
    Reply::ok(message_json(
        shared,
        chat,
        i32::try_from(message_id).unwrap_or(i32::MAX),
        &rendered.parsed.entities,
        &rendered.parsed.text,
        reply_markup.as_ref(),
        true,
    ))
}
