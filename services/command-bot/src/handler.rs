//! The update tree: messages to commands (or, for free text, a time zone or a pointer to
//! /help), button presses to their handlers, and the bot's own membership of groups and
//! channels to [`crate::membership`]. (The rate limit is applied before, in
//! [`crate::ratelimit::Gated`].) Errors are logged without the token.
//!
//! teloxide's dispatcher runs updates of different chats concurrently and one chat's updates
//! in order, so one trader's slow request never holds up another's.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::future::BoxFuture;
use herald_domain::{Callback, Language, TimeZone};
use herald_runtime::telemetry::ErrorKind;
use herald_store::{ReadMark, Store};
use herald_telegram::{SendOptions, Sender};
use teloxide::dispatching::UpdateHandler;
use teloxide::error_handlers::ErrorHandler;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, MaybeInaccessibleMessage};

use crate::commands::{
    self, Parsed, Reply, Trader, help, language, performance, settings, start, status,
};
use crate::membership;
use crate::words::{self, t};

/// Handler errors.
pub(crate) type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// The bot's own `@username`, for commands written `/start@herald_bot`.
#[derive(Clone, Debug)]
pub(crate) struct BotName(pub Arc<str>);

/// The kinds of update [`schema`] handles: what the bot asks Telegram for, when polling and
/// when registering its webhook (`setWebhook` without a list would keep whatever list was
/// asked for last, e.g. by an earlier poller). teloxide's dispatcher also hints the
/// schema's own kinds to the listener; a test keeps the two equal.
pub(crate) const ALLOWED_UPDATES: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
];

/// The update tree.
pub(crate) fn schema() -> UpdateHandler<HandlerError> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_press))
        .branch(Update::filter_my_chat_member().endpoint(membership::on_my_chat_member))
}

async fn on_message(
    sender: Sender,
    store: Store,
    bot_name: BotName,
    msg: Message,
) -> Result<(), HandlerError> {
    let Some(text) = msg.text() else {
        return Ok(());
    };
    let parsed = commands::parse(text, &bot_name.0);
    // In groups, only commands addressed to Herald (or to no bot in particular) are ours.
    if !msg.chat.is_private() && !matches!(parsed, Some(Parsed::Known(..))) {
        return Ok(());
    }
    let started = Instant::now();
    let now = Utc::now();
    let (name, reply) = match parsed {
        Some(Parsed::Known(command, args)) => {
            let reply = commands::answer(&store, &msg, command, args, now).await;
            (command.name(), reply)
        }
        Some(Parsed::Unknown(_)) | None => ("text", free_text(&store, &msg, text, now).await),
        Some(Parsed::OtherBot) => return Ok(()),
    };
    let reply = reply.unwrap_or_else(|e| {
        crate::count_error(ErrorKind::Database);
        tracing::error!(command = name, error = %e, "command failed");
        Reply::text(t(commands::telegram_language(&msg), "sorry"))
    });
    send(&sender, &msg, &reply).await;
    metrics::counter!("herald_command_bot_commands_total", "command" => name).increment(1);
    metrics::histogram!("herald_command_bot_command_duration_seconds", "command" => name)
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

/// Text that is not a command Herald knows: a time zone (the answer to /start's question),
/// or a pointer to /help.
async fn free_text(
    store: &Store,
    msg: &Message,
    text: &str,
    now: chrono::DateTime<Utc>,
) -> Result<Reply, herald_store::StoreError> {
    let trader = Trader::load(store, &commands::profile(msg), now).await?;
    if looks_like_a_zone(text)
        && let Ok(zone) = text.parse::<TimeZone>()
    {
        return Ok(Reply::text(
            start::zone_chosen(store, &trader, zone, now).await?,
        ));
    }
    Ok(Reply::text(help::unknown(trader.lang(), text)))
}

/// Whether free text is meant as a time zone: a name with a slash (`Europe/Madrid`) or an
/// offset written from UTC or GMT (`UTC+5`). A bare `+1` or `-1` in conversation is not.
fn looks_like_a_zone(text: &str) -> bool {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    !text.starts_with('/')
        && !text.contains(char::is_whitespace)
        && (text.contains('/') || upper.starts_with("UTC") || upper.starts_with("GMT"))
}

/// Answers on the shared budget, at interactive priority, re-sent after a 429 (the error is
/// already classified and scrubbed of the token).
async fn send(sender: &Sender, msg: &Message, reply: &Reply) {
    let options = SendOptions {
        keyboard: reply.keyboard.clone(),
        ..SendOptions::default()
    };
    if let Err(e) = sender
        .reply_html_with(msg.chat.id.0, &reply.text, &options)
        .await
    {
        crate::count_send_error(&e);
        tracing::warn!(chat_id = msg.chat.id.0, error = %e, "could not answer a command");
    }
}

/// A button press. Whatever it carries is checked: the presser is who Telegram says pressed,
/// the message must be in their own chat, and data Herald did not build, an old menu or
/// someone else's delivery change nothing and get a short answer.
async fn on_press(sender: Sender, store: Store, q: CallbackQuery) -> Result<(), HandlerError> {
    let started = Instant::now();
    let now = Utc::now();
    // Until the presser is known, their Telegram's language.
    let fallback = words::telegram_language(&q.from);
    let (notice, then) = match press(&store, &q, fallback, now).await {
        Ok(outcome) => outcome,
        Err(e) => {
            crate::count_error(ErrorKind::Database);
            tracing::error!(error = %e, "button press failed");
            (Some(t(fallback, "sorry")), None)
        }
    };
    // Answer at once (the button stops spinning), then edit or send, which may wait for the
    // chat's turn on the budget.
    if let Err(e) = sender.answer_callback(&q.id.0, notice.as_deref()).await {
        tracing::debug!(error = %e, "could not answer a button press");
    }
    match then {
        Some(Then::Edit {
            chat_id,
            message_id,
            reply,
        }) => {
            if let Err(e) = sender
                .edit_html(chat_id, message_id, &reply.text, reply.keyboard)
                .await
            {
                crate::count_send_error(&e);
                tracing::warn!(chat_id, error = %e, "could not edit a message in place");
            }
        }
        Some(Then::Send { chat_id, text }) => {
            if let Err(e) = sender.reply_html(chat_id, &text).await {
                crate::count_send_error(&e);
                tracing::warn!(chat_id, error = %e, "could not answer a button press");
            }
        }
        None => {}
    }
    metrics::counter!("herald_command_bot_commands_total", "command" => "button").increment(1);
    metrics::histogram!("herald_command_bot_command_duration_seconds", "command" => "button")
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

/// What a press does after its answer.
enum Then {
    /// Redraw the pressed message.
    Edit {
        chat_id: i64,
        message_id: i32,
        reply: Reply,
    },
    /// Say something in the chat.
    Send { chat_id: i64, text: String },
}

/// Handles a press: the notice to show, if any, and what to do after it.
async fn press(
    store: &Store,
    q: &CallbackQuery,
    fallback: Language,
    now: chrono::DateTime<Utc>,
) -> Result<(Option<String>, Option<Then>), herald_store::StoreError> {
    let stale = |lang| Ok((Some(t(lang, "button-stale")), None));
    let Some(callback) = q.data.as_deref().and_then(Callback::parse) else {
        return stale(fallback);
    };
    let Some((user, prefs, version)) = store.trader_by_telegram_id(q.from.id.0 as i64).await?
    else {
        return stale(fallback);
    };
    let lang = prefs.language;
    // The message pressed must be in the presser's own chat with the bot.
    let message = q.message.as_ref().map(|m| (m.chat().id.0, m.id().0));
    let Some((chat_id, message_id)) = message.filter(|(chat, _)| *chat == user.chat_id) else {
        return stale(lang);
    };
    let trader = Trader {
        user,
        prefs,
        version,
        created: false,
        returned: false,
    };
    let edit = |reply: Reply| {
        Some(Then::Edit {
            chat_id,
            message_id,
            reply,
        })
    };
    Ok(match callback {
        Callback::Read(delivery) => {
            let id = match store.mark_read(delivery, trader.user.id, now).await? {
                ReadMark::Marked => "read-marked",
                ReadMark::AlreadyRead => "read-already",
                ReadMark::NotFound => "button-stale",
            };
            (Some(t(lang, id)), None)
        }
        Callback::Settings { stamp, action } => {
            if matches!(q.message, Some(MaybeInaccessibleMessage::Inaccessible(_))) {
                // Too old to edit: say so rather than change what the trader cannot see.
                return stale(lang);
            }
            let pressed = settings::press(store, &trader, stamp, &action, now).await?;
            (pressed.notice, edit(pressed.menu))
        }
        Callback::Zone(zone) => {
            let text = start::zone_chosen(store, &trader, zone, now).await?;
            (None, Some(Then::Send { chat_id, text }))
        }
        Callback::Language(chosen) => {
            let text = language::choose(store, &trader, chosen, now).await?;
            (Some(text.clone()), edit(Reply::text(text)))
        }
        Callback::StatusRefresh => (None, edit(status::render(store, &trader, now).await?)),
        Callback::Performance { window, mine } => (
            None,
            edit(performance::render(store, &trader, window, mine, now).await?),
        ),
    })
}

/// Removes the bot token from error text (network errors carry the request URL, which
/// contains it).
#[derive(Clone)]
pub(crate) struct Redactor {
    token: Arc<str>,
}

impl Redactor {
    pub(crate) fn new(token: &str) -> Self {
        Self {
            token: token.into(),
        }
    }

    pub(crate) fn scrub(&self, e: &impl Debug) -> String {
        herald_telegram::scrub(&format!("{e:?}"), &self.token)
    }

    pub(crate) fn error_handler<E: Debug + Send + 'static>(
        &self,
    ) -> Arc<dyn ErrorHandler<E> + Send + Sync> {
        Arc::new(self.clone())
    }
}

impl<E: Debug + Send + 'static> ErrorHandler<E> for Redactor {
    fn handle_error(self: Arc<Self>, error: E) -> BoxFuture<'static, ()> {
        // Nearly always the update listener's: getUpdates (or the webhook) failing.
        crate::count_error(ErrorKind::Telegram);
        tracing::warn!(error = %self.scrub(&error), "telegram update error");
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update kinds the schema observes, read from its description (teloxide keeps the
    /// accessor to itself; its `Debug` shows `observed: {Kind(Message), …}`).
    fn observed_kinds() -> Vec<String> {
        let description = format!("{:?}", schema().description());
        let observed = description
            .split_once("observed: {")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(set, _)| set)
            .unwrap_or_else(|| panic!("no observed set in {description}"));
        let mut kinds: Vec<String> = observed
            .split(", ")
            .map(|k| {
                k.trim_start_matches("Kind(")
                    .trim_end_matches(')')
                    .to_string()
            })
            .collect();
        kinds.sort();
        kinds
    }

    #[test]
    fn the_bot_asks_telegram_for_every_update_it_handles() {
        let mut asked: Vec<String> = ALLOWED_UPDATES.iter().map(|u| format!("{u:?}")).collect();
        asked.sort();
        assert_eq!(observed_kinds(), asked);
    }
}
