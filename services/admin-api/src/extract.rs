//! Request pieces read the same way by every route, each refusing with [`ApiError`]'s body
//! rather than axum's plain text: JSON bodies ([`Body`]), query strings ([`Params`]), ids in
//! the path ([`IdPath`]) and pages ([`PageQuery`], [`Page`]).

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ApiError;

/// A JSON body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// A query string.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The one id in a route's path (`/api/users/{id}`): 400 `malformed_id` unless a UUID.
pub struct IdPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_query(e.body_text()))?;
        let what = parts
            .uri
            .path()
            .trim_start_matches("/api/")
            .split('/')
            .next()
            .unwrap_or("")
            .trim_end_matches('s')
            .to_string();
        raw.parse()
            .map(IdPath)
            .map_err(|_| ApiError::malformed_id(&what, &raw))
    }
}

/// Items per page when the request names none.
pub const DEFAULT_PAGE: u64 = 50;
/// The most items a page holds.
pub const MAX_PAGE: u64 = 200;

/// `?limit=&cursor=`, shared by every listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1 to [`MAX_PAGE`]; [`DEFAULT_PAGE`] when absent.
    pub limit: Option<u64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size, checked.
    pub fn limit(&self) -> Result<u64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::bad_query(format!(
                "limit {n} is not from 1 to {MAX_PAGE}"
            ))),
        }
    }

    /// The cursor as an id (the listings ordered by UUID v7 ids).
    pub fn id_cursor(&self) -> Result<Option<Uuid>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| {
                c.parse()
                    .map_err(|_| ApiError::bad_query(format!("cursor {c:?} is not one we gave")))
            })
            .transpose()
    }
}

/// One page of a listing: `next_cursor` is absent on the last page.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: u64,
        cursor_of: impl Fn(&R) -> String,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(&cursor_of)
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}
