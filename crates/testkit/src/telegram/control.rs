//! The control surface over HTTP, under `/_double/`, for tools and for tests whose bot runs in
//! another process: inject a trader's message or a change of the bot's membership, read what
//! was sent, script faults, register groups, forums and channels, create forum topics, and
//! delete or age messages.
//!
//! | Route | Does |
//! |---|---|
//! | `POST /_double/updates` `{"from": TestUser, "text": …}` | [`super::TelegramDouble::inject_message`] → `{"update_id": N}` |
//! | `GET /_double/sent[?chat_id=N]` | [`super::TelegramDouble::sent`] / [`super::TelegramDouble::sent_to`] |
//! | `POST /_double/faults` `{"chat_id", "faults": [Fault], "persistent"}` | [`super::TelegramDouble::script_faults`] / [`super::TelegramDouble::set_fault`] |
//! | `DELETE /_double/faults/{chat_id}` | [`super::TelegramDouble::clear_faults`] |
//! | `POST /_double/chats` `TestChat` | [`super::TelegramDouble::add_chat`] |
//! | `POST /_double/topics` `{"chat": TestChat, "name": …}` | [`super::TelegramDouble::create_topic`] → `{"message_thread_id": N}` |
//! | `POST /_double/my_chat_member` `{"chat": TestChat, "from": TestUser, "old_status": …, "new_status": …}` | [`super::TelegramDouble::inject_my_chat_member`] → `{"update_id": N}` |
//! | `DELETE /_double/messages/{chat_id}/{message_id}` | [`super::TelegramDouble::delete_message`]: 204, or 404 if there is no such message |
//! | `POST /_double/messages/{chat_id}/{message_id}/age` | [`super::TelegramDouble::age_message`]: 204, or 404 if there is no such message |
//!
//! Errors are `{"error": "…"}` with a 4xx status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::model::{Fault, MemberStatus, TestChat, TestUser};
use super::state::Shared;

/// `POST /_double/updates` body.
#[derive(Debug, Deserialize)]
pub(crate) struct InjectRequest {
    from: TestUser,
    text: String,
}

/// `POST /_double/updates` → `{"update_id": N}`.
pub(crate) async fn inject(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<InjectRequest>,
) -> Response {
    let update_id = shared.inject_message(&request.from, &request.text);
    Json(json!({ "update_id": update_id })).into_response()
}

/// `GET /_double/sent` query.
#[derive(Debug, Deserialize)]
pub(crate) struct SentQuery {
    chat_id: Option<i64>,
}

/// `GET /_double/sent[?chat_id=N]` → the accepted messages, oldest first.
pub(crate) async fn sent(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<SentQuery>,
) -> Response {
    let messages = match query.chat_id {
        Some(chat_id) => super::sent_to(&shared, chat_id),
        None => super::sent_all(&shared),
    };
    Json(messages).into_response()
}

/// `POST /_double/faults` body.
#[derive(Debug, Deserialize)]
pub(crate) struct FaultsRequest {
    chat_id: i64,
    faults: Vec<Fault>,
    #[serde(default)]
    persistent: bool,
}

/// `POST /_double/faults`: queue one-shot faults, or (`persistent: true`, exactly one fault)
/// set a fault that stays until cleared.
pub(crate) async fn faults(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<FaultsRequest>,
) -> Response {
    let mut state = shared.lock();
    let chat = state.chats.entry(request.chat_id).or_default();
    if request.persistent {
        let [fault] = request.faults.as_slice() else {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": "a persistent fault takes exactly one fault in `faults`" })),
            )
                .into_response();
        };
        chat.persistent = Some(*fault);
    } else {
        chat.scripted.extend(request.faults);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /_double/faults/{chat_id}`: clears scripted and persistent faults of a chat.
pub(crate) async fn clear_faults(
    State(shared): State<Arc<Shared>>,
    Path(chat_id): Path<i64>,
) -> Response {
    if let Some(chat) = shared.lock().chats.get_mut(&chat_id) {
        chat.scripted.clear();
        chat.persistent = None;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_double/chats` (body: a `TestChat`): tells the double of a group, forum or channel.
pub(crate) async fn add_chat(
    State(shared): State<Arc<Shared>>,
    Json(chat): Json<TestChat>,
) -> Response {
    shared.add_chat(&chat);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /_double/topics` body.
#[derive(Debug, Deserialize)]
pub(crate) struct TopicRequest {
    chat: TestChat,
    name: String,
}

/// `POST /_double/topics` → `{"message_thread_id": N}`: creates a topic in a forum.
pub(crate) async fn create_topic(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<TopicRequest>,
) -> Response {
    let thread_id = shared.create_topic(&request.chat, &request.name);
    Json(json!({ "message_thread_id": thread_id })).into_response()
}

/// `POST /_double/my_chat_member` body (statuses as Telegram writes them: `"left"`,
/// `"member"`, `"administrator"`, `"restricted"`, `"kicked"`).
#[derive(Debug, Deserialize)]
pub(crate) struct MyChatMemberRequest {
    chat: TestChat,
    from: TestUser,
    old_status: MemberStatus,
    new_status: MemberStatus,
}

/// `POST /_double/my_chat_member` → `{"update_id": N}`: queues a change of the bot's status.
pub(crate) async fn my_chat_member(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<MyChatMemberRequest>,
) -> Response {
    let update_id = shared.inject_my_chat_member(
        &request.chat,
        &request.from,
        request.old_status,
        request.new_status,
    );
    Json(json!({ "update_id": update_id })).into_response()
}

/// `DELETE /_double/messages/{chat_id}/{message_id}`: the trader deletes a message.
pub(crate) async fn delete_message(
    State(shared): State<Arc<Shared>>,
    Path((chat_id, message_id)): Path<(i64, i32)>,
) -> Response {
    let deleted = shared.lock().delete_message(chat_id, message_id);
    shared.notify_changed();
    no_content_or_not_found(deleted, chat_id, message_id)
}

/// `POST /_double/messages/{chat_id}/{message_id}/age`: makes a message too old to edit.
pub(crate) async fn age_message(
    State(shared): State<Arc<Shared>>,
    Path((chat_id, message_id)): Path<(i64, i32)>,
) -> Response {
    let aged = shared.lock().age_message(chat_id, message_id);
    shared.notify_changed();
    no_content_or_not_found(aged, chat_id, message_id)
}

fn no_content_or_not_found(found: bool, chat_id: i64, message_id: i32) -> Response {
    if found {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "error": format!("chat {chat_id} has no message {message_id} (or it was deleted)")
            })),
        )
            .into_response()
    }
}
