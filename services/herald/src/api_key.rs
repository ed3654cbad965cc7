//! `herald api-key create|list|revoke`: the CLI beside `POST|GET|DELETE /api/keys`.
//!
//! `create` prints the new key as the only line on stdout (so `KEY=$(herald api-key create
//! --name engine)` works); only its hash is stored. Without `--scope` a key may post signals
//! (`signals:write`), as every key could before scopes existed. Each change is written to
//! the audit log with the actor `cli`.

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use clap::Subcommand;
use herald_auth::IpAllowList;
use herald_domain::Scope;
use herald_runtime::Settings;
use herald_store::{AuditEvent, NewApiKey, Store};
use uuid::Uuid;

/// What to do with API keys.
#[derive(Subcommand)]
pub enum Action {
    /// Create a key and print it (shown once; only its hash is kept).
    Create {
        /// A name to recognise the key by, e.g. `signal-engine-prod`.
        #[arg(long)]
        name: String,
        /// What it may do: `signals:write` (post signals; the default) or `stats:read`
        /// (`GET /api/stats`). Repeat for several.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
        /// A network it may be used from (`10.0.0.0/8`, `203.0.113.7`). Repeat for several;
        /// none for any address.
        #[arg(long = "allow-ip", value_name = "CIDR")]
        allow_ips: Vec<String>,
        /// Requests per second it may make on each replica; no limit when absent.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: Option<u32>,
    },
    /// List the keys (never their secrets).
    List {
        /// Also list revoked keys.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a key by id; every replica refuses it within `HERALD_INGEST_KEY_CACHE_TTL_SECS`.
    Revoke {
        /// The key's id (from `herald api-key list`).
        id: Uuid,
    },
}

/// Runs an api-key command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let store = Store::open(&settings.database_url).await?;
    match action {
        Action::Create {
            name,
            scopes,
            allow_ips,
            rate_limit,
        } => {
            let key = create_with(&store, &name, scopes, &allow_ips, rate_limit).await?;
            println!("{key}");
            eprintln!("created API key {name:?}; store it now, it is not shown again");
        }
        Action::List { all } => {
            for key in store.list_api_keys(all).await? {
                let when = |t: Option<chrono::DateTime<Utc>>| {
                    t.map_or("never".to_string(), |t| {
                        t.to_rfc3339_opts(SecondsFormat::Secs, true)
                    })
                };
                println!(
                    "{}  {}…  {:<24} scopes={} ips={} rate={} last_used={}{}",
                    key.id,
                    key.key_prefix,
                    key.name,
                    key.scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    if key.allowed_ips.is_empty() {
                        "any".to_string()
                    } else {
                        key.allowed_ips.join(",")
                    },
                    key.rate_limit
                        .map_or("unlimited".to_string(), |r| format!("{r}/s")),
                    when(key.last_used_at),
                    key.revoked_at
                        .map(|t| format!(" REVOKED {}", when(Some(t))))
                        .unwrap_or_default(),
                );
            }
        }
        Action::Revoke { id } => {
            if store.revoke_api_key(id, Utc::now()).await? {
                audit(&store, "key.revoke", format!("key:{id}"), None).await?;
                eprintln!("revoked API key {id}");
            } else {
                match store.api_key(id).await? {
                    Some(_) => eprintln!("API key {id} was already revoked"),
                    None => anyhow::bail!("there is no API key {id} (`herald api-key list --all`)"),
                }
            }
        }
    }
    Ok(())
}

/// Creates a Signal Engine key (`signals:write`, any address, no limit) named `name` and
/// returns its text.
pub async fn create(store: &Store, name: &str) -> anyhow::Result<String> {
    create_with(store, name, Vec::new(), &[], None).await
}

async fn create_with(
    store: &Store,
    name: &str,
    scopes: Vec<Scope>,
    allow_ips: &[String],
    rate_limit: Option<u32>,
) -> anyhow::Result<String> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 100,
        "--name must be 1-100 characters"
    );
    let allowed = IpAllowList::parse(allow_ips).context("--allow-ip")?;
    let scopes = if scopes.is_empty() {
        vec![Scope::SignalsWrite]
    } else {
        scopes
    };
    let generated = herald_auth::generate();
    let mut key = NewApiKey::ingest(name, &generated.hash, &generated.prefix);
    key.scopes = scopes;
    key.allowed_ips = allowed.to_strings();
    key.rate_limit = rate_limit;
    let stored = store.create_api_key(key, Utc::now()).await?;
    audit(
        store,
        "key.create",
        format!("key:{}", stored.id),
        Some(serde_json::json!({
            "name": stored.name,
            "scopes": stored.scopes,
            "allowed_ips": stored.allowed_ips,
            "rate_limit": stored.rate_limit,
        })),
    )
    .await?;
    Ok(herald_auth::reveal(&generated).to_string())
}

/// Records a change made from the CLI in the audit log.
pub async fn audit(
    store: &Store,
    action: &str,
    target: String,
    details: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    store
        .record_audit(
            AuditEvent {
                actor: "cli".into(),
                action: action.into(),
                target: Some(target),
                source: None,
                details,
            },
            Utc::now(),
        )
        .await
        .context("writing the audit log")?;
    Ok(())
}
