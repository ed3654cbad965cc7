//! ingest-api's one error type and its stable JSON answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_domain::Rejection;
use herald_runtime::ErrorBody;
use herald_runtime::telemetry::ErrorKind;

/// Everything `POST /api/signals` can answer other than success.
#[derive(Debug)]
pub enum ApiError {
    /// Refused by the API key checks: 401, 403, 429, or 503 when keys cannot be verified.
    Auth(herald_auth::AuthError),
    /// Body over the limit (413).
    TooLarge(usize),
    /// Not JSON content (415).
    UnsupportedMediaType(String),
    /// Could not read the body (400).
    BadBody(String),
    /// The payload is not a signal (400 or 422).
    Rejected(Rejection),
    /// A valid signal already past its deadline (422, as a rejection with a `stale` detail;
    /// apart from [`ApiError::Rejected`] only to be counted apart).
    Stale(Rejection),
    /// NATS is down; the signal may not be stored (503). (A key store that is down answers
    /// through [`ApiError::Auth`].)
    Unavailable(&'static str),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(refused) => refused.into_response(),
            Self::TooLarge(limit) => ErrorBody::response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than the limit of {limit} bytes"),
                None,
            ),
            Self::UnsupportedMediaType(got) => ErrorBody::response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("Content-Type must be application/json, got {got:?}"),
                None,
            ),
            Self::BadBody(why) => ErrorBody::response(
                StatusCode::BAD_REQUEST,
                "bad_body",
                format!("could not read the body: {why}"),
                None,
            ),
            Self::Stale(rejection) => Self::Rejected(rejection).into_response(),
            Self::Rejected(Rejection::Malformed(why)) => {
                ErrorBody::response(StatusCode::BAD_REQUEST, "malformed_json", why, None)
            }
            Self::Rejected(Rejection::Invalid(errors)) => {
                let message = format!(
                    "the signal has {} problem{}: {}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                    errors
                        .iter()
                        .map(|e| format!("{} {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                let details = serde_json::to_value(&errors).ok();
                ErrorBody::response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_signal",
                    message,
                    details,
                )
            }
            Self::Unavailable(what) => {
                let mut response = ErrorBody::response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!(
                        "{what}; the signal may not have been stored: retry later with the same id"
                    ),
                    None,
                );
                // Counted in herald_errors_total by the request counter.
                response.extensions_mut().insert(ErrorKind::Nats);
                response
            }
        }
    }
}
