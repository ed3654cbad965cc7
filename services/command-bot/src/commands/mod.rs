//! The commands traders can send, one file each. Every reply is HTML (parse mode) and escapes
//! whatever came from the trader.

pub mod help;
pub mod start;
pub mod subscribe;

use chrono::Utc;
use herald_store::{Store, StoreError, TelegramProfile};
use teloxide::types::Message;
use teloxide::utils::command::BotCommands;

/// The reply when a command fails on our side.
pub const SORRY: &str = "😕 Something went wrong on our side. Please try again in a minute.";

/// The commands, as registered with Telegram (`setMyCommands`) and parsed from chat.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase")]
pub enum Command {
    /// Register and get a welcome.
    #[command(description = "register and see how Herald works")]
    Start,
    /// List the commands.
    #[command(description = "list the commands")]
    Help,
    /// Start receiving signals.
    #[command(description = "receive trading signals")]
    Subscribe,
    /// Stop receiving signals.
    #[command(description = "stop receiving trading signals")]
    Unsubscribe,
}

impl Command {
    /// The command's name, for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Help => "help",
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
        }
    }
}

/// The answer to a command other than /help sent in a group: signals go to the private chat
/// a trader registers from, so registering from a group would send them to the group.
pub const PRIVATE_ONLY: &str =
    "I take commands in a private chat only: open a chat with me and send /start there.";

/// Answers `cmd` sent in `msg`.
pub async fn answer(store: &Store, msg: &Message, cmd: Command) -> Result<String, StoreError> {
    let now = Utc::now();
    if !msg.chat.is_private() && cmd != Command::Help {
        return Ok(PRIVATE_ONLY.to_string());
    }
    Ok(match cmd {
        Command::Help => help::text(),
        Command::Start => {
            let registration = store.register_user(&profile(msg), now).await?;
            let subscribed = store.is_subscribed(registration.user.id, now).await?;
            start::welcome(&registration, subscribed)
        }
        Command::Subscribe => {
            let registration = store.register_user(&profile(msg), now).await?;
            let change = store.subscribe(registration.user.id, now).await?;
            subscribe::subscribed(change)
        }
        Command::Unsubscribe => {
            let registration = store.register_user(&profile(msg), now).await?;
            let change = store.unsubscribe(registration.user.id, now).await?;
            subscribe::unsubscribed(change)
        }
    })
}

/// Who sent `msg`, as the store records traders. A message without a sender (a channel
/// post) is attributed to its chat.
pub fn profile(msg: &Message) -> TelegramProfile {
    match &msg.from {
        Some(user) => TelegramProfile {
            telegram_id: user.id.0 as i64,
            chat_id: msg.chat.id.0,
            username: user.username.clone(),
            first_name: Some(user.first_name.clone()).filter(|n| !n.is_empty()),
            last_name: user.last_name.clone(),
        },
        None => TelegramProfile {
            telegram_id: msg.chat.id.0,
            chat_id: msg.chat.id.0,
            username: msg.chat.username().map(str::to_string),
            first_name: msg.chat.first_name().map(str::to_string),
            last_name: msg.chat.last_name().map(str::to_string),
        },
    }
}
