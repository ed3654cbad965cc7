//! Herald's settings: defaults < optional `herald.toml` < environment variables `HERALD_*`.
//!
//! One flat [`Settings`] holds every setting of every service (so `herald all` and the
//! separate binaries read the same names); each service takes what it needs. Every setting is
//! documented in the README's settings table, which a test keeps in step with this struct.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Telegram's budget per bot, in messages per second.
const MAX_FREE_RATE: u32 = 30;
/// Telegram's budget per bot with `allow_paid_broadcast`, in messages per second.
const MAX_PAID_RATE: u32 = 1000;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable when stderr is a terminal, JSON otherwise.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Every Herald setting. Field `x` is set by the environment variable `HERALD_X` or by key
/// `x` in `herald.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    /// `sqlite://herald.db?mode=rwc` (embedded) or `postgres://user@host/db`.
    pub database_url: String,
    /// NATS server, e.g. `nats://127.0.0.1:4222`, or several, comma-separated (the nodes of
    /// a cluster). Each may carry `user:password@` or `token@` (percent-encoded): Herald
    /// shows the URL only without them.
    pub nats_url: String,
    /// A NATS credentials file (user JWT and nkey seed), for servers with decentralised auth.
    pub nats_creds: Option<PathBuf>,
    /// An nkey seed (`SU…`), for servers that know Herald's user by its public nkey.
    #[serde(skip_serializing)]
    pub nats_nkey_seed: Option<SecretString>,
    /// Copies JetStream keeps of every stream and lease bucket: 1 on a single server, 3 on a
    /// three-node cluster (losing one node then loses nothing). 1 to 5.
    pub nats_stream_replicas: usize,
    /// Prefix of every NATS subject, stream and consumer (`A-Z a-z 0-9 _ -`), so several
    /// installations (and parallel tests) share one NATS.
    pub nats_prefix: String,
    /// The bot token from BotFather. Required by the dispatcher and the command-bot.
    #[serde(skip_serializing)]
    pub telegram_token: Option<SecretString>,
    /// The Bot API server; tests point it at a double.
    pub telegram_api_url: String,
    /// The bot's Telegram sends per second, shared by every process of the installation
    /// (dispatcher replicas and the command-bot); at most 30, or 1000 with
    /// `telegram_paid_broadcast`; 0 means no overall limit (only for a Bot API double).
    pub telegram_rate_limit: u32,
    /// Broadcast sends carry `allow_paid_broadcast` (enabled in BotFather, paid in Stars),
    /// which lets `telegram_rate_limit` go up to 1000.
    pub telegram_paid_broadcast: bool,
    /// ingest-api listen address.
    pub ingest_addr: SocketAddr,
    /// admin-api listen address.
    pub admin_addr: SocketAddr,
    /// ingest-api's operational address: `GET /metrics`, `/livez`, `/readyz` (never on
    /// `ingest_addr`, the public API).
    pub ingest_ops_addr: SocketAddr,
    /// admin-api's operational address: `GET /metrics`, `/livez`, `/readyz` (never on
    /// `admin_addr`, the public API).
    pub admin_ops_addr: SocketAddr,
    /// dispatcher health and metrics address.
    pub dispatcher_addr: SocketAddr,
    /// command-bot health and metrics address.
    pub command_bot_addr: SocketAddr,
    /// Largest `POST /api/signals` body accepted, in bytes.
    pub ingest_max_body_bytes: usize,
    /// How long JetStream remembers a signal id to drop a re-sent duplicate, in seconds.
    pub signal_dedup_window_secs: u64,
    /// How long ingest-api trusts the database's answer about an API key before asking again,
    /// in seconds: a revoked key stops working within this time while the database is up.
    pub ingest_key_cache_ttl_secs: u64,
    /// How long after the database last confirmed a key ingest-api keeps accepting it while
    /// the database cannot be reached, in seconds.
    pub ingest_key_max_stale_secs: u64,
    /// Sends in flight at once per dispatcher.
    pub dispatcher_concurrency: usize,
    /// Commands (and other messages) one trader may send the command-bot per minute; over
    /// it, one "slow down" and silence until the minute has passed. 0: no limit.
    pub command_bot_rate_limit: u32,
    /// The public HTTPS URL Telegram posts updates to (the command-bot then takes updates by
    /// webhook, on `command_bot_addr`, instead of long polling).
    pub command_bot_webhook_url: Option<String>,
    /// The secret Telegram sends with every webhook update (`X-Telegram-Bot-Api-Secret-Token`);
    /// unset, one is derived from the bot token, so every replica agrees.
    #[serde(skip_serializing)]
    pub command_bot_webhook_secret: Option<SecretString>,
    /// Attempts per delivery before it is recorded as failed.
    pub delivery_max_attempts: u32,
    /// The lifetime, in seconds after `generated_at`, of a signal with neither a `valid_until`
    /// nor a timeframe (closes and alerts, mostly); a signal with a timeframe lives one bar of
    /// it. Past its deadline a signal is refused on arrival and never sent.
    ///
    /// 900 s (15 minutes) by default: a close or an alert is about the market now, and a
    /// quarter of an hour later the price it names has moved on, as it has after one 15m bar
    /// (the middle of the timeframes). It is also long enough to ride out a delay: at
    /// Telegram's 30 messages per second a bot sends 27,000 messages in 15 minutes.
    /// At most 30 days, like `valid_until`.
    pub signal_ttl_secs: u64,
    /// Seconds JetStream waits for a dispatcher to settle a message before handing it to
    /// another replica (work in progress is kept alive by heartbeats, so this bounds how
    /// long a crashed replica's work waits).
    pub ack_wait_secs: u64,
    /// Take the client's address from the rightmost `X-Forwarded-For` entry (the one the
    /// operator's own proxy appended) for API key allow-lists, login limits and the audit
    /// log. Only behind a proxy that sets it: otherwise clients choose their own address.
    pub trust_forwarded_for: bool,
    /// admin-api's own settings (`HERALD_ADMIN_…`; `[admin]` in `herald.toml`).
    pub admin: AdminSettings,
    /// `auto`, `json` or `pretty`.
    pub log_format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `herald_dispatcher=debug,info`.
    pub log: String,
    /// Where traces go over OTLP (`HERALD_OTLP_ENDPOINT`): the collector's base URL, e.g.
    /// `http://otel-collector:4318` (HTTP with protobuf, the default) or
    /// `http://otel-collector:4317` with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`. Unset, no trace
    /// is recorded or exported. The standard `OTEL_*` variables apply (see
    /// [`crate::traces`]). Never logged: it may carry credentials.
    #[serde(skip_serializing)]
    pub otlp_endpoint: Option<SecretString>,
    /// The share of deliveries (0 to 1) whose spans — the delivery and its Telegram call —
    /// are exported, when `OTEL_TRACES_SAMPLER` is not set (`HERALD_TRACE_DELIVERY_RATIO`).
    /// The signal's own spans (ingest, publish, fan-out) are always kept.
    pub trace_delivery_ratio: f64,
}

/// admin-api's settings: the `admin` section of [`Settings`]. Field `x` is set by
/// `HERALD_ADMIN_X`, or by `x` under `[admin]` in `herald.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AdminSettings {
    /// The key that signs staff tokens (HS256; at least 32 bytes). Unset, one is generated
    /// once and kept in the database, so that every replica agrees. Never logged.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    /// How long a staff token is accepted, in seconds (at most a day).
    pub token_lifetime_secs: u64,
    /// How long a login code the bot sends works, in seconds (at most 15 minutes).
    pub login_code_ttl_secs: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            token_lifetime_secs: 900,
            login_code_ttl_secs: 300,
        }
    }
}

/// The sections of [`Settings`] and their fields: `HERALD_<SECTION>_<FIELD>` is read as
/// `<section>.<field>`. Other names stay at the top (`HERALD_ADMIN_ADDR` is `admin_addr`).
const SECTIONS: [(&str, &[&str]); 1] = [(
    "admin",
    &["jwt_secret", "token_lifetime_secs", "login_code_ttl_secs"],
)];

/// The path of the setting an environment variable (without `HERALD_`, lower-case) names.
fn section_key(key: &str) -> String {
    for (section, fields) in SECTIONS {
        if let Some(field) = key
            .strip_prefix(section)
            .and_then(|rest| rest.strip_prefix('_'))
            && fields.contains(&field)
        {
            return format!("{section}.{field}");
        }
    }
    key.to_string()
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://herald.db?mode=rwc".into(),
            nats_url: "nats://127.0.0.1:4222".into(),
            nats_creds: None,
            nats_nkey_seed: None,
            nats_stream_replicas: 1,
            nats_prefix: "herald".into(),
            telegram_token: None,
            telegram_api_url: "https://api.telegram.org".into(),
            telegram_rate_limit: 30,
            telegram_paid_broadcast: false,
            ingest_addr: ([127, 0, 0, 1], 8080).into(),
            admin_addr: ([127, 0, 0, 1], 8081).into(),
            ingest_ops_addr: ([127, 0, 0, 1], 9080).into(),
            admin_ops_addr: ([127, 0, 0, 1], 9081).into(),
            dispatcher_addr: ([127, 0, 0, 1], 8082).into(),
            command_bot_addr: ([127, 0, 0, 1], 8083).into(),
            ingest_max_body_bytes: 64 * 1024,
            signal_dedup_window_secs: 600,
            ingest_key_cache_ttl_secs: 5,
            ingest_key_max_stale_secs: 24 * 3600,
            dispatcher_concurrency: 64,
            command_bot_rate_limit: 20,
            command_bot_webhook_url: None,
            command_bot_webhook_secret: None,
            delivery_max_attempts: 5,
            signal_ttl_secs: 900,
            ack_wait_secs: 30,
            trust_forwarded_for: false,
            admin: AdminSettings::default(),
            log_format: LogFormat::Auto,
            log: "info".into(),
            otlp_endpoint: None,
            trace_delivery_ratio: 0.01,
        }
    }
}

/// The longest `signal_ttl_secs`: 30 days, the longest a signal's `valid_until` may reach.
const MAX_SIGNAL_TTL_SECS: u64 = 30 * 24 * 3600;

/// A setting that is missing or wrong. The message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read (wrong type, unparsable address, …).
    #[error("configuration: {0}")]
    Load(String),
    /// A value was read but breaks a rule.
    #[error("configuration: {name}: {problem}")]
    Invalid {
        /// The environment variable, e.g. `HERALD_NATS_PREFIX`.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

impl Settings {
    /// Loads the settings from defaults, then `herald.toml` (or the file named by
    /// `HERALD_CONFIG`) if it exists, then `HERALD_*` environment variables, and validates
    /// them.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("HERALD_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("herald.toml"));
        Self::load_from(&file, Env::prefixed("HERALD_").ignore(&["config"]))
    }

    /// [`Settings::load`] with an explicit file and environment provider (for tests).
    pub fn load_from(file: &Path, env: Env) -> Result<Self, ConfigError> {
        let settings: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file))
            .merge(env.map(|key| section_key(&key.as_str().to_ascii_lowercase()).into()))
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the rules that span more than a type.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, problem: String| Err(ConfigError::Invalid { name, problem });
        if self.nats_prefix.is_empty()
            || self.nats_prefix.len() > 64
            || !self
                .nats_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return invalid(
                "HERALD_NATS_PREFIX",
                format!(
                    "{:?} must be 1-64 characters of A-Z a-z 0-9 _ -",
                    self.nats_prefix
                ),
            );
        }
        self.validate_nats()?;
        if !(0.0..=1.0).contains(&self.trace_delivery_ratio) {
            return invalid(
                "HERALD_TRACE_DELIVERY_RATIO",
                format!("{} must be between 0 and 1", self.trace_delivery_ratio),
            );
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            let endpoint = endpoint.expose_secret();
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return invalid(
                    "HERALD_OTLP_ENDPOINT",
                    "must be an http:// or https:// URL (the collector's, e.g. http://otel-collector:4318)".into(),
                );
            }
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return invalid(
                "HERALD_DATABASE_URL",
                "must start with sqlite: or postgres://".into(),
            );
        }
        if !(self.telegram_api_url.starts_with("http://")
            || self.telegram_api_url.starts_with("https://"))
        {
            return invalid(
                "HERALD_TELEGRAM_API_URL",
                format!("{:?} must be an http(s) URL", self.telegram_api_url),
            );
        }
        if let Some(url) = &self.command_bot_webhook_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return invalid(
                "HERALD_COMMAND_BOT_WEBHOOK_URL",
                format!("{url:?} is not an http(s) URL; Telegram posts updates to an https:// URL"),
            );
        }
        if let Some(secret) = &self.command_bot_webhook_secret {
            let secret = secret.expose_secret();
            if secret.is_empty()
                || secret.len() > 256
                || !secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return invalid(
                    "HERALD_COMMAND_BOT_WEBHOOK_SECRET",
                    "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)".into(),
                );
            }
        }
        if self.telegram_rate_limit > MAX_PAID_RATE {
            return invalid(
                "HERALD_TELEGRAM_RATE_LIMIT",
                format!(
                    "{} is above {MAX_PAID_RATE}, the most Telegram allows a bot even with paid broadcasts",
                    self.telegram_rate_limit
                ),
            );
        }
        if self.telegram_rate_limit > MAX_FREE_RATE && !self.telegram_paid_broadcast {
            return invalid(
                "HERALD_TELEGRAM_RATE_LIMIT",
                format!(
                    "{} is above Telegram's {MAX_FREE_RATE} messages/s per bot; set \
                     HERALD_TELEGRAM_PAID_BROADCAST=true (paid broadcasts, enabled in BotFather) \
                     to go up to {MAX_PAID_RATE}",
                    self.telegram_rate_limit
                ),
            );
        }
        for (ops, name, public, public_name) in [
            (
                self.ingest_ops_addr,
                "HERALD_INGEST_OPS_ADDR",
                self.ingest_addr,
                "HERALD_INGEST_ADDR",
            ),
            (
                self.admin_ops_addr,
                "HERALD_ADMIN_OPS_ADDR",
                self.admin_addr,
                "HERALD_ADMIN_ADDR",
            ),
        ] {
            // Port 0 (any free port, as tests bind) cannot clash.
            if ops == public && ops.port() != 0 {
                return invalid(
                    name,
                    format!(
                        "{ops} is {public_name} too: the metrics and probes are served apart \
                         from the public API, on an address of their own"
                    ),
                );
            }
        }
        if self.ingest_max_body_bytes < 1024 {
            return invalid(
                "HERALD_INGEST_MAX_BODY_BYTES",
                "must be at least 1024".into(),
            );
        }
        if self.dispatcher_concurrency == 0 {
            return invalid("HERALD_DISPATCHER_CONCURRENCY", "must be at least 1".into());
        }
        if self.delivery_max_attempts == 0 {
            return invalid("HERALD_DELIVERY_MAX_ATTEMPTS", "must be at least 1".into());
        }
        if self.ack_wait_secs < 3 {
            return invalid("HERALD_ACK_WAIT_SECS", "must be at least 3".into());
        }
        if !(1..=MAX_SIGNAL_TTL_SECS).contains(&self.signal_ttl_secs) {
            return invalid(
                "HERALD_SIGNAL_TTL_SECS",
                format!(
                    "must be from 1 to {MAX_SIGNAL_TTL_SECS} (30 days), got {}",
                    self.signal_ttl_secs
                ),
            );
        }
        if self.signal_dedup_window_secs == 0 {
            return invalid(
                "HERALD_SIGNAL_DEDUP_WINDOW_SECS",
                "must be at least 1".into(),
            );
        }
        if let Some(secret) = &self.admin.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return invalid(
                "HERALD_ADMIN_JWT_SECRET",
                "must be at least 32 characters (e.g. `openssl rand -hex 32`)".into(),
            );
        }
        if !(60..=86_400).contains(&self.admin.token_lifetime_secs) {
            return invalid(
                "HERALD_ADMIN_TOKEN_LIFETIME_SECS",
                format!(
                    "must be from 60 to 86400 (a day), got {}",
                    self.admin.token_lifetime_secs
                ),
            );
        }
        if !(60..=900).contains(&self.admin.login_code_ttl_secs) {
            return invalid(
                "HERALD_ADMIN_LOGIN_CODE_TTL_SECS",
                format!(
                    "must be from 60 to 900 (15 minutes), got {}",
                    self.admin.login_code_ttl_secs
                ),
            );
        }
        if self.ingest_key_max_stale_secs < self.ingest_key_cache_ttl_secs {
            return invalid(
                "HERALD_INGEST_KEY_MAX_STALE_SECS",
                format!(
                    "must be at least HERALD_INGEST_KEY_CACHE_TTL_SECS ({})",
                    self.ingest_key_cache_ttl_secs
                ),
            );
        }
        Ok(())
    }

    /// The NATS rules: one way of giving credentials, a readable creds file, a seed that
    /// looks like one (never echoed), a replica count NATS allows.
    fn validate_nats(&self) -> Result<(), ConfigError> {
        let invalid = |name, problem: String| Err(ConfigError::Invalid { name, problem });
        if !(1..=5).contains(&self.nats_stream_replicas) {
            return invalid(
                "HERALD_NATS_STREAM_REPLICAS",
                format!(
                    "must be from 1 to 5 (1 on a single server, 3 on a three-node cluster), \
                     got {}",
                    self.nats_stream_replicas
                ),
            );
        }
        let url_credentials = self.nats_url.contains('@');
        match (url_credentials, &self.nats_creds, &self.nats_nkey_seed) {
            (true, Some(_), _) | (true, _, Some(_)) => {
                return invalid(
                    if self.nats_creds.is_some() {
                        "HERALD_NATS_CREDS"
                    } else {
                        "HERALD_NATS_NKEY_SEED"
                    },
                    "give NATS credentials in one way only: HERALD_NATS_URL already carries \
                     some (user:password@ or token@)"
                        .into(),
                );
            }
            (_, Some(_), Some(_)) => {
                return invalid(
                    "HERALD_NATS_NKEY_SEED",
                    "give NATS credentials in one way only: HERALD_NATS_CREDS is set too".into(),
                );
            }
            _ => {}
        }
        if let Some(path) = &self.nats_creds
            && let Err(e) = std::fs::File::open(path)
        {
            return invalid(
                "HERALD_NATS_CREDS",
                format!("cannot read {}: {e}", path.display()),
            );
        }
        if let Some(seed) = &self.nats_nkey_seed
            && !seed.expose_secret().trim().starts_with("SU")
        {
            return invalid(
                "HERALD_NATS_NKEY_SEED",
                "is not an nkey user seed (those start with SU; the value is not shown)".into(),
            );
        }
        Ok(())
    }

    /// The bot token, or an error naming the setting for the services that need it.
    pub fn require_telegram_token(&self) -> Result<&SecretString, ConfigError> {
        self.telegram_token
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid {
                name: "HERALD_TELEGRAM_TOKEN",
                problem: "is required to talk to Telegram (get one from @BotFather)".into(),
            })
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            // A section's fields are `HERALD_<SECTION>_<FIELD>`.
            let key = e.path.join("_");
            let name = if key.is_empty() {
                String::new()
            } else {
                format!("HERALD_{}: ", key.to_ascii_uppercase())
            };
            format!("{name}{}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
// figment's `Jail` closures return figment's large error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in(jail: &Jail) -> Result<Settings, ConfigError> {
        Settings::load_from(
            &jail.directory().join("herald.toml"),
            Env::prefixed("HERALD_"),
        )
    }

    #[test]
    fn defaults_file_then_env() {
        Jail::expect_with(|jail| {
            let s = load_in(jail).unwrap();
            assert_eq!(s.nats_prefix, "herald");
            assert_eq!(s.ingest_addr.port(), 8080);
            jail.create_file("herald.toml", "nats_prefix = \"fromfile\"\nlog = \"debug\"")?;
            jail.set_env("HERALD_NATS_PREFIX", "fromenv");
            jail.set_env("HERALD_TELEGRAM_TOKEN", "123:secret");
            let s = load_in(jail).unwrap();
            assert_eq!(s.nats_prefix, "fromenv");
            assert_eq!(s.log, "debug");
            assert!(s.require_telegram_token().is_ok());
            Ok(())
        });
    }

    #[test]
    fn bad_settings_name_the_variable() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_NATS_PREFIX", "a.b");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_NATS_PREFIX"), "{e}");
            jail.set_env("HERALD_NATS_PREFIX", "ok");
            jail.set_env("HERALD_INGEST_ADDR", "not an address");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_INGEST_ADDR"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn ops_addresses_have_defaults_and_stay_off_the_public_ports() {
        Jail::expect_with(|jail| {
            let s = load_in(jail).unwrap();
            assert_eq!(s.ingest_ops_addr.to_string(), "127.0.0.1:9080");
            assert_eq!(s.admin_ops_addr.to_string(), "127.0.0.1:9081");
            jail.set_env("HERALD_INGEST_OPS_ADDR", "0.0.0.0:9100");
            jail.set_env("HERALD_ADMIN_OPS_ADDR", "0.0.0.0:9101");
            let s = load_in(jail).unwrap();
            assert_eq!(s.ingest_ops_addr.to_string(), "0.0.0.0:9100");
            assert_eq!(s.admin_ops_addr.to_string(), "0.0.0.0:9101");
            assert_eq!(
                s.admin.token_lifetime_secs, 900,
                "not read as an admin field"
            );

            jail.set_env("HERALD_ADMIN_OPS_ADDR", "nine thousand");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_ADMIN_OPS_ADDR"), "{e}");
            jail.set_env("HERALD_ADMIN_OPS_ADDR", "127.0.0.1:8081");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.starts_with(
                    "configuration: HERALD_ADMIN_OPS_ADDR: 127.0.0.1:8081 is HERALD_ADMIN_ADDR too"
                ),
                "{e}"
            );
            jail.set_env("HERALD_ADMIN_OPS_ADDR", "127.0.0.1:9081");
            jail.set_env("HERALD_INGEST_ADDR", "127.0.0.1:9100");
            jail.set_env("HERALD_INGEST_OPS_ADDR", "127.0.0.1:9100");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_INGEST_OPS_ADDR"), "{e}");
            // Any free port, for both (as the tests bind them): no clash.
            jail.set_env("HERALD_INGEST_ADDR", "127.0.0.1:0");
            jail.set_env("HERALD_INGEST_OPS_ADDR", "127.0.0.1:0");
            assert_eq!(load_in(jail).unwrap().ingest_ops_addr.port(), 0);
            Ok(())
        });
    }

    #[test]
    fn signal_ttl_is_from_one_second_to_thirty_days() {
        Jail::expect_with(|jail| {
            assert_eq!(load_in(jail).unwrap().signal_ttl_secs, 900);
            for ok in ["1", "2592000"] {
                jail.set_env("HERALD_SIGNAL_TTL_SECS", ok);
                assert_eq!(load_in(jail).unwrap().signal_ttl_secs.to_string(), ok);
            }
            for bad in ["0", "2592001"] {
                jail.set_env("HERALD_SIGNAL_TTL_SECS", bad);
                let e = load_in(jail).unwrap_err().to_string();
                assert_eq!(
                    e,
                    format!(
                        "configuration: HERALD_SIGNAL_TTL_SECS: must be from 1 to 2592000 \
                         (30 days), got {bad}"
                    )
                );
            }
            Ok(())
        });
    }

    #[test]
    fn rates_above_telegrams_need_paid_broadcast() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_TELEGRAM_RATE_LIMIT", "31");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.contains("HERALD_TELEGRAM_RATE_LIMIT")
                    && e.contains("HERALD_TELEGRAM_PAID_BROADCAST"),
                "{e}"
            );
            jail.set_env("HERALD_TELEGRAM_PAID_BROADCAST", "true");
            assert_eq!(load_in(jail).unwrap().telegram_rate_limit, 31);
            jail.set_env("HERALD_TELEGRAM_RATE_LIMIT", "1000");
            assert!(load_in(jail).unwrap().telegram_paid_broadcast);
            jail.set_env("HERALD_TELEGRAM_RATE_LIMIT", "1001");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.contains("HERALD_TELEGRAM_RATE_LIMIT") && e.contains("1000"),
                "{e}"
            );
            jail.set_env("HERALD_TELEGRAM_PAID_BROADCAST", "false");
            jail.set_env("HERALD_TELEGRAM_RATE_LIMIT", "0");
            assert_eq!(load_in(jail).unwrap().telegram_rate_limit, 0);
            Ok(())
        });
    }

    #[test]
    fn token_is_never_printed() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_TELEGRAM_TOKEN", "123:very-secret");
            let s = load_in(jail).unwrap();
            assert!(!format!("{s:?}").contains("very-secret"));
            assert!(!serde_json::to_string(&s).unwrap().contains("very-secret"));
            Ok(())
        });
    }

    #[test]
    fn trace_settings_are_checked_and_the_endpoint_never_printed() {
        Jail::expect_with(|jail| {
            let s = load_in(jail).unwrap();
            assert!(s.otlp_endpoint.is_none());
            assert_eq!(s.trace_delivery_ratio, 0.01);
            jail.set_env(
                "HERALD_OTLP_ENDPOINT",
                "https://user:hunter2@collector:4318",
            );
            jail.set_env("HERALD_TRACE_DELIVERY_RATIO", "1");
            let s = load_in(jail).unwrap();
            assert_eq!(s.trace_delivery_ratio, 1.0);
            assert!(!format!("{s:?}").contains("hunter2"));
            assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
            jail.set_env("HERALD_TRACE_DELIVERY_RATIO", "1.5");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.starts_with("configuration: HERALD_TRACE_DELIVERY_RATIO: "),
                "{e}"
            );
            jail.set_env("HERALD_TRACE_DELIVERY_RATIO", "0");
            jail.set_env("HERALD_OTLP_ENDPOINT", "tracebox:4318");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.starts_with("configuration: HERALD_OTLP_ENDPOINT: "),
                "{e}"
            );
            assert!(!e.contains("tracebox"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn stream_replicas_are_from_one_to_five() {
        Jail::expect_with(|jail| {
            assert_eq!(load_in(jail).unwrap().nats_stream_replicas, 1);
            jail.set_env("HERALD_NATS_STREAM_REPLICAS", "3");
            assert_eq!(load_in(jail).unwrap().nats_stream_replicas, 3);
            for bad in ["0", "6"] {
                jail.set_env("HERALD_NATS_STREAM_REPLICAS", bad);
                let e = load_in(jail).unwrap_err().to_string();
                assert!(
                    e.starts_with("configuration: HERALD_NATS_STREAM_REPLICAS: "),
                    "{e}"
                );
            }
            Ok(())
        });
    }

    #[test]
    fn nats_credentials_are_checked_and_never_printed() {
        Jail::expect_with(|jail| {
            jail.set_env("HERALD_NATS_NKEY_SEED", "SUAVERYSECRETSEED");
            let s = load_in(jail).unwrap();
            assert!(!format!("{s:?}").contains("VERYSECRET"));
            assert!(!serde_json::to_string(&s).unwrap().contains("VERYSECRET"));

            jail.set_env("HERALD_NATS_NKEY_SEED", "not-a-seed-secret");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_NATS_NKEY_SEED"), "{e}");
            assert!(!e.contains("not-a-seed-secret"), "{e}");

            jail.set_env("HERALD_NATS_NKEY_SEED", "SUAVERYSECRETSEED");
            jail.set_env("HERALD_NATS_URL", "nats://herald:pw@nats:4222");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.contains("HERALD_NATS_NKEY_SEED: give NATS credentials in one way"),
                "{e}"
            );
            assert!(!e.contains("pw@"), "{e}");

            jail.clear_env();
            jail.set_env("HERALD_NATS_CREDS", "/nonexistent/herald.creds");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.contains("HERALD_NATS_CREDS: cannot read /nonexistent/herald.creds"),
                "{e}"
            );
            Ok(())
        });
    }

    #[test]
    fn admin_settings_are_a_section_with_herald_admin_names_and_the_key_is_never_printed() {
        Jail::expect_with(|jail| {
            let s = load_in(jail).unwrap();
            assert_eq!(s.admin.token_lifetime_secs, 900);
            assert_eq!(s.admin.login_code_ttl_secs, 300);
            assert!(s.admin.jwt_secret.is_none() && !s.trust_forwarded_for);
            jail.set_env("HERALD_ADMIN_TOKEN_LIFETIME_SECS", "600");
            jail.set_env("HERALD_ADMIN_LOGIN_CODE_TTL_SECS", "120");
            jail.set_env("HERALD_TRUST_FORWARDED_FOR", "true");
            jail.set_env(
                "HERALD_ADMIN_JWT_SECRET",
                "a-very-secret-key-of-thirty-two-chars!",
            );
            let s = load_in(jail).unwrap();
            assert_eq!(s.admin.token_lifetime_secs, 600);
            assert_eq!(s.admin.login_code_ttl_secs, 120);
            assert!(s.trust_forwarded_for);
            assert!(!format!("{s:?}").contains("very-secret"));
            assert!(!serde_json::to_string(&s).unwrap().contains("very-secret"));

            jail.set_env("HERALD_ADMIN_JWT_SECRET", "short-secret");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(
                e.contains("HERALD_ADMIN_JWT_SECRET: must be at least 32"),
                "{e}"
            );
            assert!(!e.contains("short-secret"), "{e}");
            jail.set_env(
                "HERALD_ADMIN_JWT_SECRET",
                "a-very-secret-key-of-thirty-two-chars!",
            );
            jail.set_env("HERALD_ADMIN_TOKEN_LIFETIME_SECS", "5");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_ADMIN_TOKEN_LIFETIME_SECS"), "{e}");
            jail.set_env("HERALD_ADMIN_TOKEN_LIFETIME_SECS", "600");
            jail.set_env("HERALD_ADMIN_LOGIN_CODE_TTL_SECS", "soon");
            let e = load_in(jail).unwrap_err().to_string();
            assert!(e.contains("HERALD_ADMIN_LOGIN_CODE_TTL_SECS"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn missing_token_names_the_setting() {
        let e = Settings::default().require_telegram_token().unwrap_err();
        assert!(e.to_string().contains("HERALD_TELEGRAM_TOKEN"));
    }
}
