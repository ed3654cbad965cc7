//! `GET /api/signals`: signals newest first, a page at a time.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_auth::Staff;
use herald_store::SignalCursor;

use crate::extract::{Page, PageQuery, Params};
use crate::views::SignalView;
use crate::{ApiError, AppState};

/// List signals, newest first, a page at a time.
#[utoipa::path(get, path = "/api/signals", tag = "signals", params(PageQuery),
    security(("staff" = [])),
    responses(
        (status = 200, description = "a page of signals", body = crate::views::SignalPage),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn list(
    State(state): State<AppState>,
    _staff: Staff,
    Params(page): Params<PageQuery>,
) -> Result<Json<Page<SignalView>>, ApiError> {
    let limit = page.limit()?;
    let cursor = page.cursor.as_deref().map(parse_cursor).transpose()?;
    let rows = state.store.signals_page(cursor, limit + 1).await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        // Nanoseconds: SQLite keeps them (JetStream's publish times have them), and a cursor
        // cut to microseconds would skip the rows between.
        |s| {
            format!(
                "{}_{}",
                s.received_at
                    .timestamp_nanos_opt()
                    .unwrap_or(s.received_at.timestamp_micros() * 1000),
                s.signal.id.0
            )
        },
        SignalView::from,
    )))
}

/// `<received_at in ns>_<id>`, as [`list`] writes it.
fn parse_cursor(raw: &str) -> Result<SignalCursor, ApiError> {
    let bad = || ApiError::bad_query(format!("cursor {raw:?} is not one we gave"));
    let (nanos, id) = raw.split_once('_').ok_or_else(bad)?;
    let received_at = nanos
        .parse::<i64>()
        .ok()
        .map(DateTime::<Utc>::from_timestamp_nanos)
        .ok_or_else(bad)?;
    Ok(SignalCursor {
        received_at,
        id: id.parse().map_err(|_| bad())?,
    })
}
