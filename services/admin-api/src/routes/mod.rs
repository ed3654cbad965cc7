//! Every endpoint, one file per action under `<resource>/`, mapped here.
//!
//! | method and path | who | file |
//! |---|---|---|
//! | `POST /api/auth/login` | anyone | `auth/login.rs` |
//! | `POST /api/auth/verify` | anyone | `auth/verify.rs` |
//! | `GET /api/users` | staff | `users/list.rs` |
//! | `GET /api/users/{id}` | staff | `users/show.rs` |
//! | `PUT /api/users/{id}/preferences` | admin | `users/update_preferences.rs` |
//! | `GET /api/signals` | staff | `signals/list.rs` |
//! | `GET /api/signals/{id}` | staff | `signals/show.rs` |
//! | `GET /api/signals/{id}/deliveries` | staff | `signals/deliveries.rs` |
//! | `GET /api/stats` | staff, or a key with `stats:read` | `stats/show.rs` |
//! | `GET /api/stats/performance` | staff, or a key with `stats:read` | `stats/performance.rs` |
//! | `GET /api/destinations` | staff | `destinations/list.rs` |
//! | `POST /api/destinations` | admin | `destinations/create.rs` |
//! | `DELETE /api/destinations/{id}` | admin | `destinations/remove.rs` |
//! | `GET /api/bot-chats` | staff | `bot_chats/list.rs` |
//! | `GET /api/audit` | admin | `audit/list.rs` |
//! | `POST /api/keys`, `GET /api/keys` | admin | `keys/create.rs`, `keys/list.rs` |
//! | `DELETE /api/keys/{id}` | admin | `keys/revoke.rs` |
//!
//! `GET /api/health` comes from [`herald_runtime::http::health_route`]; the probes and
//! `GET /metrics` are on the operational listener ([`herald_runtime::http::ops_routes`]).

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::AppState;

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod bot_chats;
pub(crate) mod destinations;
pub(crate) mod keys;
pub(crate) mod signals;
pub(crate) mod stats;
pub(crate) mod users;

/// The API's routes, before the state is given.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/login", post(auth::login::login))
        .route("/api/auth/verify", post(auth::verify::verify))
        .route("/api/users", get(users::list::list))
        .route("/api/users/{id}", get(users::show::show))
        .route(
            "/api/users/{id}/preferences",
            put(users::update_preferences::update_preferences),
        )
        .route("/api/signals", get(signals::list::list))
        .route("/api/signals/{id}", get(signals::show::show))
        .route(
            "/api/signals/{id}/deliveries",
            get(signals::deliveries::deliveries),
        )
        .route("/api/stats", get(stats::show::show))
        .route(
            "/api/stats/performance",
            get(stats::performance::performance),
        )
        .route(
            "/api/destinations",
            post(destinations::create::create).get(destinations::list::list),
        )
        .route(
            "/api/destinations/{id}",
            delete(destinations::remove::remove),
        )
        .route("/api/bot-chats", get(bot_chats::list::list))
        .route("/api/audit", get(audit::list::list))
        .route(
            "/api/keys",
            post(keys::create::create).get(keys::list::list),
        )
        .route("/api/keys/{id}", delete(keys::revoke::revoke))
}
