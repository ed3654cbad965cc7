//! `GET /api/destinations`: the registered destinations, oldest first; removed ones too with
//! `?all=true`.

use axum::Json;
use axum::extract::State;
use herald_auth::Staff;
use serde::Deserialize;

use crate::extract::Params;
use crate::views::DestinationView;
use crate::{ApiError, AppState};

/// `?all=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Also list removed destinations.
    #[serde(default)]
    all: bool,
}

/// The destinations, oldest first: each one's filters, format and language, whether signals
/// go there now and, when not, why.
#[utoipa::path(get, path = "/api/destinations", tag = "destinations", params(Query),
    security(("staff" = [])),
    responses(
        (status = 200, description = "the destinations, oldest first", body = Vec<DestinationView>),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn list(
    State(state): State<AppState>,
    _staff: Staff,
    Params(query): Params<Query>,
) -> Result<Json<Vec<DestinationView>>, ApiError> {
    let listed = state.store.destinations(query.all).await?;
    Ok(Json(listed.into_iter().map(DestinationView::new).collect()))
}
