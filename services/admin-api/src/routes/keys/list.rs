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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    #[serde(default)]
    include_revoked: bool,
}

pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Params(query): Params<Query>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = state.store.list_api_keys(query.include_revoked).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}
