//! `GET /api/bot-chats`: the groups and channels the bot is or was in, as Telegram told
//! (`my_chat_member`): where a destination can be registered.

use axum::Json;
use axum::extract::State;
use herald_auth::Staff;

use crate::views::BotChatView;
use crate::{ApiError, AppState};

/// The groups and channels the bot is or was in, most recently changed first: their chat
/// ids for `POST /api/destinations`, and whether the bot can post there now.
#[utoipa::path(get, path = "/api/bot-chats", tag = "destinations",
    security(("staff" = [])),
    responses(
        (status = 200, description = "the chats, most recently changed first", body = Vec<BotChatView>),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn list(
    State(state): State<AppState>,
    _staff: Staff,
) -> Result<Json<Vec<BotChatView>>, ApiError> {
    let chats = state.store.bot_chats().await?;
    Ok(Json(chats.into_iter().map(BotChatView::from).collect()))
}
