//! `GET /api/stats?from=&to=`: the statistics of a window (the last 24 hours by default):
//! users, signals by kind, deliveries by status, success rate, latency, errors. Staff, or a
//! program with an API key of scope `stats:read`.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use herald_auth::{Reader, StatsRead};
use serde::Deserialize;

use crate::extract::Params;
use crate::views::StatsView;
use crate::{ApiError, AppState};

/// `?from=&to=`, RFC 3339.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The window's start (RFC 3339); 24 hours before `to` when absent.
    from: Option<DateTime<Utc>>,
    /// The window's end (RFC 3339, exclusive); now when absent.
    to: Option<DateTime<Utc>>,
}

/// A window's statistics: users, signals by kind, deliveries by status, the success rate,
/// signal → sent latency (p50, p95) and errors. Staff, or an API key with `stats:read`.
#[utoipa::path(get, path = "/api/stats", tag = "stats", params(Query),
    security(("staff" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "the window's figures", body = StatsView),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 429, description = "too many tries (`rate_limited`); `Retry-After` says when to come back", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn show(
    State(state): State<AppState>,
    _reader: Reader<StatsRead>,
    Params(query): Params<Query>,
) -> Result<Json<StatsView>, ApiError> {
    let now = Utc::now();
    let to = query.to.unwrap_or(now);
    let from = query.from.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ApiError::bad_query(format!(
            "from ({from}) must be before to ({to})"
        )));
    }
    let stats = state.store.stats(from, to, now).await?;
    Ok(Json(StatsView::new(from, to, stats)))
}
