//! Inline keyboard button presses: the trader's `callback_query` updates and the bot's
//! `answerCallbackQuery`, which Telegram accepts once per query.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::api::{Params, Reply};
use super::messages;
use super::model::{CallbackAnswer, Press, TestUser};
use super::state::{Shared, unix_now, user_json};

/// Telegram's answer to an unknown, expired or already answered callback query.
const QUERY_INVALID: &str = "query is too old and response timeout expired or query ID is invalid";

/// Numbers the callback queries of every double in the process, so that no two share an id.
static NEXT_QUERY: AtomicU64 = AtomicU64::new(1);

/// How the pressed message appears in the callback query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pressed {
    /// As the bot last left it if the double recorded it, else a bare message (id, chat,
    /// date, sender).
    Current,
    /// As an `InaccessibleMessage` (`"date": 0`), as Telegram sends messages older than 48
    /// hours.
    Inaccessible,
}

/// A global id for the chat `chat_id`, stable for the process (Telegram's `chat_instance`).
fn chat_instance(chat_id: i64) -> String {
    // Any fixed odd multiplier mixes the id into a stable, opaque-looking number.
    chat_id.wrapping_mul(-7_046_029_254_386_353_131).to_string()
}

impl Shared {
    /// Queues a `callback_query` from `from` pressing a button with `data` under the message
    /// `message_id` of `chat_id`.
    pub fn press(
        &self,
        from: &TestUser,
        chat_id: i64,
        message_id: i32,
        data: &str,
        pressed: Pressed,
    ) -> Press {
        let query_id = NEXT_QUERY.fetch_add(1, Ordering::Relaxed);
        // Telegram's ids are long decimal strings.
        let query_id = format!("{}{query_id:09}", 4_382_117u64);
        let update_id = self.inject(|state| {
            state.users.insert(from.id, from.clone());
            let message = match pressed {
                Pressed::Current => {
                    messages::recorded_message_json(self, state, chat_id, message_id)
                        .unwrap_or_else(|| {
                            json!({
                                "message_id": message_id,
                                "from": self.bot_user_json(),
                                "chat": state.chat_json(chat_id),
                                "date": unix_now(),
                            })
                        })
                }
                Pressed::Inaccessible => json!({
                    "message_id": message_id,
                    "chat": state.chat_json(chat_id),
                    "date": 0,
                }),
            };
            let query = json!({
                "id": query_id,
                "from": user_json(from),
                "message": message,
                "chat_instance": chat_instance(chat_id),
                "data": data,
            });
            state.open_queries.insert(query_id.clone());
            state.queue(Some(chat_id), "callback_query", query)
        });
        Press {
            update_id,
            query_id,
        }
    }
}

/// `answerCallbackQuery`: accepted once per injected query, recorded; anything else is
/// Telegram's 400.
pub(crate) fn answer_callback_query(shared: &Shared, params: &Params) -> Reply {
    let query_id = params.string("callback_query_id").unwrap_or_default();
    {
        let mut state = shared.lock();
        if !state.open_queries.remove(&query_id) {
            return Reply::bad_request(QUERY_INVALID);
        }
        state.callback_answers.push(CallbackAnswer {
            callback_query_id: query_id,
            text: params.string("text").filter(|t| !t.is_empty()),
            show_alert: params.flag("show_alert"),
        });
    }
    shared.notify_changed();
    Reply::ok(Value::Bool(true))
}
