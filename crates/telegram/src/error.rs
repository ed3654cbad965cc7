//! What went wrong with a Bot API call, sorted by what the caller should do about it.
//!
//! teloxide 0.17 ignores the HTTP status of an error answer: it reads only the
//! `description` (mapped to [`ApiError`]) and `parameters.retry_after` (mapped to
//! [`RequestError::RetryAfter`]). So does this classification — as the Bot API advises, since
//! `error_code` may change. Several real descriptions do not match teloxide's variants
//! (teloxide expects `Unauthorized: bot can't initiate conversation with a user`, Telegram
//! says `Forbidden: …`), so unknown descriptions are classified by their prefix.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use teloxide::{ApiError, RequestError};

/// A failed send, by what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// 429: wait this long before sending again — with **every** send of this bot, not just
    /// this one ([`crate::Sender`] pauses its [`crate::Limiter`] by itself).
    #[error("Telegram asked to retry after {} s", .0.as_secs())]
    RetryAfter(Duration),
    /// The trader can no longer be reached (blocked the bot, deleted the account, never
    /// started the bot, kicked it): stop sending to this chat.
    #[error("the chat cannot receive messages from the bot: {reason}")]
    Blocked {
        /// Telegram's description, e.g. `Forbidden: bot was blocked by the user`.
        reason: String,
    },
    /// Telegram does not know the chat (wrong id, or the trader never talked to the bot).
    #[error("Telegram does not know this chat")]
    ChatNotFound,
    /// Surely not delivered, and retrying later may work: the connection could not be made,
    /// or Telegram answered 5xx.
    #[error("temporary failure talking to Telegram: {0}")]
    Transient(String),
    /// The request was written but no usable answer came back (a timeout, a connection
    /// broken mid-request, an unreadable answer): Telegram **may have delivered** the
    /// message. A retry may work, and may duplicate it.
    #[error("no answer from Telegram, the message may have been delivered: {0}")]
    Unknown(String),
    /// The message the request is about is gone or out of reach: deleted (by the reader,
    /// or never there), or too old to edit. Telegram's description, e.g. `Bad Request:
    /// message to edit not found`. Retrying will not bring it back.
    #[error("the message is gone or can no longer be changed: {0}")]
    MessageGone(String),
    /// Telegram refused this request as it is (message too long, can't parse entities, …):
    /// retrying it unchanged will fail again.
    #[error("Telegram rejected the request: {0}")]
    Permanent(String),
}

impl SendError {
    /// The `outcome` label of `herald_telegram_requests_total` for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            SendError::RetryAfter(_) => "retry_after",
            SendError::Blocked { .. } => "blocked",
            SendError::ChatNotFound => "chat_not_found",
            SendError::Transient(_) => "transient",
            SendError::Unknown(_) => "unknown",
            SendError::MessageGone(_) => "message_gone",
            SendError::Permanent(_) => "permanent",
        }
    }

    /// Whether it is a failure of the Bot API call itself (`Transient`: a 5xx or a network
    /// error; `Unknown`: no answer; `Permanent`: a refused request), rather than Telegram's
    /// pacing or the chat's own state (429, blocked, unknown chat, a message gone): what the
    /// services count as `herald_errors_total{kind="telegram"}`.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            SendError::Transient(_) | SendError::Unknown(_) | SendError::Permanent(_)
        )
    }

    /// Whether the same request may succeed later (`RetryAfter`, `Transient`, `Unknown` —
    /// the last at the risk of a duplicate).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SendError::RetryAfter(_) | SendError::Transient(_) | SendError::Unknown(_)
        )
    }
}

/// Classifies a teloxide error. `token` is the bot token: it is scrubbed from every text
/// the error carries (URLs in network errors contain `/bot<token>/`).
pub fn classify(error: RequestError, token: &str) -> SendError {
    match error {
        RequestError::RetryAfter(seconds) => SendError::RetryAfter(seconds.duration()),
        RequestError::Api(api) => classify_api(&api, token),
        RequestError::MigrateToChatId(chat) => {
            SendError::Permanent(format!("the group was migrated to the supergroup {chat}"))
        }
        RequestError::Network(error) => {
            // Only a failure to connect (or to build the request) proves that nothing was
            // written; a timeout may strike after Telegram has taken the message.
            let not_sent = error.is_connect() || error.is_builder();
            let text = match Arc::try_unwrap(error) {
                Ok(error) => network_text(&error.without_url()),
                Err(shared) => network_text(&shared),
            };
            let text = scrub(&text, token);
            if not_sent {
                SendError::Transient(text)
            } else {
                SendError::Unknown(text)
            }
        }
        // An answer came, but not one we can read (a proxy's error page, a cut-off body):
        // whether Telegram acted on the request is unknown.
        RequestError::InvalidJson { source, raw } => SendError::Unknown(scrub(
            &format!(
                "unreadable answer from the Bot API ({source}): {}",
                truncate(&raw, 200)
            ),
            token,
        )),
        // Reading a file to upload failed: nothing was sent.
        RequestError::Io(error) => {
            SendError::Transient(scrub(&format!("I/O error: {error}"), token))
        }
    }
}

fn classify_api(api: &ApiError, token: &str) -> SendError {
    let description = scrub(&describe(api), token);
    match api {
        ApiError::BotBlocked
        | ApiError::UserDeactivated
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots => SendError::Blocked {
            reason: description,
        },
        ApiError::ChatNotFound => SendError::ChatNotFound,
        ApiError::MessageToEditNotFound
        | ApiError::MessageCantBeEdited
        | ApiError::MessageToReplyNotFound
        | ApiError::MessageIdInvalid => SendError::MessageGone(description),
        ApiError::Unknown(_) => classify_description(description),
        _ => SendError::Permanent(description),
    }
}

/// Classifies a description teloxide does not know, by Telegram's prefixes.
fn classify_description(description: String) -> SendError {
    const SERVER_ERRORS: [&str; 4] = [
        "Internal Server Error",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Timeout",
    ];
    if description.starts_with("Forbidden") {
        SendError::Blocked {
            reason: description,
        }
    } else if let Some(rest) = description.strip_prefix("Too Many Requests") {
        // Normally `parameters.retry_after` makes this a `RequestError::RetryAfter`; without
        // it, read the seconds from the text.
        let seconds = rest
            .rsplit(' ')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        SendError::RetryAfter(Duration::from_secs(seconds))
    } else if SERVER_ERRORS.iter().any(|p| description.starts_with(p)) {
        SendError::Transient(description)
    } else {
        SendError::Permanent(description)
    }
}

/// Telegram's own description of an API error where teloxide keeps it.
fn describe(api: &ApiError) -> String {
    match api {
        ApiError::Unknown(description) | ApiError::CantParseEntities(description) => {
            description.clone()
        }
        ApiError::InvalidToken => "Unauthorized: invalid bot token".to_owned(),
        other => other.to_string(),
    }
}

/// A network error's text without its URL, followed by its causes.
fn network_text(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    if error.is_timeout() {
        text.insert_str(0, "timed out: ");
    }
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Replaces the bot token (raw or percent-encoded) wherever it appears.
/// `text` with the bot token (also percent-encoded, as it appears in URLs) replaced by
/// `<redacted>`: for any text that may quote a Bot API URL.
pub fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_owned();
    }
    text.replace(token, "<redacted>")
        .replace(&token.replace(':', "%3A"), "<redacted>")
        .replace(&token.replace(':', "%3a"), "<redacted>")
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use teloxide::types::Seconds;

    use super::*;

    const TOKEN: &str = "123456:SECRET";

    fn api(description: &str) -> SendError {
        let api: ApiError = serde_json::from_value(serde_json::json!(description)).unwrap();
        classify(RequestError::Api(api), TOKEN)
    }

    #[test]
    fn telegram_descriptions_map_to_what_to_do() {
        assert_eq!(
            api("Forbidden: bot was blocked by the user"),
            SendError::Blocked {
                reason: "Forbidden: bot was blocked by the user".into()
            }
        );
        for blocked in [
            "Forbidden: user is deactivated",
            "Forbidden: bot was kicked from the group chat",
            "Forbidden: bot can't initiate conversation with a user",
            "Unauthorized: bot can't initiate conversation with a user",
        ] {
            assert!(matches!(api(blocked), SendError::Blocked { reason } if reason == blocked));
        }
        assert_eq!(api("Bad Request: chat not found"), SendError::ChatNotFound);
        assert_eq!(
            api("Bad Request: message is too long"),
            SendError::Permanent("Bad Request: message is too long".into())
        );
        assert_eq!(
            api("Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"),
            SendError::Permanent(
                "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"
                    .into()
            )
        );
        assert_eq!(
            api("Bad Gateway"),
            SendError::Transient("Bad Gateway".into())
        );
        assert_eq!(
            api("Internal Server Error"),
            SendError::Transient("Internal Server Error".into())
        );
        assert_eq!(
            api("Too Many Requests: retry after 7"),
            SendError::RetryAfter(Duration::from_secs(7))
        );
        assert!(matches!(api("Unauthorized"), SendError::Permanent(_)));
    }

    #[test]
    fn retry_after_keeps_the_seconds() {
        let err = classify(RequestError::RetryAfter(Seconds::from_seconds(35)), TOKEN);
        assert_eq!(err, SendError::RetryAfter(Duration::from_secs(35)));
        assert_eq!(err.outcome(), "retry_after");
        assert!(err.is_retryable());
    }

    #[test]
    fn unreadable_answers_are_unknown_and_scrubbed() {
        let source = serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        let err = classify(
            RequestError::InvalidJson {
                source: Arc::new(source),
                raw: format!("<html>502 at /bot{TOKEN}/SendMessage</html>").into(),
            },
            TOKEN,
        );
        assert!(matches!(&err, SendError::Unknown(_)));
        assert_eq!(err.outcome(), "unknown");
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }

    #[test]
    fn scrub_covers_encoded_tokens() {
        assert_eq!(scrub("a/bot123456%3ASECRET/b", TOKEN), "a/bot<redacted>/b");
        assert_eq!(truncate("abcdef", 3), "abc…");
    }
}
