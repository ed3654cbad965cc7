//! `herald destinations add|list|remove`: the channels, groups and forum topics signals go to
//! besides traders' private chats — the CLI beside `/api/destinations` and `/api/bot-chats`.
//!
//! Every option is checked by clap with the domain's own parsers (a bad value exits with
//! status 2 naming the option); a chat (and topic) already registered, or an id that is
//! unknown or removed, is a one-line error (status 1). Each change is written to the audit
//! log with the actor `cli` (`destination.add`, `destination.remove`).

use anyhow::Context as _;
use chrono::{SecondsFormat, Utc};
use clap::{Args, Subcommand};
use herald_domain::{Asset, Language, SignalFormat, SignalKind};
use herald_runtime::Settings;
use herald_store::{BotChat, Destination, NewDestination, Store, StoreError};
use uuid::Uuid;

use crate::api_key::audit;
use crate::args::{Assets, Kinds, kind_list, parse_assets};

/// What to do with destinations.
#[derive(Subcommand)]
pub enum Action {
    /// Register a channel, group or forum topic to send signals to, with its own filters,
    /// format and language.
    Add(AddArgs),
    /// List the destinations (whether signals go there, and why not) and the groups and
    /// channels the bot is in.
    List {
        /// Also list removed destinations.
        #[arg(long)]
        all: bool,
    },
    /// Remove a destination: nothing more is sent there, and what waits for it is skipped.
    Remove {
        /// The destination's id (from `herald destinations list`).
        id: Uuid,
    },
}

/// `herald destinations add`.
#[derive(Args)]
pub struct AddArgs {
    /// The group's or channel's chat id: negative, e.g. -1001234567890 (`herald destinations
    /// list` shows the chats the bot is in).
    #[arg(long, value_name = "CHAT_ID", allow_negative_numbers = true, value_parser = parse_chat)]
    chat: i64,
    /// A forum topic's id (message_thread_id), to send to that topic only.
    #[arg(long, value_name = "THREAD_ID", value_parser = clap::value_parser!(i32).range(1..))]
    topic: Option<i32>,
    /// A name to recognise it by: 1-100 characters.
    #[arg(long, value_parser = parse_name)]
    name: String,
    /// The kinds of signal it gets, comma-separated, of buy, sell, close, alert [default:
    /// all of them].
    #[arg(long, value_name = "KINDS", value_parser = parse_kinds)]
    kinds: Option<Kinds>,
    /// The assets it gets, comma-separated (e.g. BTC/USD,ETH/USD), or `all` [default: all].
    #[arg(long, value_name = "ASSETS|all", value_parser = parse_assets)]
    assets: Option<Assets>,
    /// Signals under this confidence are not sent there.
    #[arg(long, value_name = "0-100", default_value_t = 0,
        value_parser = clap::value_parser!(u8).range(0..=100))]
    min_confidence: u8,
    /// The messages' layout: detailed or compact.
    #[arg(long, value_name = "detailed|compact", default_value = "detailed")]
    format: SignalFormat,
    /// The messages' language: en or es.
    #[arg(long, value_name = "en|es", default_value = "en")]
    language: Language,
}

/// The longest name.
const MAX_NAME: usize = 100;

/// Runs a destinations command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let store = crate::tiers::open(settings).await?;
    match action {
        Action::Add(args) => {
            let (added, note) = add(&store, args).await?;
            println!("{added}");
            if let Some(note) = note {
                eprintln!("{note}");
            }
        }
        Action::List { all } => print!("{}", list(&store, all).await?),
        Action::Remove { id } => println!("{}", remove(&store, id).await?),
    }
    Ok(())
}

/// Registers the destination; returns what was added, in words, and a note when the bot is
/// not known to be in the chat.
async fn add(store: &Store, args: AddArgs) -> anyhow::Result<(String, Option<String>)> {
    let new = NewDestination {
        chat_id: args.chat,
        thread_id: args.topic,
        name: args.name,
        kinds: args.kinds.map_or_else(|| SignalKind::ALL.into(), |k| k.0),
        assets: args.assets.map(|a| a.0).unwrap_or_default(),
        min_confidence: args.min_confidence,
        format: args.format,
        language: args.language,
        created_by: "cli".into(),
    };
    let place = place(new.chat_id, new.thread_id);
    let current = store
        .destinations(false)
        .await
        .context("reading the destinations")?;
    if let Some(taken) = current
        .iter()
        .find(|d| d.chat_id == new.chat_id && d.thread_id == new.thread_id)
    {
        anyhow::bail!(
            "{place} is already destination {} ({:?}); `herald destinations remove {}` first to register it again",
            taken.id,
            taken.name,
            taken.id
        );
    }
    let stored = match store.add_destination(&new, Utc::now()).await {
        Ok(stored) => stored,
        Err(StoreError::Invalid(why)) => anyhow::bail!("{why}"),
        // Registered meanwhile by someone else (the unique index)?
        Err(e) => {
            let taken = store.destinations(false).await.is_ok_and(|now| {
                now.iter()
                    .any(|d| d.chat_id == new.chat_id && d.thread_id == new.thread_id)
            });
            anyhow::ensure!(!taken, "{place} is already a destination");
            return Err(e).with_context(|| format!("registering {place}"));
        }
    };
    audit(
        store,
        "destination.add",
        format!("destination:{}", stored.id),
        Some(serde_json::json!({
            "chat_id": stored.chat_id,
            "thread_id": stored.thread_id,
            "name": stored.name,
            "kinds": stored.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "assets": stored.assets.iter().map(Asset::as_str).collect::<Vec<_>>(),
            "min_confidence": stored.min_confidence,
            "format": stored.format.as_str(),
            "language": stored.language.code(),
        })),
    )
    .await?;
    let chats = store.bot_chats().await.context("reading the bot's chats")?;
    let note = match chats.iter().find(|c| c.chat_id == stored.chat_id) {
        Some(chat) if chat.bot_is_in() => None,
        Some(chat) => Some(format!(
            "warning: the bot is not in chat {} (its status there: {}); add it back, or nothing can be sent there",
            chat.chat_id, chat.status
        )),
        None => Some(format!(
            "note: Herald has not seen the bot join chat {}; make sure the bot is a member there (an administrator, in a channel)",
            stored.chat_id
        )),
    };
    let [kinds, assets] = filters(&stored);
    Ok((
        format!(
            "added destination {} ({:?}): {place}; kinds {kinds}; assets {assets}; min confidence {}; format {}; language {}",
            stored.id,
            stored.name,
            stored.min_confidence,
            stored.format.as_str(),
            stored.language.code(),
        ),
        note,
    ))
}

/// Removes the destination; returns what was removed, in words.
async fn remove(store: &Store, id: Uuid) -> anyhow::Result<String> {
    let destination = store
        .destination(id)
        .await
        .context("looking the destination up")?
        .with_context(|| {
            format!("there is no destination {id} (`herald destinations list --all` lists them)")
        })?;
    let removed = store
        .remove_destination(id, Utc::now())
        .await
        .with_context(|| format!("removing destination {id}"))?;
    anyhow::ensure!(
        removed,
        "destination {id} ({:?}) was removed already",
        destination.name
    );
    audit(
        store,
        "destination.remove",
        format!("destination:{id}"),
        Some(serde_json::json!({
            "name": destination.name,
            "chat_id": destination.chat_id,
            "thread_id": destination.thread_id,
        })),
    )
    .await?;
    Ok(format!(
        "removed destination {id} ({:?}, {}): nothing more is sent there",
        destination.name,
        place(destination.chat_id, destination.thread_id)
    ))
}

/// The destinations and the bot's chats, as two tables.
async fn list(store: &Store, all: bool) -> anyhow::Result<String> {
    let destinations = store
        .destinations(all)
        .await
        .context("reading the destinations")?;
    let chats = store.bot_chats().await.context("reading the bot's chats")?;
    Ok(format!(
        "{}\n{}",
        destinations_table(&destinations),
        chats_table(&chats)
    ))
}

fn destinations_table(destinations: &[Destination]) -> String {
    let mut out = String::from("Destinations:\n");
    if destinations.is_empty() {
        out.push_str("  none: `herald destinations add --chat ID --name NAME` registers one\n");
        return out;
    }
    let mut rows = vec![
        [
            "ID",
            "NAME",
            "CHAT",
            "TOPIC",
            "KINDS",
            "ASSETS",
            "MIN CONFIDENCE",
            "FORMAT",
            "LANGUAGE",
            "STATUS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for d in destinations {
        let status = if d.removed_at.is_some() {
            "removed".to_string()
        } else if d.active {
            "active".to_string()
        } else {
            match &d.inactive_reason {
                Some(why) => format!("inactive: {why}"),
                None => "inactive".to_string(),
            }
        };
        let [kinds, assets] = filters(d);
        rows.push(vec![
            d.id.to_string(),
            d.name.clone(),
            d.chat_id.to_string(),
            d.thread_id.map_or("-".into(), |t| t.to_string()),
            kinds,
            assets,
            d.min_confidence.to_string(),
            d.format.as_str().to_string(),
            d.language.code().to_string(),
            status,
        ]);
    }
    out.push_str(&columns(&rows));
    out
}

fn chats_table(chats: &[BotChat]) -> String {
    let mut out = String::from("Groups and channels of the bot (as Telegram last told):\n");
    if chats.is_empty() {
        out.push_str(
            "  none yet: they are recorded when the bot is added to a group or channel while the command-bot runs\n",
        );
        return out;
    }
    let mut rows = vec![
        ["CHAT", "KIND", "TITLE", "FORUM", "BOT", "SINCE"]
            .map(String::from)
            .to_vec(),
    ];
    for c in chats {
        let bot = if c.bot_is_in() {
            c.status.clone()
        } else {
            format!("{} (cannot post)", c.status)
        };
        rows.push(vec![
            c.chat_id.to_string(),
            c.kind.clone(),
            c.title.clone().unwrap_or_else(|| "-".into()),
            if c.is_forum { "yes" } else { "no" }.to_string(),
            bot,
            c.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        ]);
    }
    out.push_str(&columns(&rows));
    out
}

/// Rows as lined-up columns, two spaces apart, no trailing blanks.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..count)
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

/// The kinds and assets as `add` takes them back (`all` for every asset).
fn filters(d: &Destination) -> [String; 2] {
    let kinds: Vec<&str> = d.kinds.iter().map(|k| k.as_str()).collect();
    let assets = if d.assets.is_empty() {
        "all".to_string()
    } else {
        d.assets
            .iter()
            .map(Asset::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    [kinds.join(","), assets]
}

/// `chat -100… topic 7`.
fn place(chat_id: i64, thread_id: Option<i32>) -> String {
    match thread_id {
        Some(topic) => format!("chat {chat_id} topic {topic}"),
        None => format!("chat {chat_id}"),
    }
}

fn parse_chat(s: &str) -> Result<i64, String> {
    let id: i64 = s.trim().parse().map_err(|_| {
        format!("{s:?} is not a chat id: expected a negative number such as -1001234567890")
    })?;
    if id >= 0 {
        return Err(format!(
            "{id} is not a group's or channel's chat id, which is negative (e.g. -1001234567890); traders get signals in their own chats by subscribing"
        ));
    }
    Ok(id)
}

fn parse_name(s: &str) -> Result<String, String> {
    let name = s.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(format!("a name must be 1 to {MAX_NAME} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name must not contain control characters".into());
    }
    Ok(name.to_string())
}

fn parse_kinds(s: &str) -> Result<Kinds, String> {
    let kinds = kind_list(s)?;
    if kinds.is_empty() {
        return Err("name at least one of buy, sell, close, alert".into());
    }
    Ok(Kinds(kinds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_and_checked() {
        assert_eq!(parse_chat("-1001234567890").unwrap(), -1_001_234_567_890);
        assert!(parse_chat("42").unwrap_err().contains("negative"));
        assert!(parse_chat("0").unwrap_err().contains("negative"));
        assert!(parse_chat("@vip").unwrap_err().contains("\"@vip\""));

        assert_eq!(parse_name("  VIP  ").unwrap(), "VIP");
        assert!(parse_name(" ").unwrap_err().contains("1 to 100"));
        assert!(
            parse_name(&"x".repeat(101))
                .unwrap_err()
                .contains("1 to 100")
        );
        assert!(parse_name("a\tb").unwrap_err().contains("control"));

        let kinds = parse_kinds("SELL, buy").unwrap().0;
        assert_eq!(kinds, [SignalKind::Buy, SignalKind::Sell].into());
        assert!(parse_kinds("buy,hold").unwrap_err().contains("\"hold\""));
        assert!(parse_kinds(",").unwrap_err().contains("at least one"));

        assert!(parse_assets("All").unwrap().0.is_empty());
        assert_eq!(parse_assets("btc/usd, ETH/USD").unwrap().0.len(), 2);
        assert!(parse_assets("BTC/USD/EUR").is_err());
        assert!(parse_assets(" , ").is_err());
    }

    #[test]
    fn tables_line_up() {
        let rows = [
            vec!["A".to_string(), "LONG HEADER".into(), "C".into()],
            vec!["wide cell".to_string(), "x".into(), "".into()],
        ];
        assert_eq!(columns(&rows), "A          LONG HEADER  C\nwide cell  x\n");
    }
}
