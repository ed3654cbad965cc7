//! `herald users set-tier --telegram-id N TIER`: puts a trader on a subscription tier.

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use clap::Subcommand;
use herald_domain::Tier;
use herald_runtime::Settings;
use herald_store::{Store, User};

/// What to do with a trader.
#[derive(Subcommand)]
pub enum Action {
    /// Put a trader on a subscription tier (`herald tiers` lists them).
    SetTier {
        /// The trader's Telegram user id.
        #[arg(long, value_name = "ID")]
        telegram_id: i64,
        /// The tier's name.
        tier: String,
    },
}

/// Runs a users command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let store = crate::tiers::open(settings).await?;
    match action {
        Action::SetTier { telegram_id, tier } => {
            for line in set_tier(&store, telegram_id, tier.trim()).await? {
                println!("{line}");
            }
            Ok(())
        }
    }
}

/// Puts the trader with `telegram_id` on `tier`; returns what changed, in words.
async fn set_tier(store: &Store, telegram_id: i64, tier: &str) -> anyhow::Result<Vec<String>> {
    let now = Utc::now();
    let user = store
        .user_by_telegram_id(telegram_id)
        .await
        .context("looking the trader up")?
        .with_context(|| {
            format!(
                "no trader with Telegram id {telegram_id}: traders are registered when they send /start to the bot"
            )
        })?;
    let tiers = store.list_tiers().await.context("reading the tiers")?;
    let Some(target) = tiers.iter().find(|r| r.tier.name == tier) else {
        let names: Vec<&str> = tiers.iter().map(|r| r.tier.name.as_str()).collect();
        anyhow::bail!(
            "there is no tier {tier:?}; the tiers are {} (`herald tiers set` creates one)",
            names.join(", ")
        );
    };
    let default = tiers
        .iter()
        .find(|r| r.is_default)
        .map_or(Tier::DEFAULT_NAME, |r| r.tier.name.as_str());
    let subscription = store
        .subscription(user.id, now)
        .await
        .context("reading the trader's subscription")?;
    let who = trader(&user);
    let before = subscription.as_ref().and_then(|s| s.tier.as_deref());
    if before == Some(tier) {
        return Ok(vec![format!(
            "{who} is already on tier {tier}; nothing changed"
        )]);
    }
    store
        .set_tier(user.id, tier, now)
        .await
        .with_context(|| format!("putting {who} on tier {tier}"))?;
    let was = match before {
        Some(name) => format!("tier {name}"),
        None => format!("the default tier ({default})"),
    };
    let mut lines = vec![format!("{who}: {was} → tier {tier}")];
    let tier_days = target.tier.expiry.map(|e| e.num_days());
    lines.push(match &subscription {
        None => "not subscribed: the tier applies once they /subscribe".to_string(),
        Some(s) if !s.current => {
            "not subscribed now: the tier applies once they /subscribe again".to_string()
        }
        Some(s) => {
            let follows = format!("subscribed: signals from now on follow tier {tier}");
            let ends = match s.expires_at {
                Some(at) => format!(
                    "their subscription still ends {}",
                    at.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                None => "their subscription still has no end date".to_string(),
            };
            match (s.expires_at, tier_days) {
                (None, None) => follows,
                (_, Some(days)) => format!(
                    "{follows}; {ends}, the tier's {days}-day expiry applies from their next /subscribe"
                ),
                (Some(_), None) => {
                    format!("{follows}; {ends}, and has none from their next /subscribe")
                }
            }
        }
    });
    Ok(lines)
}

/// `trader 7001 (@alice)`, or with the first name when there is no username.
fn trader(user: &User) -> String {
    let name = user
        .username
        .as_ref()
        .map(|u| format!("@{u}"))
        .or_else(|| user.first_name.clone());
    match name {
        Some(name) => format!("trader {} ({name})", user.telegram_id),
        None => format!("trader {}", user.telegram_id),
    }
}
