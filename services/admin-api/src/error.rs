//! admin-api's one error type: every refusal answers `{"error": {"code", "message",
//! "details"}}`, and a 500 says nothing about what went wrong inside (that is logged once,
//! here).

use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_auth::AuthError;
use herald_domain::FieldProblem;
use herald_runtime::ErrorBody;
use herald_runtime::telemetry::{ErrorKind, count_error};
use herald_store::StoreError;

/// Everything an admin-api route can answer other than success.
#[derive(Debug)]
pub enum ApiError {
    /// 400: a malformed id, query or body; `code` says which.
    BadRequest {
        /// `malformed_id`, `bad_query`, `malformed_json`.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 404: no such thing.
    NotFound(String),
    /// 415: a body that is not JSON.
    UnsupportedMediaType(String),
    /// 422: a well-formed body that breaks rules; `details` names each field.
    Invalid {
        /// What is wrong, in one line.
        message: String,
        /// Per-field problems.
        details: Option<serde_json::Value>,
    },
    /// 401, 403, 429 or 503 from authentication.
    Auth(AuthError),
    /// 429: too many tries; try again after the wait.
    TooMany {
        /// What was limited.
        message: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// 503: a dependency is down.
    Unavailable(String),
    /// 500: a bug or an unexpected failure; logged, never shown. Counted in
    /// `herald_errors_total` as `database` when a [`StoreError`] is behind it, else
    /// `internal`.
    Internal(anyhow::Error),
}

/// The kind of failure behind `e`, for `herald_errors_total`.
pub(crate) fn error_kind(e: &anyhow::Error) -> ErrorKind {
    if e.chain().any(|cause| cause.is::<StoreError>()) {
        ErrorKind::Database
    } else {
        ErrorKind::Internal
    }
}

impl ApiError {
    /// 400 `malformed_id`.
    pub fn malformed_id(what: &str, raw: &str) -> Self {
        Self::BadRequest {
            code: "malformed_id",
            message: format!("{raw:?} is not a {what} id: expected a UUID"),
        }
    }

    /// 400 `bad_query`.
    pub fn bad_query(message: impl Into<String>) -> Self {
        Self::BadRequest {
            code: "bad_query",
            message: message.into(),
        }
    }

    /// 422 `invalid` naming every problem of `what` (`the destination`, `the query`): one line
    /// listing them all, and one `{"field", "message"}` each in `details`.
    pub fn problems(what: &str, problems: &[FieldProblem]) -> Self {
        Self::Invalid {
            message: format!(
                "{what} has {} problem{}: {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems
                    .iter()
                    .map(|p| format!("{} {}", p.field, p.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            details: serde_json::to_value(problems).ok(),
        }
    }
}

impl From<StoreError> for ApiError {
    /// The database out of reach is 503 (try again); anything else it says is a 500.
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Database(
                sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_),
            )
            | StoreError::Connect { .. } => {
                tracing::warn!(error = %e, "the database is out of reach");
                count_error(crate::SERVICE, ErrorKind::Database);
                Self::Unavailable("the database cannot be reached right now; try again".into())
            }
            _ => Self::Internal(e.into()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        Self::bad_query(e.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        match e {
            JsonRejection::MissingJsonContentType(_) => {
                Self::UnsupportedMediaType("Content-Type must be application/json".into())
            }
            JsonRejection::JsonDataError(e) => Self::Invalid {
                message: e.body_text(),
                details: None,
            },
            other => Self::BadRequest {
                code: "malformed_json",
                message: other.body_text(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::BadRequest { code, message } => {
                ErrorBody::response(StatusCode::BAD_REQUEST, code, message, None)
            }
            Self::NotFound(message) => {
                ErrorBody::response(StatusCode::NOT_FOUND, "not_found", message, None)
            }
            Self::UnsupportedMediaType(message) => ErrorBody::response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message,
                None,
            ),
            Self::Invalid { message, details } => ErrorBody::response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                message,
                details,
            ),
            Self::Auth(e) => e.into_response(),
            Self::TooMany {
                message,
                retry_after,
            } => {
                let mut response = ErrorBody::response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    message,
                    None,
                );
                let secs = retry_after.as_secs().max(1).to_string();
                if let Ok(value) = HeaderValue::from_str(&secs) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            Self::Unavailable(message) => ErrorBody::response(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message,
                None,
            ),
            Self::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                let mut response = ErrorBody::response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on our side; it has been logged",
                    None,
                );
                // Counted in herald_errors_total by the request counter.
                response.extensions_mut().insert(error_kind(&e));
                response
            }
        }
    }
}
