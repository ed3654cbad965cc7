//! `POST /api/destinations`: registers a channel, group or forum topic that signals go to,
//! with its own filters, format and language. Every field is checked with the domain's own
//! parsers and every problem named; a chat (and topic) already registered is refused.
//! Audited as `destination.add`.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use herald_auth::Admin;
use herald_domain::{Asset, FieldProblem, Language, MAX_ASSETS, SignalFormat, SignalKind};
use herald_store::{AuditEvent, Destination, NewDestination, StoreError};
use sea_orm::SqlErr;
use serde::Deserialize;

use crate::extract::Body;
use crate::views::DestinationView;
use crate::{ApiError, AppState};

/// The longest destination name.
const MAX_NAME: usize = 100;

/// The request. Fields are read loosely and checked one by one, so that every problem is
/// named in `details`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDestination {
    /// The group's or channel's chat id: negative, e.g. `-1001234567890` (`GET
    /// /api/bot-chats` lists the chats the bot is in).
    #[schema(required = true, examples(-1001234567890_i64))]
    chat_id: Option<i64>,
    /// A forum topic's id (`message_thread_id`); absent for the whole chat.
    thread_id: Option<i64>,
    /// A name to recognise it by, 1–100 characters (no control characters).
    #[schema(required = true, examples("VIP channel"))]
    name: Option<String>,
    /// The kinds of signal it gets: at least one of `buy`, `sell`, `close`, `alert`.
    #[schema(required = true)]
    kinds: Option<Vec<String>>,
    /// The assets it gets (`BTC/USD`), at most 50; absent or empty: every asset.
    assets: Option<Vec<String>>,
    /// 0–100: signals under this confidence are not sent there; 0 when absent.
    min_confidence: Option<i64>,
    /// `detailed` (when absent) or `compact`.
    format: Option<String>,
    /// `en` (when absent) or `es`.
    language: Option<String>,
}

/// Register a destination: a channel, group or forum topic signals go to, with its own
/// kinds, assets, minimum confidence, format and language. Every field is checked and each
/// problem named in `details`; a chat (and topic) already registered is refused (`422`,
/// field `chat_id`). Audited as `destination.add`.
#[utoipa::path(post, path = "/api/destinations", tag = "destinations",
    request_body = CreateDestination,
    security(("staff" = [])),
    responses(
        (status = 201, description = "the destination as stored", body = DestinationView),
        (status = 400, description = "a malformed query, id or body (`bad_query`, `malformed_id`, `malformed_json`)", body = herald_runtime::ErrorBody),
        (status = 401, description = "no valid staff token (`unauthorized`)", body = herald_runtime::ErrorBody),
        (status = 403, description = "a viewer where the admin role is needed, or a key without the scope or outside its allow-list (`forbidden`)", body = herald_runtime::ErrorBody),
        (status = 415, description = "a body that is not JSON (`unsupported_media_type`)", body = herald_runtime::ErrorBody),
        (status = 422, description = "a body that breaks rules, or a chat (and topic) already registered; `details` names each field (`invalid`)", body = herald_runtime::ErrorBody),
        (status = 503, description = "a dependency is down (`unavailable`)", body = herald_runtime::ErrorBody),
        (status = 500, description = "something failed inside; logged, never shown (`internal`)", body = herald_runtime::ErrorBody)
    ))]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Body(request): Body<CreateDestination>,
) -> Result<(StatusCode, Json<DestinationView>), ApiError> {
    // As the store's doc asks: `staff:<telegram id>`.
    let created_by = match state.store.user(admin.user_id).await? {
        Some(user) => format!("staff:{}", user.telegram_id),
        None => admin.actor(),
    };
    let new = read(request, created_by).map_err(|p| ApiError::problems("the destination", &p))?;
    if let Some(taken) = state
        .store
        .destinations(false)
        .await?
        .into_iter()
        .find(|d| d.chat_id == new.chat_id && d.thread_id == new.thread_id)
    {
        return Err(taken_error(&new, Some(&taken)));
    }
    let stored = match state.store.add_destination(&new, Utc::now()).await {
        Ok(stored) => stored,
        // Registered meanwhile by another request (the unique index), or refused by the
        // store's own checks.
        Err(StoreError::Database(e))
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
        {
            return Err(taken_error(&new, None));
        }
        Err(StoreError::Invalid(message)) => {
            return Err(ApiError::Invalid {
                message,
                details: None,
            });
        }
        Err(e) => return Err(e.into()),
    };
    state
        .audit(AuditEvent {
            actor: admin.actor(),
            action: "destination.add".into(),
            target: Some(format!("destination:{}", stored.id)),
            source: Some(admin.ip.to_string()),
            details: Some(audit_details(&stored)),
        })
        .await;
    Ok((StatusCode::CREATED, Json(DestinationView::new(stored))))
}

/// What the audit log records of a new destination: everything it was given.
fn audit_details(d: &Destination) -> serde_json::Value {
    serde_json::json!({
        "chat_id": d.chat_id,
        "thread_id": d.thread_id,
        "name": d.name,
        "kinds": d.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "assets": d.assets.iter().map(Asset::as_str).collect::<Vec<_>>(),
        "min_confidence": d.min_confidence,
        "format": d.format.as_str(),
        "language": d.language.code(),
    })
}

/// `422` for a chat (and topic) that is already a destination, `taken` when known.
fn taken_error(new: &NewDestination, taken: Option<&Destination>) -> ApiError {
    let place = match new.thread_id {
        Some(topic) => format!("chat {} topic {topic}", new.chat_id),
        None => format!("chat {}", new.chat_id),
    };
    let message = match taken {
        Some(d) => format!(
            "{place} is already destination {} ({:?}); remove it first to register it again",
            d.id, d.name
        ),
        None => format!("{place} is already a destination"),
    };
    ApiError::problems(
        "the destination",
        &[FieldProblem {
            field: "chat_id".into(),
            message,
        }],
    )
}

/// The destination `request` describes, or every problem with it.
fn read(
    request: CreateDestination,
    created_by: String,
) -> Result<NewDestination, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(FieldProblem {
            field: field.to_string(),
            message,
        })
    };
    let chat_id = match request.chat_id {
        None => {
            problem("chat_id", "is required".into());
            0
        }
        Some(id) if id >= 0 => {
            problem(
                "chat_id",
                format!(
                    "{id} is not a group's or channel's chat id, which is negative \
                     (e.g. -1001234567890); traders get signals in their own chats by \
                     subscribing"
                ),
            );
            0
        }
        Some(id) => id,
    };
    let thread_id = match request.thread_id {
        None => None,
        Some(t) => match i32::try_from(t) {
            Ok(t) if t > 0 => Some(t),
            _ => {
                problem(
                    "thread_id",
                    format!("{t} is not a forum topic's id (a positive number)"),
                );
                None
            }
        },
    };
    let name = request.name.as_deref().map(str::trim).unwrap_or_default();
    match request.name {
        None => problem("name", "is required".into()),
        Some(_) if name.is_empty() || name.chars().count() > MAX_NAME => {
            problem("name", format!("must be 1 to {MAX_NAME} characters"))
        }
        Some(_) if name.chars().any(char::is_control) => {
            problem("name", "must not contain control characters".into())
        }
        Some(_) => {}
    }
    let mut kinds = BTreeSet::new();
    match &request.kinds {
        None => problem(
            "kinds",
            "is required: at least one of buy, sell, close, alert".into(),
        ),
        Some(list) if list.is_empty() => problem(
            "kinds",
            "must name at least one of buy, sell, close, alert".into(),
        ),
        Some(list) => {
            for (i, raw) in list.iter().enumerate() {
                match raw.trim().parse::<SignalKind>() {
                    Ok(kind) => {
                        kinds.insert(kind);
                    }
                    Err(e) => problem(&format!("kinds[{i}]"), e),
                }
            }
        }
    }
    let mut assets = BTreeSet::new();
    let listed = request.assets.unwrap_or_default();
    if listed.len() > MAX_ASSETS {
        problem(
            "assets",
            format!("{} assets is more than {MAX_ASSETS}", listed.len()),
        );
    } else {
        for (i, raw) in listed.iter().enumerate() {
            match Asset::parse(raw) {
                Ok(asset) => {
                    assets.insert(asset);
                }
                Err(e) => problem(&format!("assets[{i}]"), e),
            }
        }
    }
    let min_confidence = match request.min_confidence {
        None => 0,
        Some(c) => match u8::try_from(c) {
            Ok(c) if c <= 100 => c,
            _ => {
                problem("min_confidence", format!("{c} is not from 0 to 100"));
                0
            }
        },
    };
    let format = match request.format.as_deref().map(str::trim) {
        None => SignalFormat::Detailed,
        Some(raw) => raw.parse().unwrap_or_else(|e| {
            problem("format", e);
            SignalFormat::Detailed
        }),
    };
    let language = match request.language.as_deref() {
        None => Language::En,
        Some(raw) => raw.parse().unwrap_or_else(|e| {
            problem("language", e);
            Language::En
        }),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(NewDestination {
        chat_id,
        thread_id,
        name: name.to_string(),
        kinds,
        assets,
        min_confidence,
        format,
        language,
        created_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: serde_json::Value) -> CreateDestination {
        serde_json::from_value(body).unwrap()
    }

    fn fields(body: serde_json::Value) -> Vec<String> {
        read(request(body), "cli".into())
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let new = read(
            request(serde_json::json!({"chat_id": -100, "name": " VIP ", "kinds": ["BUY"]})),
            "cli".into(),
        )
        .unwrap();
        assert_eq!(
            new,
            NewDestination {
                chat_id: -100,
                thread_id: None,
                name: "VIP".into(),
                kinds: [SignalKind::Buy].into(),
                assets: BTreeSet::new(),
                min_confidence: 0,
                format: SignalFormat::Detailed,
                language: Language::En,
                created_by: "cli".into(),
            }
        );
    }

    #[test]
    fn every_problem_is_named() {
        assert_eq!(fields(serde_json::json!({})), ["chat_id", "name", "kinds"]);
        assert_eq!(
            fields(serde_json::json!({
                "chat_id": 42, "thread_id": 0, "name": "a\u{0}b", "kinds": ["buy", "hold"],
                "assets": ["BTC/USD", "BTC/USD/EUR"], "min_confidence": 101,
                "format": "fancy", "language": "fr",
            })),
            [
                "chat_id",
                "thread_id",
                "name",
                "kinds[1]",
                "assets[1]",
                "min_confidence",
                "format",
                "language"
            ]
        );
        assert_eq!(
            fields(serde_json::json!({"chat_id": -1, "name": "x", "kinds": []})),
            ["kinds"]
        );
    }
}
