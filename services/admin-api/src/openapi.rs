//! admin-api's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the views' types: served at `GET /api/openapi.json` and checked into
//! `proto/admin-api.openapi.json`, where a test fails when the two differ
//! (`UPDATE_PROTO=1 cargo test -p herald-admin-api --lib openapi` refreshes the file).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald admin-api",
        version = "1.0.0",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        description = "Administrators' REST API of Herald, which delivers trading signals to \
traders over Telegram.\n\nStaff log in with two factors (`POST /api/auth/login`, then \
`POST /api/auth/verify`: a code the bot sends to their Telegram chat and a TOTP code from \
their authenticator) and send the token they get as `Authorization: Bearer <token>`. \
Viewers read; admins also change preferences, API keys and destinations, and read the \
audit log. `GET /api/stats` and `GET /api/stats/performance` also take an API key with the \
scope `stats:read` (`X-API-Key`).\n\n\
Every error answers `{\"error\": {\"code\", \"message\", \"details\"}}`; listings are \
paginated with `limit` (1 to 200, default 50) and `cursor` (the previous page's \
`next_cursor`, absent on the last page). See docs/admin-guide.md."
    ),
    servers((url = "http://127.0.0.1:8081", description = "The default `HERALD_ADMIN_ADDR`.")),
    paths(
        routes::auth::login::login,
        routes::auth::verify::verify,
        routes::users::list::list,
        routes::users::show::show,
        routes::users::update_preferences::update_preferences,
        routes::signals::list::list,
        routes::signals::show::show,
        routes::signals::deliveries::deliveries,
        routes::stats::show::show,
        routes::stats::performance::performance,
        routes::destinations::list::list,
        routes::destinations::create::create,
        routes::destinations::remove::remove,
        routes::bot_chats::list::list,
        routes::audit::list::list,
        routes::keys::create::create,
        routes::keys::list::list,
        routes::keys::revoke::revoke,
        health,
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "The two-factor login."),
        (name = "users", description = "Traders and staff."),
        (name = "signals", description = "Signals and their deliveries."),
        (name = "stats", description = "Figures over a time window."),
        (name = "audit", description = "Administrative changes and authentication failures."),
        (name = "keys", description = "API keys for the Signal Engine and dashboards."),
        (name = "destinations", description = "Channels, groups and forum topics signals go to besides traders' chats, and the chats the bot is in."),
        (name = "operations", description = "Health."),
    )
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

/// The two ways in: a staff token and an API key.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A staff token from `POST /api/auth/verify`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key with the scope `stats:read` (`herald api-key create --scope stats:read`), for `GET /api/stats` and `GET /api/stats/performance`.",
            ))),
        );
    }
}

/// Whether the service can do its job: the database and NATS, each reported; 503 naming
/// what is down. From a report at most 2 s old, so calling it in a loop cannot load the
/// database. The metrics and the probes (`GET /metrics`, `/livez`, `/readyz`) are not on this
/// address but on admin-api's operational one, `HERALD_ADMIN_OPS_ADDR` (default
/// `127.0.0.1:9081`). (Served by `herald_runtime::http::health_route`; documented here.)
#[utoipa::path(get, path = "/api/health", tag = "operations",
    responses(
        (status = 200, description = "ready", body = herald_runtime::HealthReport),
        (status = 503, description = "a dependency is down; `checks` says which", body = herald_runtime::HealthReport),
    ))]
#[allow(dead_code)]
fn health() {}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// The checked-in document is the generated one.
    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/admin-api.openapi.json");
        let generated = serde_json::to_string_pretty(&super::document()).unwrap() + "\n";
        if std::env::var_os("UPDATE_PROTO").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} differs from the document admin-api generates: run \
             `UPDATE_PROTO=1 cargo test -p herald-admin-api --lib openapi` to refresh it",
            path.display()
        );
    }
}
