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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    status: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

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
