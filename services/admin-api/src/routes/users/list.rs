//! `GET /api/users`: users in registration order, a page at a time, filtered.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use herald_auth::Staff;
use herald_store::UserFilter;
use serde::Deserialize;

use crate::extract::{Page, PageQuery, Params};
use crate::views::UserView;
use crate::{ApiError, AppState};

/// `?active=&subscribed=&tier=&admin=&q=&limit=&cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Only users who have (`true`) or have not (`false`) blocked the bot.
    active: Option<bool>,
    /// Only users with (`true`) or without (`false`) a current signals subscription.
    subscribed: Option<bool>,
    /// Only users on this tier (users without one are on the default tier).
    tier: Option<String>,
    /// Only admins (`true`) or only others (`false`).
    admin: Option<bool>,
    /// Text in the username, first or last name, in any case.
    q: Option<String>,
    /// 1 to 200; 50 when absent.
    limit: Option<u64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// List users in registration order, a page at a time.
#[utoipa::path(get, path = "/api/users", tag = "users", params(Query),
    security(("staff" = [])),
    responses(
        (status = 200, description = "a page of users", body = crate::views::UserPage),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn list(
    State(state): State<AppState>,
    _staff: Staff,
    Params(query): Params<Query>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = UserFilter {
        active: query.active,
        subscribed: query.subscribed,
        tier: query.tier,
        admin: query.admin,
        search: query.q,
    };
    let rows = state
        .store
        .users_page(&filter, page.id_cursor()?, limit + 1, Utc::now())
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |u| u.user.id.to_string(),
        UserView::from,
    )))
}
