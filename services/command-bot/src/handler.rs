//! Wiring commands into teloxide's dispatcher, and logging its errors without the token.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use herald_store::Store;
use herald_telegram::Sender;
use teloxide::dispatching::{UpdateHandler, dialogue::GetChatId};
use teloxide::error_handlers::ErrorHandler;
use teloxide::prelude::*;

use crate::commands::{self, Command};

/// Handler errors.
pub(crate) type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// The update tree: commands to their handlers, anything else to a hint.
pub(crate) fn schema() -> UpdateHandler<HandlerError> {
    Update::filter_message()
        .branch(
            dptree::entry()
                .filter_command::<Command>()
                .endpoint(on_command),
        )
        .branch(dptree::endpoint(on_other))
}

async fn on_command(
    sender: Sender,
    msg: Message,
    cmd: Command,
    store: Store,
) -> Result<(), HandlerError> {
    let started = Instant::now();
    let name = cmd.name();
    let reply = match commands::answer(&store, &msg, cmd).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(command = name, error = %e, "command failed");
            commands::SORRY.to_string()
        }
    };
    send(&sender, &msg, &reply).await;
    metrics::counter!("herald_command_bot_commands_total", "command" => name).increment(1);
    metrics::histogram!("herald_command_bot_command_duration_seconds", "command" => name)
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

async fn on_other(sender: Sender, msg: Message) -> Result<(), HandlerError> {
    // Only answer people writing to the bot, not every message in a group.
    if msg.chat.is_private() && msg.text().is_some() {
        send(
            &sender,
            &msg,
            &commands::help::unknown(msg.text().unwrap_or("")),
        )
        .await;
        metrics::counter!("herald_command_bot_commands_total", "command" => "unknown").increment(1);
    }
    Ok(())
}

/// Answers on the shared budget, at interactive priority, re-sent after a 429 (the error is
/// already classified and scrubbed of the token).
async fn send(sender: &Sender, msg: &Message, text: &str) {
    let Some(chat) = msg.chat_id() else { return };
    if let Err(e) = sender.reply_html(chat.0, text).await {
        tracing::warn!(chat_id = chat.0, error = %e, "could not answer a command");
    }
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
        tracing::warn!(error = %self.scrub(&error), "telegram update error");
        Box::pin(async {})
    }
}
