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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Only this actor (`user:<id>`, `telegram:<id>`, `key:<id>`, `cli`, `anonymous`).
    actor: Option<String>,
    /// Only this action, or a family of them when it ends with `.` (`auth.`).
    action: Option<String>,
    /// At or after (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// 1 to 200; 50 when absent.
    limit: Option<u64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// The audit log, newest first, a page at a time.
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(Query),
    security(("staff" = [])),
    responses(
        (status = 200, description = "a page of audit events", body = crate::views::AuditPage),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
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
        AuditView::from,
    )))
}
