//! The commands traders send, one file each: its parsing, its store calls and its replies.
//! This module only names them ([`COMMANDS`], the one source of the command menu, `/help`
//! and `setMyCommands`), recognises them in a message ([`parse`]) and hands off ([`answer`]).
//!
//! Every reply is Telegram HTML from the message catalog (`herald-i18n`), in the trader's
//! language, and escapes whatever came from the trader.

pub mod filter;
pub mod help;
pub mod language;
pub mod performance;
pub mod settings;
pub mod signals;
pub mod start;
pub mod status;
pub mod subscribe;
pub mod unsubscribe;

use chrono::{DateTime, Utc};
use herald_domain::{Language, Preferences};
use herald_store::{Store, StoreError, TelegramProfile, User};
use teloxide::types::{InlineKeyboardMarkup, Message};

use crate::words::{self, t};

/// What the bot answers: HTML text, with buttons or without.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Telegram HTML.
    pub text: String,
    /// Inline buttons under it.
    pub keyboard: Option<InlineKeyboardMarkup>,
}

impl Reply {
    /// Text alone.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            keyboard: None,
        }
    }

    /// Text with buttons.
    pub fn with_keyboard(text: impl Into<String>, keyboard: InlineKeyboardMarkup) -> Self {
        Self {
            text: text.into(),
            keyboard: Some(keyboard),
        }
    }
}

/// A command Herald knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Register, choose a time zone.
    Start,
    /// The command list, or one command explained.
    Help,
    /// The settings menu.
    Settings,
    /// Start signals.
    Subscribe,
    /// Stop signals.
    Unsubscribe,
    /// Filters in one line.
    Filter,
    /// The latest signals.
    Signals,
    /// System status and the trader's subscription.
    Status,
    /// Performance statistics.
    Performance,
    /// Pick a language.
    Language,
}

/// One command as traders see it: its name, how it is written, an example. Its description
/// and explanation are the catalog's `cmd-<name>` and `cmd-<name>-help`.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The command.
    pub command: Command,
    /// Its name, without the slash.
    pub name: &'static str,
    /// How it is written, e.g. `/signals [count]`.
    pub usage: &'static str,
    /// A real use, e.g. `/signals 10`.
    pub example: &'static str,
}

/// Every command, in the order the menu and `/help` list them.
pub const COMMANDS: [CommandSpec; 10] = [
    CommandSpec {
        command: Command::Start,
        name: "start",
        usage: "/start",
        example: "/start",
    },
    CommandSpec {
        command: Command::Help,
        name: "help",
        usage: "/help [command]",
        example: "/help filter",
    },
    CommandSpec {
        command: Command::Settings,
        name: "settings",
        usage: "/settings",
        example: "/settings",
    },
    CommandSpec {
        command: Command::Subscribe,
        name: "subscribe",
        usage: "/subscribe",
        example: "/subscribe",
    },
    CommandSpec {
        command: Command::Unsubscribe,
        name: "unsubscribe",
        usage: "/unsubscribe",
        example: "/unsubscribe",
    },
    CommandSpec {
        command: Command::Filter,
        name: "filter",
        usage: "/filter [key:value …] | reset",
        example: "/filter confidence:80 types:buy,sell hours:08-22",
    },
    CommandSpec {
        command: Command::Signals,
        name: "signals",
        usage: "/signals [count]",
        example: "/signals 10",
    },
    CommandSpec {
        command: Command::Status,
        name: "status",
        usage: "/status",
        example: "/status",
    },
    CommandSpec {
        command: Command::Performance,
        name: "performance",
        usage: "/performance [24h|7d|30d|all]",
        example: "/performance 30d",
    },
    CommandSpec {
        command: Command::Language,
        name: "language",
        usage: "/language [code]",
        example: "/language es",
    },
];

impl Command {
    /// Its row of [`COMMANDS`].
    pub fn spec(self) -> &'static CommandSpec {
        COMMANDS
            .iter()
            .find(|c| c.command == self)
            .expect("every command is listed")
    }

    /// Its name, for metrics and logs.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The command called `name` (any case, without the slash).
    pub fn named(name: &str) -> Option<Self> {
        COMMANDS
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.command)
    }

    /// The one-line description, in `lang`.
    pub fn description(self, lang: Language) -> String {
        t(lang, &format!("cmd-{}", self.name()))
    }

    /// The explanation `/help <command>` gives, in `lang`.
    pub fn explanation(self, lang: Language) -> String {
        t(lang, &format!("cmd-{}-help", self.name()))
    }
}

/// A message that starts with a slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A command Herald knows, and the rest of the message.
    Known(Command, &'a str),
    /// A command Herald does not know (its first word).
    Unknown(&'a str),
    /// A command addressed to another bot (`/start@otherbot` in a group): not for us.
    OtherBot,
}

/// Recognises `/name args` or `/name@bot args` in `text`; `None` if it is not a command.
pub fn parse<'a>(text: &'a str, bot_username: &str) -> Option<Parsed<'a>> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (word, args) = rest.split_at(end);
    let name = match word.split_once('@') {
        Some((name, bot)) if bot.eq_ignore_ascii_case(bot_username) => name,
        Some(_) => return Some(Parsed::OtherBot),
        None => word,
    };
    Some(match Command::named(name) {
        Some(command) => Parsed::Known(command, args.trim()),
        None => Parsed::Unknown(&text[..end + 1]),
    })
}

/// A registered trader and what they chose, as a command sees them.
#[derive(Debug, Clone)]
pub struct Trader {
    /// The trader.
    pub user: User,
    /// Their preferences.
    pub prefs: Preferences,
    /// The version of `prefs` (see [`Store::update_preferences`]).
    pub version: i64,
    /// This message registered them.
    pub created: bool,
    /// They had blocked the bot and are back (their subscription was paused).
    pub returned: bool,
}

impl Trader {
    /// Registers the sender of `profile` (or refreshes them) and reads their preferences.
    pub async fn load(
        store: &Store,
        profile: &TelegramProfile,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let (registration, prefs, version) = store.register_trader(profile, now).await?;
        Ok(Self {
            user: registration.user,
            prefs,
            version,
            created: registration.created,
            returned: registration.returned,
        })
    }

    /// Changes the trader's preferences with `change` and saves them, applied to the
    /// preferences as stored: if another change came in between (another replica, a press
    /// at the same moment), it is applied again to what that change left. Returns the
    /// preferences saved.
    pub async fn change(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        change: impl Fn(&Preferences) -> Preferences,
    ) -> Result<Preferences, StoreError> {
        let (mut current, mut version) = (self.prefs.clone(), self.version);
        for _ in 0..CHANGE_TRIES {
            let next = change(&current);
            if next == current
                || store
                    .update_preferences(self.user.id, version, &next, now)
                    .await?
            {
                return Ok(next);
            }
            (current, version) = store.preferences_versioned(self.user.id).await?;
        }
        Err(StoreError::Invalid(format!(
            "the preferences kept changing under {CHANGE_TRIES} attempts to save them"
        )))
    }

    /// Their language.
    pub fn lang(&self) -> Language {
        self.prefs.language
    }
}

/// How many times [`Trader::change`] applies a change that keeps meeting another one.
const CHANGE_TRIES: usize = 5;

/// What a command runs with.
pub struct Ctx<'a> {
    /// The database.
    pub store: &'a Store,
    /// The trader who sent it.
    pub trader: Trader,
    /// When it arrived.
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// The trader's language.
    pub fn lang(&self) -> Language {
        self.trader.lang()
    }
}

/// Answers `command` with `args`, sent in `msg`. Commands other than /help are taken in a
/// private chat only: signals go to the chat a trader registers from.
pub async fn answer(
    store: &Store,
    msg: &Message,
    command: Command,
    args: &str,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    if !msg.chat.is_private() {
        let lang = telegram_language(msg);
        return Ok(match command {
            Command::Help => help::run(lang, args),
            _ => Reply::text(t(lang, "private-only")),
        });
    }
    let trader = Trader::load(store, &profile(msg), now).await?;
    // A trader back after blocking the bot hears that their subscription was paused, on
    // whatever they say first (/start says it itself; /subscribe resumes it).
    let paused = trader.returned && !matches!(command, Command::Start | Command::Subscribe);
    let ctx = Ctx { store, trader, now };
    let mut reply = run(&ctx, command, args).await?;
    if paused {
        reply.text = format!("{}\n\n{}", t(ctx.lang(), "start-returned"), reply.text);
    }
    Ok(reply)
}

/// Hands `command` to its file.
async fn run(ctx: &Ctx<'_>, command: Command, args: &str) -> Result<Reply, StoreError> {
    match command {
        Command::Start => start::run(ctx).await,
        Command::Help => Ok(help::run(ctx.lang(), args)),
        Command::Settings => settings::run(ctx).await,
        Command::Subscribe => subscribe::run(ctx).await,
        Command::Unsubscribe => unsubscribe::run(ctx).await,
        Command::Filter => filter::run(ctx, args).await,
        Command::Signals => signals::run(ctx, args).await,
        Command::Status => status::run(ctx).await,
        Command::Performance => performance::run(ctx, args).await,
        Command::Language => language::run(ctx, args).await,
    }
}

/// The language Telegram says the sender of `msg` uses (see [`words::telegram_language`]).
pub fn telegram_language(msg: &Message) -> Language {
    msg.from
        .as_ref()
        .map_or_else(Language::default, words::telegram_language)
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
            language_code: user.language_code.clone(),
        },
        None => TelegramProfile {
            telegram_id: msg.chat.id.0,
            chat_id: msg.chat.id.0,
            username: msg.chat.username().map(str::to_string),
            first_name: msg.chat.first_name().map(str::to_string),
            last_name: msg.chat.last_name().map(str::to_string),
            language_code: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_with_or_without_the_bot_name() {
        assert_eq!(
            parse("/signals 10", "herald_bot"),
            Some(Parsed::Known(Command::Signals, "10"))
        );
        assert_eq!(
            parse("/FILTER@Herald_Bot  confidence:80 ", "herald_bot"),
            Some(Parsed::Known(Command::Filter, "confidence:80"))
        );
        assert_eq!(
            parse("/start@other_bot", "herald_bot"),
            Some(Parsed::OtherBot)
        );
        assert_eq!(
            parse("/frobnicate now", "herald_bot"),
            Some(Parsed::Unknown("/frobnicate"))
        );
        assert_eq!(parse("hello", "herald_bot"), None);
    }

    #[test]
    fn every_command_is_listed_once_with_its_texts() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
        for spec in COMMANDS {
            assert_eq!(Command::named(spec.name), Some(spec.command));
            assert!(spec.usage.starts_with(&format!("/{}", spec.name)));
            assert!(spec.example.starts_with(&format!("/{}", spec.name)));
            for lang in Language::ALL {
                assert!(!spec.command.description(lang).is_empty());
                assert!(!spec.command.explanation(lang).is_empty());
            }
        }
    }
}
