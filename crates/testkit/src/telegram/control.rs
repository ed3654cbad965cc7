//! The control surface over HTTP, under `/_double/`, for tools and for tests whose bot runs in
//! another process: inject a trader's message, read what was sent, script faults.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::model::{Fault, TestUser};
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
