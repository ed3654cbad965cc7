//! `POST /api/signals`: the handler, its metrics, and its part of the OpenAPI document (what
//! it answers, in `#[utoipa::path]`; see `openapi.rs` for the rest).

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
use utoipa::ToSchema;

use crate::openapi::{
    AcceptedAnswer, BadRequestAnswer, DuplicateAnswer, ForbiddenAnswer, InternalAnswer,
    InvalidAnswer, MediaTypeAnswer, RateLimitedAnswer, SignalBody, TooLargeAnswer,
    UnauthorizedAnswer, UnavailableAnswer, request_body_description,
};
use crate::{ApiError, AppState};

/// The success body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Accepted {
    /// The signal's id, as sent or as assigned.
    #[schema(format = Uuid)]
    id: String,
    /// What became of the signal.
    #[schema(inline)]
    status: Outcome,
}

/// `accepted`: stored now; `duplicate`: a signal with this id was accepted before.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Accepted,
    Duplicate,
}

/// Submit one trading signal.
///
/// Checks, in this order: the API key (401, 403, 429), the Content-Type (415), the body size
/// (413), the JSON (400), the signal's rules (422, listing every problem at once) and its
/// freshness (422 with a `stale` detail). An accepted signal is published on NATS with its
/// `id` as `Nats-Msg-Id`, and the answer comes only once JetStream has stored it.
///
/// Every signal has a deadline: its `valid_until` when the engine sets one; otherwise one bar
/// of its `timeframe` after `generated_at` (a 1H signal is stale an hour after it was
/// generated, a 15m one after 15 minutes, 1D after a day, 1W after a week); otherwise (closes
/// and alerts without a timeframe) `HERALD_SIGNAL_TTL_SECS` (default 900) seconds after
/// `generated_at`. A signal that arrives at or after its deadline would reach traders too late
/// and is refused; a delivery not sent by then is never sent.
///
/// Retrying is safe: send the same `id` again and the signal is delivered once. A signal
/// without an `id` gets one derived from its content (returned in the answer), so the same
/// body sent again is recognised too; a signal changed in any way is a new one: set `id` when
/// you may retry.
#[utoipa::path(
    post,
    path = "/api/signals",
    tag = "signals",
    operation_id = "postSignal",
    security(("apiKey" = [])),
    request_body(
        description = request_body_description(),
        content = SignalBody,
        content_type = "application/json",
        extensions(("x-parser-only-rules" = json!(herald_domain::wire::PARSER_ONLY_RULES))),
        examples(
            ("buy" = (summary = "The product spec's example buy signal.", value = json!({
                "id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90",
                "kind": "buy",
                "asset": "BTC/USD",
                "entry_price": "45250",
                "target_price": "46500",
                "stop_loss": "44500",
                "timeframe": "1H",
                "confidence": 85,
                "generated_at": "2023-06-15T14:30:45Z",
                "notes": [
                    "Strong bullish momentum detected",
                    "Breaking above key resistance level",
                    "Increasing volume supporting the move"
                ]
            }))),
            ("buy_with_deadline" = (
                summary = "A 4H buy the engine wants sent only within the next 20 minutes.",
                value = json!({
                    "kind": "buy",
                    "asset": "ETH/USD",
                    "entry_price": "3120.5",
                    "target_price": "3240",
                    "stop_loss": "3050",
                    "timeframe": "4H",
                    "confidence": 72,
                    "generated_at": "2026-11-30T09:40:00Z",
                    "valid_until": "2026-11-30T10:00:00Z"
                }),
            )),
            ("close" = (summary = "A close signal naming the position it closes.", value = json!({
                "kind": "close",
                "asset": "BTC/USD",
                "entry_price": "46400",
                "confidence": 90,
                "generated_at": "2023-06-15T18:02:10Z",
                "closes_signal_id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90"
            }))),
        ),
    ),
    responses(
        (
            status = 202,
            description = "Stored on the bus; it will be delivered.",
            body = inline(AcceptedAnswer),
            example = json!({"id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90", "status": "accepted"}),
        ),
        (
            status = 200,
            description = "A signal with this `id` was already accepted; it is delivered once. \
                           Nothing else happened.",
            body = inline(DuplicateAnswer),
            example = json!({"id": "0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90", "status": "duplicate"}),
        ),
        (
            status = 400,
            description = "`malformed_json`: the body is not a JSON object (a syntax error, an \
                           empty body, an array…). `bad_body`: the body could not be read.",
            body = inline(BadRequestAnswer),
            example = json!({"error": {
                "code": "malformed_json",
                "message": "invalid JSON: EOF while parsing a value at line 1 column 9"
            }}),
        ),
        (
            status = 401,
            description = "`unauthorized`: the `X-API-Key` header is missing, or the key is \
                           unknown or revoked.",
            body = inline(UnauthorizedAnswer),
            example = json!({"error": {
                "code": "unauthorized",
                "message": "missing X-API-Key header"
            }}),
        ),
        (
            status = 403,
            description = "`forbidden`: the key lacks the scope `signals:write`, or is used from \
                           an address outside its allow-list.",
            body = inline(ForbiddenAnswer),
            example = json!({"error": {
                "code": "forbidden",
                "message": "this key lacks the scope signals:write"
            }}),
        ),
        (
            status = 413,
            description = "`body_too_large`: the body is over `HERALD_INGEST_MAX_BODY_BYTES`.",
            body = inline(TooLargeAnswer),
            example = json!({"error": {
                "code": "body_too_large",
                "message": "the body is larger than the limit of 65536 bytes"
            }}),
        ),
        (
            status = 415,
            description = "`unsupported_media_type`: a `Content-Type` other than JSON.",
            body = inline(MediaTypeAnswer),
            example = json!({"error": {
                "code": "unsupported_media_type",
                "message": "Content-Type must be application/json, got \"text/plain\""
            }}),
        ),
        (
            status = 422,
            description = "`invalid_signal`: a JSON object that breaks one or more rules. \
                `details` lists every problem, one per field, so the Signal Engine can fix them \
                all at once. For a signal the request schema allows, the details are only those \
                of `x-parser-only-rules` (see the request body).\n\n\
                A valid signal already past its deadline is answered the same way, with one \
                detail of code `stale` naming `valid_until` (when the engine set the deadline) \
                or `generated_at` (when the timeframe or `HERALD_SIGNAL_TTL_SECS` did) and \
                saying when it expired. Sending it again will not help; a re-sent signal that \
                was accepted while it was fresh is still answered `200 duplicate`.\n\n\
                A close that names the position it ends (`closes_signal_id`) is refused the \
                same way when it cannot end it: no such signal was accepted \
                (`unknown_signal`; a close posted right after its signal waits up to 2 s for \
                it, and is passed on to be judged by the dispatcher while signals accepted \
                before it are still being stored), that signal is not a buy or a sell (`not_a_position`), it is for another \
                asset (`asset_mismatch`, on `asset`), another close ended it already \
                (`already_closed`), or the close was generated before it (`out_of_order`, on \
                `generated_at`).",
            body = inline(InvalidAnswer),
            examples(
                ("invalid" = (summary = "Two rules broken at once.", value = json!({"error": {
                    "code": "invalid_signal",
                    "message": "the signal has 2 problems: stop_loss must be below entry_price \
                                (45250) for a buy signal, got 45300; confidence must be between \
                                0 and 100, got 120",
                    "details": [
                        {"field": "stop_loss", "code": "price_order",
                         "message": "must be below entry_price (45250) for a buy signal, \
                                     got 45300"},
                        {"field": "confidence", "code": "out_of_range",
                         "message": "must be between 0 and 100, got 120"}
                    ]
                }}))),
                ("already_closed" = (
                    summary = "A second close of a position another close has ended.",
                    value = json!({"error": {
                        "code": "invalid_signal",
                        "message": "the signal has 1 problem: closes_signal_id names a position \
                                    already closed by signal \
                                    0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a91 \
                                    (0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90)",
                        "details": [{
                            "field": "closes_signal_id",
                            "code": "already_closed",
                            "message": "names a position already closed by signal \
                                        0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a91 \
                                        (0189c3a2-7b1e-7d3f-9a4c-2f5e8d1b6a90)"
                        }]
                    }}),
                )),
                ("stale" = (
                    summary = "A 1H signal generated at 09:00 that arrived after 10:00.",
                    value = json!({"error": {
                        "code": "invalid_signal",
                        "message": "the signal has 1 problem: generated_at expired at \
                                    2026-11-30T10:00:00Z, one 1H bar after generated_at; received \
                                    at 2026-11-30T10:02:13Z, it would reach traders too late",
                        "details": [{
                            "field": "generated_at",
                            "code": "stale",
                            "message": "expired at 2026-11-30T10:00:00Z, one 1H bar after \
                                        generated_at; received at 2026-11-30T10:02:13Z, it would \
                                        reach traders too late"
                        }]
                    }}),
                )),
            ),
        ),
        (
            status = 429,
            description = "`rate_limited`: the key is over its rate limit (requests per second, \
                           counted by each replica); `Retry-After` says when to try again.",
            body = inline(RateLimitedAnswer),
            headers((
                "Retry-After" = u64,
                description = "Whole seconds to wait before the next request with this key."
            )),
            example = json!({"error": {
                "code": "rate_limited",
                "message": "this key may make 10 requests per second"
            }}),
        ),
        (
            status = 500,
            description = "`internal`: something failed on Herald's side; it is logged there, \
                           and the message says nothing more. The signal may or may not have \
                           been stored: retry later with the same `id`.",
            body = inline(InternalAnswer),
            example = json!({"error": {
                "code": "internal",
                "message": "something went wrong on our side; it has been logged"
            }}),
        ),
        (
            status = 503,
            description = "`unavailable`: NATS did not store the signal, or the API keys cannot \
                           be checked right now. Nothing was stored: retry later, with the same \
                           `id`.",
            body = inline(UnavailableAnswer),
            example = json!({"error": {
                "code": "unavailable",
                "message": "the message bus did not store the signal; the signal may not have \
                            been stored: retry later with the same id"
            }}),
        ),
    ),
)]
pub(crate) async fn post_signal(
    State(state): State<AppState>,
    key: Result<ApiKey<SignalsWrite>, AuthError>,
    request: Request,
) -> Response {
    // It takes the whole request rather than the `HeaderMap` extractor, which clones every
    // header; and it opens no tracing span: formatting a span's fields for the JSON log on
    // every request cost more than the few log lines in it are worth, so those lines name what
    // they are about themselves.
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
            let (status, label, outcome) = if duplicate {
                (StatusCode::OK, "duplicate", Outcome::Duplicate)
            } else {
                (StatusCode::ACCEPTED, "accepted", Outcome::Accepted)
            };
            let body = Accepted {
                id,
                status: outcome,
            };
            (label, (status, Json(body)).into_response())
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

/// Every outcome `POST /api/signals` counts (listed in the OpenAPI document's `/metrics`).
pub(crate) const OUTCOMES: [&str; 10] = [
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
    if signal.closes_signal_id.is_some() {
        judge_close_here(state, &signal).await?;
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

/// How long a close naming a signal that is not stored waits for it: a buy and its close
/// posted back to back may reach the dispatcher's store in either order.
const CLOSE_LOOKUP: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses a close that cannot end the position it names (the rules of
/// [`herald_domain::judge_close`]). A position that is not stored is refused as unknown only
/// once the dispatchers have nothing in hand (no signal accepted but not yet stored: the
/// position cannot be on its way); otherwise, and while the database or NATS cannot answer,
/// the close goes on unjudged and the dispatcher judges it (dead-lettering it if it must).
async fn judge_close_here(state: &AppState, close: &herald_domain::Signal) -> Result<(), ApiError> {
    let Some(named) = close.closes_signal_id else {
        return Ok(());
    };
    if state.keys.store_reach() != StoreReach::Reachable {
        return Ok(());
    }
    let limit = state.keys.policy().lookup_timeout;
    let started = Instant::now();
    let position = loop {
        match tokio::time::timeout(limit, state.store.position(named)).await {
            Ok(Ok(herald_domain::Position::Unknown)) if started.elapsed() < CLOSE_LOOKUP => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(Ok(position)) => break position,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not look up the position a close ends");
                return Ok(());
            }
            Err(_) => {
                tracing::warn!("could not look up the position a close ends in time");
                return Ok(());
            }
        }
    };
    if position == herald_domain::Position::Unknown {
        match tokio::time::timeout(limit, state.bus.signals_in_flight()).await {
            Ok(Ok(Some(0))) => {}
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not ask how many signals are in flight");
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
    }
    herald_domain::judge_close(close, &position)
        .map(|_| ())
        .map_err(ApiError::Rejected)
}
