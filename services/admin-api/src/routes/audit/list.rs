//! `GET /api/audit`: the audit log, newest first, a page at a time, filtered by actor,
//! action (or a family of actions: `auth.`) and time.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_auth::Admin;
use herald_store::AuditFilter;
use serde::Deserialize;

use crate::extract::{Page, PageQuery, Params};
use crate::views::AuditView;
use crate::{ApiError, AppState};

/// `?actor=&action=&since=&until=&limit=&cursor=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    actor: Option<String>,
    action: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    limit: Option<u64>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Params(query): Params<Query>,
) -> Result<Json<Page<AuditView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        since: query.since,
        until: query.until,
    };
    let rows = state
        .store
        .audit_page(&filter, page.id_cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id.to_string(),
        |r| r,
    )))
}
