//! `GET /api/signals/{id}/deliveries`: one signal's per-trader delivery records, in creation
//! order, a page at a time, optionally of one status.

use axum::Json;
use axum::extract::State;
use herald_auth::Staff;
use herald_domain::{DeliveryStatus, SignalId};
use serde::Deserialize;

use crate::extract::{IdPath, Page, PageQuery, Params};
use crate::views::DeliveryView;
use crate::{ApiError, AppState};

/// `?status=&limit=&cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Only deliveries in this state (`pending`, `sending`, `sent`, `failed`, `blocked`,
    /// `expired`, `unknown`, `skipped`).
    status: Option<String>,
    /// 1 to 200; 50 when absent.
    limit: Option<u64>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

/// One signal's delivery records, one per trader, in creation order, a page at a time.
#[utoipa::path(get, path = "/api/signals/{id}/deliveries", tag = "signals",
    params(("id" = uuid::Uuid, Path, description = "the signal's id"), Query),
    security(("staff" = [])),
    responses(
        (status = 200, description = "a page of deliveries", body = crate::views::DeliveryPage),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 404, description = "no such thing (`not_found`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    _staff: Staff,
    IdPath(id): IdPath,
    Params(query): Params<Query>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<DeliveryStatus>())
        .transpose()
        .map_err(ApiError::bad_query)?;
    if !state.store.signal_exists(SignalId(id)).await? {
        return Err(ApiError::NotFound(format!("no signal with id {id}")));
    }
    let rows = state
        .store
        .deliveries_page(SignalId(id), status, page.id_cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |d| d.id.to_string(),
        DeliveryView::from,
    )))
}
