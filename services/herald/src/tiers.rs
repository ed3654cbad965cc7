//! `herald tiers [list]` and `herald tiers set NAME [options]`: the subscription tiers (which
//! signals each carries, how late, for how long) and which one traders get by default.

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use clap::{Args, Subcommand};
use herald_domain::{Asset, Tier};
use herald_runtime::Settings;
use herald_store::{Store, TierRecord, redact_url};

use crate::args::{Assets, Kinds, kind_list, parse_assets};
use crate::deliveries::parse_duration;

/// What to do with the tiers (`herald tiers` alone lists them).
#[derive(Subcommand)]
pub enum Action {
    /// List every tier: what it carries, its delay and expiry, and which is the default.
    List,
    /// Create a tier, or change an existing one's options (those not given are kept).
    Set(SetArgs),
}

/// `herald tiers set`.
#[derive(Args)]
pub struct SetArgs {
    /// The tier's name: 1-32 characters of a-z, 0-9, - and _.
    #[arg(value_parser = parse_name)]
    name: String,
    /// The kinds of signal it carries, comma-separated, of buy, sell, close, alert [new tier:
    /// all of them].
    #[arg(long, value_name = "KINDS", value_parser = parse_kinds)]
    kinds: Option<Kinds>,
    /// The assets it carries, comma-separated (e.g. BTC/USD,ETH/USD), or `all` [new tier:
    /// all].
    #[arg(long, value_name = "ASSETS|all", value_parser = parse_assets)]
    assets: Option<Assets>,
    /// Signals under this confidence are not for the tier [new tier: 0].
    #[arg(long, value_name = "0-100", value_parser = clap::value_parser!(u8).range(0..=100))]
    min_confidence: Option<u8>,
    /// How long after a signal the tier's traders get it, e.g. 15m; at most 24h; 0 for at
    /// once [new tier: 0].
    #[arg(long, value_name = "DURATION", value_parser = parse_delay)]
    delay: Option<TimeDelta>,
    /// How long a subscription on the tier lasts, in days (e.g. 30d), or `never` [new tier:
    /// never].
    #[arg(long, value_name = "DAYS|never", value_parser = parse_expiry)]
    expiry: Option<Expiry>,
    /// Make it the tier of every trader not given another, in place of the current default.
    #[arg(long)]
    default: bool,
}

/// `--expiry`: `None` for `never`.
#[derive(Debug, Clone, Copy)]
pub struct Expiry(Option<TimeDelta>);

/// The longest `--expiry` taken.
const MAX_EXPIRY_DAYS: i64 = 3_650;

/// Runs a tiers command; `None` lists.
pub async fn run(settings: &Settings, action: Option<Action>) -> anyhow::Result<()> {
    let store = open(settings).await?;
    match action.unwrap_or(Action::List) {
        Action::List => {
            let tiers = store.list_tiers().await.context("reading the tiers")?;
            print!("{}", table(&tiers));
            Ok(())
        }
        Action::Set(args) => {
            println!("{}", set(&store, args).await?);
            Ok(())
        }
    }
}

/// The database of the settings, its schema created or brought up to date (as `herald
/// api-key` does), for the tiers and users commands.
pub async fn open(settings: &Settings) -> anyhow::Result<Store> {
    Store::open(&settings.database_url).await.with_context(|| {
        format!(
            "opening the database {}",
            redact_url(&settings.database_url)
        )
    })
}

/// Creates or updates the tier; returns what changed, in words.
async fn set(store: &Store, args: SetArgs) -> anyhow::Result<String> {
    let tiers = store.list_tiers().await.context("reading the tiers")?;
    let current = tiers.iter().find(|r| r.tier.name == args.name);
    let mut tier = current.map_or_else(
        || Tier {
            name: args.name.clone(),
            ..Tier::standard()
        },
        |r| r.tier.clone(),
    );
    if let Some(Kinds(kinds)) = args.kinds {
        tier.kinds = kinds;
    }
    if let Some(Assets(assets)) = args.assets {
        tier.assets = assets;
    }
    if let Some(min_confidence) = args.min_confidence {
        tier.min_confidence = min_confidence;
    }
    if let Some(delay) = args.delay {
        tier.delay = delay;
    }
    if let Some(Expiry(expiry)) = args.expiry {
        tier.expiry = expiry;
    }
    tier.validate()
        .map_err(|e| anyhow::anyhow!("tier {}: {e}", tier.name))?;
    let was_default = current.is_some_and(|r| r.is_default);
    let becomes_default = args.default && !was_default;
    store
        .upsert_tier(&tier, args.default, Utc::now())
        .await
        .with_context(|| format!("saving tier {}", tier.name))?;

    let mut changes: Vec<String> = match current {
        None => describe(&tier)
            .into_iter()
            .map(|(what, value)| format!("{what} {value}"))
            .collect(),
        Some(before) => describe(&before.tier)
            .into_iter()
            .zip(describe(&tier))
            .filter(|((_, old), (_, new))| old != new)
            .map(|((what, old), (_, new))| format!("{what} {old} → {new}"))
            .collect(),
    };
    if becomes_default {
        let previous = tiers.iter().find(|r| r.is_default).map(|r| &r.tier.name);
        changes.push(match previous {
            Some(previous) => format!("now the default tier, in place of {previous}"),
            None => "now the default tier".to_string(),
        });
    }
    Ok(match (current, changes.is_empty()) {
        (None, _) => format!("created tier {}: {}", tier.name, changes.join("; ")),
        (Some(_), true) => format!("tier {} unchanged", tier.name),
        (Some(_), false) => format!("updated tier {}: {}", tier.name, changes.join("; ")),
    })
}

/// What `herald tiers` shows of a tier, by column, apart from its name and default marker.
fn describe(tier: &Tier) -> [(&'static str, String); 5] {
    let kinds: Vec<&str> = tier.kinds.iter().map(|k| k.as_str()).collect();
    let assets = if tier.assets.is_empty() {
        "all".to_string()
    } else {
        let assets: Vec<&str> = tier.assets.iter().map(Asset::as_str).collect();
        assets.join(",")
    };
    [
        ("kinds", kinds.join(",")),
        ("assets", assets),
        ("min confidence", tier.min_confidence.to_string()),
        ("delay", duration(tier.delay)),
        (
            "expiry",
            tier.expiry.map_or_else(|| "never".into(), duration),
        ),
    ]
}

/// The tiers as a table with a header line.
fn table(tiers: &[TierRecord]) -> String {
    if tiers.is_empty() {
        return format!(
            "no tiers: every trader gets the built-in {} tier; `herald tiers set` creates one\n",
            Tier::DEFAULT_NAME
        );
    }
    let header = [
        "TIER",
        "DEFAULT",
        "KINDS",
        "ASSETS",
        "MIN CONFIDENCE",
        "DELAY",
        "EXPIRY",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for record in tiers {
        let default = if record.is_default { "yes" } else { "no" };
        let mut row = vec![record.tier.name.clone(), default.to_string()];
        row.extend(describe(&record.tier).map(|(_, value)| value));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A duration as `herald tiers set` takes it back: `0`, `90s` → `1m30s`, `15m`, `30d`.
fn duration(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    if s == 0 {
        return "0".into();
    }
    [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")]
        .into_iter()
        .scan(s, |left, (unit, name)| {
            let n = *left / unit;
            *left %= unit;
            Some((n, name))
        })
        .filter(|(n, _)| *n > 0)
        .map(|(n, name)| format!("{n}{name}"))
        .collect()
}

// Each option is checked on its own by [`Tier::validate`] (on the standard tier but for the
// value read), so that clap's message names the option and the value with the rule broken.

fn parse_name(s: &str) -> Result<String, String> {
    Tier {
        name: s.to_string(),
        ..Tier::standard()
    }
    .validate()?;
    Ok(s.to_string())
}

fn parse_kinds(s: &str) -> Result<Kinds, String> {
    let kinds = kind_list(s)?;
    Tier {
        kinds: kinds.clone(),
        ..Tier::standard()
    }
    .validate()?;
    Ok(Kinds(kinds))
}

fn parse_delay(s: &str) -> Result<TimeDelta, String> {
    let delay = if s.trim() == "0" {
        TimeDelta::zero()
    } else {
        let d = parse_duration(s)?;
        if d.subsec_nanos() != 0 {
            return Err(format!("{s:?}: the delay is counted in whole seconds"));
        }
        TimeDelta::from_std(d).map_err(|_| format!("{s:?} is too long"))?
    };
    Tier {
        delay,
        ..Tier::standard()
    }
    .validate()?;
    Ok(delay)
}

fn parse_expiry(s: &str) -> Result<Expiry, String> {
    if s.trim().eq_ignore_ascii_case("never") {
        return Ok(Expiry(None));
    }
    let d = parse_duration(s)?;
    let whole_days = d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(86_400);
    if !whole_days {
        return Err(format!(
            "{s:?}: an expiry is counted in whole days, e.g. 30d (or never)"
        ));
    }
    let days = i64::try_from(d.as_secs() / 86_400).unwrap_or(i64::MAX);
    if days > MAX_EXPIRY_DAYS {
        return Err(format!(
            "{s:?}: an expiry may be at most {MAX_EXPIRY_DAYS}d; never for none"
        ));
    }
    let expiry = Some(TimeDelta::days(days));
    Tier {
        expiry,
        ..Tier::standard()
    }
    .validate()?;
    Ok(Expiry(expiry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::SignalKind;

    #[test]
    fn durations_print_as_they_are_typed() {
        assert_eq!(duration(TimeDelta::zero()), "0");
        assert_eq!(duration(TimeDelta::minutes(15)), "15m");
        assert_eq!(duration(TimeDelta::seconds(90)), "1m30s");
        assert_eq!(duration(TimeDelta::days(30)), "30d");
        assert_eq!(duration(TimeDelta::hours(25)), "1d1h");
        for d in ["15m", "1m30s", "2h", "1d1h"] {
            assert_eq!(duration(parse_delay_unchecked(d)), d);
        }
    }

    fn parse_delay_unchecked(s: &str) -> TimeDelta {
        TimeDelta::from_std(parse_duration(s).unwrap()).unwrap()
    }

    #[test]
    fn options_are_read_and_checked() {
        assert_eq!(parse_delay("0").unwrap(), TimeDelta::zero());
        assert_eq!(parse_delay("15m").unwrap(), TimeDelta::minutes(15));
        assert!(parse_delay("25h").unwrap_err().contains("24 hours"));
        assert!(parse_delay("1500ms").unwrap_err().contains("whole seconds"));
        assert!(parse_delay("soon").unwrap_err().contains("\"soon\""));

        assert_eq!(parse_expiry("never").unwrap().0, None);
        assert_eq!(parse_expiry("30d").unwrap().0, Some(TimeDelta::days(30)));
        assert_eq!(parse_expiry("48h").unwrap().0, Some(TimeDelta::days(2)));
        assert!(parse_expiry("36h").unwrap_err().contains("whole days"));
        assert!(parse_expiry("99999d").unwrap_err().contains("at most"));

        let kinds = parse_kinds("SELL, buy").unwrap().0;
        assert_eq!(kinds, [SignalKind::Buy, SignalKind::Sell].into());
        assert!(parse_kinds("buy,hold").unwrap_err().contains("\"hold\""));
        assert!(parse_kinds(",").unwrap_err().contains("at least one"));

        assert!(parse_assets("ALL").unwrap().0.is_empty());
        let assets = parse_assets("btc/usd,ETH/USD").unwrap().0;
        assert_eq!(assets.len(), 2);
        assert!(assets.contains(&Asset::parse("BTC/USD").unwrap()));
        assert!(parse_assets("BTC/USD/EUR").is_err());
        assert!(parse_assets(" , ").is_err());

        assert!(parse_name("gold-2").is_ok());
        assert!(parse_name("Gold").unwrap_err().contains("\"Gold\""));
    }

    #[test]
    fn the_table_lines_up() {
        let gold = Tier {
            name: "gold".into(),
            kinds: [SignalKind::Buy, SignalKind::Sell].into(),
            assets: [Asset::parse("BTC/USD").unwrap()].into(),
            min_confidence: 70,
            delay: TimeDelta::minutes(15),
            expiry: Some(TimeDelta::days(30)),
        };
        let out = table(&[
            TierRecord {
                tier: gold,
                is_default: false,
            },
            TierRecord {
                tier: Tier::standard(),
                is_default: true,
            },
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            [
                "TIER      DEFAULT  KINDS                 ASSETS   MIN CONFIDENCE  DELAY  EXPIRY",
                "gold      no       buy,sell              BTC/USD  70              15m    30d",
                "standard  yes      buy,sell,close,alert  all      0               0      never",
            ],
            "{out}"
        );
    }
}
