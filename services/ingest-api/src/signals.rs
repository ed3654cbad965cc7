//! `POST /api/signals`.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_auth::{ApiKey, AuthError, SignalsWrite, StoreReach};
use herald_domain::{MAX_FUTURE_SKEW, SignalId, check_fresh, parse_signal_or_id};
use serde::Serialize;

use crate::{ApiError, AppState};

/// The success body.
#[derive(Debug, Serialize)]
struct Accepted {
    id: String,
    status: &'static str,
}

/// The handler. It takes the whole request rather than the `HeaderMap` extractor, which
/// clones every header; and it opens no tracing span: formatting a span's fields for the JSON
/// log on every request cost more than the few log lines in it are worth, so those lines name
/// what they are about themselves.
pub(crate) async fn post_signal(
    State(state): State<AppState>,
    key: Result<ApiKey<SignalsWrite>, AuthError>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    // The body limit (`DefaultBodyLimit`) travels in the request's extensions, kept here.
    let body = Bytes::from_request(Request::from_parts(parts, body), &()).await;
    let accepted = match key {
        Ok(_) => accept(&state, &headers, body).await,
        Err(refused) => Err(ApiError::Auth(refused)),
    };
    let (outcome, response) = match accepted {
        Ok((id, duplicate)) => {
            let (status, label) = if duplicate {
                (StatusCode::OK, "duplicate")
            } else {
                (StatusCode::ACCEPTED, "accepted")
            };
            (
                label,
                (status, Json(Accepted { id, status: label })).into_response(),
            )
        }
        Err(e) => {
            let label = match &e {
                ApiError::Auth(refused) => match refused.status {
                    StatusCode::UNAUTHORIZED => "unauthorized",
                    StatusCode::FORBIDDEN => "forbidden",
                    StatusCode::TOO_MANY_REQUESTS => "rate_limited",
                    _ => "unavailable",
                },
                ApiError::TooLarge(_) => "too_large",
                ApiError::UnsupportedMediaType(_) | ApiError::BadBody(_) => "bad_request",
                ApiError::Rejected(_) => "invalid",
                ApiError::Stale(_) => "stale",
                ApiError::Unavailable(_) => "unavailable",
            };
            match &e {
                ApiError::Rejected(r) => tracing::info!(reason = %r, "signal rejected"),
                ApiError::Stale(r) => tracing::info!(reason = %r, "stale signal refused"),
                ApiError::Unavailable(what) => tracing::warn!(what, "signal not accepted"),
                other => tracing::info!(?other, "request refused"),
            }
            (label, e.into_response())
        }
    };
    state.meters.record(outcome, started.elapsed());
    response
}

/// Every outcome `POST /api/signals` counts.
const OUTCOMES: [&str; 10] = [
    "accepted",
    "duplicate",
    "unauthorized",
    "forbidden",
    "rate_limited",
    "too_large",
    "bad_request",
    "invalid",
    "stale",
    "unavailable",
];

/// The endpoint's metrics, registered once: looking a labelled metric up by name on every
/// request is measurable at tens of thousands of requests per second.
pub(crate) struct Meters {
    signals: [metrics::Counter; OUTCOMES.len()],
    duration: metrics::Histogram,
}

impl Meters {
    pub(crate) fn new() -> Self {
        // Handles bind to the recorder installed when they are made: make sure it is ours.
        let _ = herald_runtime::telemetry::prometheus();
        Self {
            signals: OUTCOMES
                .map(|o| metrics::counter!("herald_ingest_signals_total", "outcome" => o)),
            duration: metrics::histogram!("herald_ingest_request_duration_seconds"),
        }
    }

    fn record(&self, outcome: &str, took: std::time::Duration) {
        if let Some(i) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.signals[i].increment(1);
        }
        self.duration.record(took.as_secs_f64());
    }
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, bool), ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !(essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")) {
            return Err(ApiError::UnsupportedMediaType(ct.to_string()));
        }
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(state.max_body_bytes)
        } else {
            ApiError::BadBody(e.body_text())
        }
    })?;
    // A signal without an id gets one derived from its content, so that the engine's retry
    // of the same body is recognised as the same signal (on either path).
    let now = chrono::Utc::now();
    let signal = parse_signal_or_id(&body, now, || SignalId::from_content(&body))
        .map_err(ApiError::Rejected)?;
    let id = signal.id.to_string();
    if let Err(stale) = check_fresh(&signal, now, state.signal_ttl) {
        // Accepted while it was fresh and re-sent since (an engine retrying a lost answer):
        // it is the duplicate it was, not a refusal. Only stale signals — rare — are looked
        // up here.
        match state.store.signal_exists(signal.id).await {
            Ok(true) => return Ok((id, true)),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not check for a stored duplicate"),
        }
        return Err(ApiError::Stale(stale));
    }

    // A re-sent signal within JetStream's duplicate window is caught by its Nats-Msg-Id.
    // One re-sent later can only be a signal generated before the window (plus the clock
    // skew the parser allows); only those are looked up among the stored signals, so fresh
    // signals — nearly all of them — never touch the database here.
    let window = chrono::Duration::from_std(state.dedup_window).unwrap_or(chrono::Duration::MAX);
    let could_be_old_repost = signal.generated_at + window - MAX_FUTURE_SKEW <= chrono::Utc::now();
    // While the database is unreachable the check is skipped (and bounded in time when the
    // outage is not known yet): the dispatcher recognises a stored signal again anyway.
    if could_be_old_repost && state.keys.store_reach() == StoreReach::Reachable {
        let limit = state.keys.policy().lookup_timeout;
        match tokio::time::timeout(limit, state.store.signal_exists(signal.id)).await {
            Ok(Ok(true)) => return Ok((id, true)),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not check for a stored duplicate"),
            Err(_) => tracing::warn!(
                timeout_ms = limit.as_millis() as u64,
                "could not check for a stored duplicate in time"
            ),
        }
    }
    if !state.bus.is_connected() {
        return Err(ApiError::Unavailable("the message bus is unreachable"));
    }
    let outcome = state.bus.publish_signal(&signal).await.map_err(|e| {
        tracing::error!(error = %e, signal_id = %id, "publish failed");
        ApiError::Unavailable("the message bus did not store the signal")
    })?;
    Ok((id, outcome.duplicate))
}
