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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    active: Option<bool>,
    subscribed: Option<bool>,
    tier: Option<String>,
    admin: Option<bool>,
    /// Text in the username, first or last name, in any case.
    q: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

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
