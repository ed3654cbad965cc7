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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

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
