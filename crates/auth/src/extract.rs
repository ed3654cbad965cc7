//! axum extractors: every route says in its signature who may call it, and the checks live
//! here, once, rather than in each handler.
//!
//! | extractor | accepts | refuses with |
//! |---|---|---|
//! | [`Staff`] | `Authorization: Bearer <JWT>` of a staff member (admin or viewer) | 401 |
//! | [`Admin`] | the same, with the admin role | 401, 403 for a viewer |
//! | [`ApiKey<S>`] | `X-API-Key` of an active key with scope `S`, from an allowed address, within its rate limit | 401, 403, 429, 503 |
//! | [`Reader<S>`] | a staff token, or else an API key with scope `S` | as the one it tries |
//! | [`ClientIp`] | anyone: the caller's address | — |
//!
//! A token is checked for its signature (HS256 only: `alg: none` and every other algorithm
//! are refused), expiry, issuer and audience ([`crate::jwt`]), and then its subject is looked
//! up: a staff member whose role was revoked is refused at once, and one whose role was
//! lowered gets the lower role, whatever the token still says.
//!
//! Every refusal with 401 or 403 is reported to the [`Gate`]'s failure sink (the audit log,
//! in the services) and written to the security log (target `herald::security`) with the
//! client's address and the reason; never with the token or key.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use herald_domain::{Scope, StaffRole};
use herald_runtime::ErrorBody;
use herald_runtime::telemetry::ErrorKind;
use uuid::Uuid;

use crate::api_key::KeyInfo;
use crate::jwt::JwtKeys;
use crate::network::client_ip;
use crate::verifier::{ApiKeyVerifier, VerifyError};

/// Looks a user's current staff role up, with when they became staff: `Ok(None)` for a
/// user who is not (or no longer) staff, `Err` when the store cannot be asked.
pub type StaffLookup = Arc<
    dyn Fn(
            Uuid,
        ) -> Pin<
            Box<dyn Future<Output = Result<Option<(StaffRole, DateTime<Utc>)>, String>> + Send>,
        > + Send
        + Sync,
>;

/// Receives every authentication failure (see [`AuthFailure`]).
pub type FailureSink = Arc<dyn Fn(AuthFailure) + Send + Sync>;

/// One refused request, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    /// Who it claimed to be: `user:<id>` (a token's subject), `key:<id>` (a known key used
    /// wrongly), or `anonymous`.
    pub actor: String,
    /// Why it was refused, e.g. `expired_token`, `missing_scope` (see [`AuthError::reason`]).
    pub reason: &'static str,
    /// The client's address.
    pub source: IpAddr,
    /// The request's method and path, e.g. `GET /api/users`.
    pub request: String,
}

/// What the extractors check against; built once per service and shared by its routes.
/// Clones share everything.
#[derive(Clone, Default)]
pub struct Gate(Arc<GateInner>);

#[derive(Default)]
struct GateInner {
    jwt: Option<JwtKeys>,
    staff: Option<StaffLookup>,
    keys: Option<ApiKeyVerifier>,
    limits: KeyRateLimiter,
    trust_forwarded_for: bool,
    failures: Option<FailureSink>,
}

impl Gate {
    /// A gate that accepts nothing yet; add what the service takes.
    pub fn builder() -> GateBuilder {
        GateBuilder::default()
    }

    /// The API key verifier, if this service takes keys.
    pub fn keys(&self) -> Option<&ApiKeyVerifier> {
        self.0.keys.as_ref()
    }

    /// The JWT keys, if this service takes staff tokens.
    pub fn jwt(&self) -> Option<&JwtKeys> {
        self.0.jwt.as_ref()
    }

    /// The client's address for a request with these parts.
    pub fn client_ip(&self, parts: &Parts) -> IpAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        client_ip(peer, &parts.headers, self.0.trust_forwarded_for)
    }

    fn refuse(&self, parts: &Parts, source: IpAddr, actor: String, error: AuthError) -> AuthError {
        if matches!(
            error.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            let request = request_line(parts);
            tracing::warn!(
                target: "herald::security",
                actor = %actor,
                reason = error.reason,
                source = %source,
                request = %request,
                "request refused"
            );
            if let Some(sink) = &self.0.failures {
                sink(AuthFailure {
                    actor,
                    reason: error.reason,
                    source,
                    request,
                });
            }
        }
        error
    }
}

/// Builds a [`Gate`].
#[derive(Default)]
pub struct GateBuilder(GateInner);

impl GateBuilder {
    /// Takes staff tokens signed with `jwt`, their subjects' roles looked up with `staff`.
    pub fn staff(mut self, jwt: JwtKeys, staff: StaffLookup) -> Self {
        self.0.jwt = Some(jwt);
        self.0.staff = Some(staff);
        self
    }

    /// Takes API keys checked by `keys`.
    pub fn api_keys(mut self, keys: ApiKeyVerifier) -> Self {
        self.0.keys = Some(keys);
        self
    }

    /// Takes the client's address from the rightmost `X-Forwarded-For` entry (see
    /// [`crate::network::client_ip`]); only behind a proxy that sets it.
    pub fn trust_forwarded_for(mut self, trust: bool) -> Self {
        self.0.trust_forwarded_for = trust;
        self
    }

    /// Reports every refusal to `sink`.
    pub fn failures(mut self, sink: FailureSink) -> Self {
        self.0.failures = Some(sink);
        self
    }

    /// The gate.
    pub fn build(self) -> Gate {
        Gate(Arc::new(self.0))
    }
}

/// Implemented by a service's state, so that the extractors find its [`Gate`].
pub trait HasGate {
    /// The gate.
    fn gate(&self) -> &Gate;
}

/// Why a request was refused: a status and a stable code, answered as Herald's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// 401, 403, 429 or 503.
    pub status: StatusCode,
    /// Stable: `unauthorized`, `forbidden`, `rate_limited`, `unavailable`.
    pub code: &'static str,
    /// For a person; never the credential.
    pub message: String,
    /// For 429: when to try again.
    pub retry_after: Option<Duration>,
    /// Why, for the audit and security logs only (never told to the client): `missing_token`,
    /// `expired_token`, `bad_signature`, `wrong_algorithm`, … (`JwtError::reason`),
    /// `not_staff`, `not_admin`, `missing_key`, `invalid_key`, `missing_scope`,
    /// `address_not_allowed`, `rate_limited`, `unavailable`.
    pub reason: &'static str,
}

impl AuthError {
    /// 401 `unauthorized`.
    pub fn unauthorized(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            retry_after: None,
            reason,
        }
    }

    fn forbidden(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
            retry_after: None,
            reason,
        }
    }

    fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
            retry_after: None,
            reason: "unavailable",
        }
    }
}

impl IntoResponse for AuthError {
    /// Herald's error body; a 503 (the store that knows keys and staff cannot be reached) is
    /// tagged [`ErrorKind::Database`] for the service's `herald_errors_total`.
    fn into_response(self) -> Response {
        let mut response = ErrorBody::response(self.status, self.code, self.message, None);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.extensions_mut().insert(ErrorKind::Database);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"herald\""),
            );
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// The caller's address ([`Gate::client_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: HasGate + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(state.gate().client_ip(parts)))
    }
}

/// A staff member, by a valid token (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staff {
    /// Their user id.
    pub user_id: Uuid,
    /// Their role: the lower of the token's and the one stored now.
    pub role: StaffRole,
    /// The token's id.
    pub session: Uuid,
    /// The client's address.
    pub ip: IpAddr,
}

impl Staff {
    /// How the audit log names them: `user:<id>`.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user_id)
    }
}

impl<S: HasGate + Sync> FromRequestParts<S> for Staff {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let gate = state.gate();
        let ip = gate.client_ip(parts);
        let refuse = |actor: String, e| gate.refuse(parts, ip, actor, e);
        let (Some(jwt), Some(lookup)) = (&gate.0.jwt, &gate.0.staff) else {
            return Err(AuthError::unauthorized(
                "no_staff_tokens",
                "this service takes no staff tokens",
            ));
        };
        let Some(token) = bearer(parts) else {
            return Err(refuse(
                "anonymous".into(),
                AuthError::unauthorized(
                    "missing_token",
                    "send a staff token: Authorization: Bearer <token>",
                ),
            ));
        };
        let claims = jwt.verify(token).map_err(|e| {
            refuse(
                "anonymous".into(),
                AuthError::unauthorized(e.reason(), format!("invalid token: {e}")),
            )
        })?;
        let actor = format!("user:{}", claims.sub);
        let stored = lookup(claims.sub).await.map_err(|e| {
            tracing::warn!(error = %e, "could not look a staff member up");
            AuthError::unavailable("cannot check staff roles right now; try again")
        })?;
        let Some((stored, since)) = stored else {
            return Err(refuse(
                actor,
                AuthError::unauthorized("not_staff", "this account is no longer staff"),
            ));
        };
        // A token from before they (last) became staff: revoked since, whatever came after.
        if claims.iat < since.timestamp() {
            return Err(refuse(
                actor,
                AuthError::unauthorized(
                    "token_before_grant",
                    "this token was issued before the account's staff role; log in again",
                ),
            ));
        }
        let role = if claims.role == StaffRole::Admin && stored == StaffRole::Admin {
            StaffRole::Admin
        } else {
            StaffRole::Viewer
        };
        Ok(Staff {
            user_id: claims.sub,
            role,
            session: claims.jti,
            ip,
        })
    }
}

/// A staff member with the admin role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin(pub Staff);

impl<S: HasGate + Sync> FromRequestParts<S> for Admin {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let staff = Staff::from_request_parts(parts, state).await?;
        if staff.role != StaffRole::Admin {
            let gate = state.gate();
            return Err(gate.refuse(
                parts,
                staff.ip,
                staff.actor(),
                AuthError::forbidden(
                    "not_admin",
                    "this needs the admin role; a viewer may only read",
                ),
            ));
        }
        Ok(Admin(staff))
    }
}

/// A scope an [`ApiKey`] extractor requires, as a type.
pub trait RequiredScope {
    /// The scope.
    const SCOPE: Scope;
}

/// `signals:write`.
#[derive(Debug, Clone, Copy)]
pub struct SignalsWrite;

impl RequiredScope for SignalsWrite {
    const SCOPE: Scope = Scope::SignalsWrite;
}

/// `stats:read`.
#[derive(Debug, Clone, Copy)]
pub struct StatsRead;

impl RequiredScope for StatsRead {
    const SCOPE: Scope = Scope::StatsRead;
}

/// A request with an active API key that has scope `S`, used from an address it allows,
/// within its rate limit.
#[derive(Debug, Clone)]
pub struct ApiKey<S> {
    /// The key.
    pub key: Arc<KeyInfo>,
    /// The client's address.
    pub ip: IpAddr,
    scope: PhantomData<S>,
}

impl<S: HasGate + Sync, R: RequiredScope> FromRequestParts<S> for ApiKey<R> {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let gate = state.gate();
        let ip = gate.client_ip(parts);
        let Some(keys) = &gate.0.keys else {
            return Err(AuthError::unauthorized(
                "no_api_keys",
                "this service takes no API keys",
            ));
        };
        let presented = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let key = match keys.verify(presented).await {
            Ok(key) => key,
            Err(VerifyError::Missing) => {
                return Err(gate.refuse(
                    parts,
                    ip,
                    "anonymous".into(),
                    AuthError::unauthorized("missing_key", "missing X-API-Key header"),
                ));
            }
            Err(VerifyError::Invalid) => {
                return Err(gate.refuse(
                    parts,
                    ip,
                    "anonymous".into(),
                    AuthError::unauthorized("invalid_key", "invalid API key"),
                ));
            }
            // The verifier logs when the store goes away and comes back.
            Err(VerifyError::Unavailable(_)) => {
                return Err(AuthError::unavailable("cannot verify API keys right now"));
            }
        };
        // Named only when refused: the accepted request, every request on ingest, makes no string.
        let actor = || format!("key:{}", key.id);
        if !key.scopes.contains(&R::SCOPE) {
            return Err(gate.refuse(
                parts,
                ip,
                actor(),
                AuthError::forbidden(
                    "missing_scope",
                    format!("this key lacks the scope {}", R::SCOPE),
                ),
            ));
        }
        if !key.allowed.contains(ip) {
            return Err(gate.refuse(
                parts,
                ip,
                actor(),
                AuthError::forbidden(
                    "address_not_allowed",
                    format!("this key may not be used from {ip}"),
                ),
            ));
        }
        if let Some(limit) = key.rate_limit
            && let Err(wait) = gate.0.limits.take(key.id, limit, Instant::now())
        {
            return Err(AuthError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "rate_limited",
                message: format!("this key may make {limit} requests per second"),
                retry_after: Some(wait),
                reason: "rate_limited",
            });
        }
        keys.note_use(key.id);
        Ok(ApiKey {
            key,
            ip,
            scope: PhantomData,
        })
    }
}

/// A staff member (any role) or, without an `Authorization` header, an API key with scope
/// `S`: what read-only endpoints that programs also call take.
#[derive(Debug, Clone)]
pub enum Reader<S> {
    /// By token.
    Staff(Staff),
    /// By key.
    Key(ApiKey<S>),
}

impl<S: HasGate + Sync, R: RequiredScope> FromRequestParts<S> for Reader<R> {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION)
            || !parts.headers.contains_key("x-api-key")
        {
            Staff::from_request_parts(parts, state)
                .await
                .map(Reader::Staff)
        } else {
            ApiKey::<R>::from_request_parts(parts, state)
                .await
                .map(Reader::Key)
        }
    }
}

/// The most of a request's path kept in the audit log for a path no route matched.
const MAX_PATH_CHARS: usize = 120;

/// How a refused request is named in the logs: its method and route (`GET /api/users/{id}`),
/// never the raw path, which the client chooses and could make as long as it likes.
fn request_line(parts: &Parts) -> String {
    let path = match parts.extensions.get::<axum::extract::MatchedPath>() {
        Some(route) => route.as_str().to_string(),
        None => {
            let raw = parts.uri.path();
            match raw.char_indices().nth(MAX_PATH_CHARS) {
                Some((cut, _)) => format!("{}…", &raw[..cut]),
                None => raw.to_string(),
            }
        }
    };
    format!("{} {path}", parts.method)
}

/// The token of an `Authorization: Bearer` header.
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Per-key token buckets: `limit` requests per second with a burst of `limit`, per process.
/// Holds one entry per limited key that was used, so it is as bounded as the keys are.
#[derive(Default)]
struct KeyRateLimiter {
    buckets: Mutex<HashMap<Uuid, (f64, Instant)>>,
}

impl KeyRateLimiter {
    /// Takes one request from `key`'s bucket, or says how long until one is there.
    fn take(&self, key: Uuid, limit: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(limit.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(key).or_insert((rate, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * rate;
        *tokens = (*tokens + refill).min(rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_rate_and_no_more() {
        let limiter = KeyRateLimiter::default();
        let key = Uuid::now_v7();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take(key, 3, t0), Ok(()));
        }
        let wait = limiter.take(key, 3, t0).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        // A third of a second later one more request fits, and only one.
        let later = t0 + Duration::from_millis(340);
        assert_eq!(limiter.take(key, 3, later), Ok(()));
        assert!(limiter.take(key, 3, later).is_err());
        // Another key has its own bucket.
        assert_eq!(limiter.take(Uuid::now_v7(), 3, later), Ok(()));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header_only_with_the_scheme() {
        let parts = |value: &str| {
            let (parts, ()) = axum::http::Request::builder()
                .header(header::AUTHORIZATION, value)
                .body(())
                .unwrap()
                .into_parts();
            parts
        };
        assert_eq!(bearer(&parts("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&parts("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&parts("Basic abc")), None);
        assert_eq!(bearer(&parts("Bearer ")), None);
        assert_eq!(bearer(&parts("abc")), None);
    }
}
