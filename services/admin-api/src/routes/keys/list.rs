//! `GET /api/keys`: every API key, never with its secret; revoked ones with
//! `?include_revoked=true`.

use axum::Json;
use axum::extract::State;
use herald_auth::Admin;
use serde::Deserialize;

use crate::extract::Params;
use crate::views::KeyView;
use crate::{ApiError, AppState};

/// `?include_revoked=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Also list revoked keys.
    #[serde(default)]
    include_revoked: bool,
}

/// Every API key, never with its secret.
#[utoipa::path(get, path = "/api/keys", tag = "keys", params(Query),
    security(("staff" = [])),
    responses(
        (status = 200, description = "the keys, oldest first", body = Vec<KeyView>),
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
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = state.store.list_api_keys(query.include_revoked).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}
