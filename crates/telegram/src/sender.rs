//! Sending one HTML message: pace, send, classify, measure.

use std::sync::Once;
use std::time::Instant;

use teloxide::Bot;
use teloxide::payloads::SendMessageSetters as _;
use teloxide::requests::Requester as _;
use teloxide::types::{ChatId, LinkPreviewOptions, ParseMode};

use crate::error::{SendError, classify};
use crate::limiter::Limiter;

const REQUESTS_TOTAL: &str = "herald_telegram_requests_total";
const REQUEST_DURATION: &str = "herald_telegram_request_duration_seconds";

/// The id Telegram gave a sent message, within its chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SentMessageId(pub i32);

/// Registers the descriptions of this crate's metrics with the installed recorder (done by
/// [`Sender::new`]; harmless to repeat).
pub fn describe_metrics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            REQUESTS_TOTAL,
            "Bot API requests by method and outcome (ok, retry_after, blocked, chat_not_found, transient, permanent)"
        );
        metrics::describe_histogram!(
            REQUEST_DURATION,
            metrics::Unit::Seconds,
            "Duration of Bot API requests, from sending to the classified answer"
        );
    });
}

/// Sends messages to traders: a teloxide [`Bot`] and a pacing [`Limiter`]. Cheap to clone;
/// clones share the limiter.
///
/// **Run sends concurrently.** One send can take long: the limiter may make it wait, and on
/// any HTTP 5xx teloxide sleeps 10 s (`DELAY_ON_SERVER_ERROR`) before returning the error.
/// A caller that awaits sends one after another lets one slow chat hold up everyone; spawn a
/// task per delivery (bounded), and let the limiter do the pacing.
#[derive(Debug, Clone)]
pub struct Sender {
    bot: Bot,
    limiter: Limiter,
}

impl Sender {
    /// A sender over `bot`, paced by `limiter`.
    pub fn new(bot: Bot, limiter: Limiter) -> Self {
        describe_metrics();
        Self { bot, limiter }
    }

    /// The underlying bot (for other Bot API calls).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// The limiter pacing this sender.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Sends `text` (Telegram HTML: escape user-supplied parts with
    /// `teloxide::utils::html::escape`) to `chat_id`, without link previews.
    ///
    /// Waits for the limiter first. A 429 pauses the limiter for the `retry_after` Telegram
    /// asked for — holding back every send of this process — and is returned as
    /// [`SendError::RetryAfter`]; the send is not retried here.
    #[tracing::instrument(name = "telegram.send_html", skip_all, fields(chat_id = chat_id))]
    pub async fn send_html(&self, chat_id: i64, text: &str) -> Result<SentMessageId, SendError> {
        self.limiter.acquire(chat_id).await;
        let started = Instant::now();
        let result = self
            .bot
            .send_message(ChatId(chat_id), text)
            .parse_mode(ParseMode::Html)
            .link_preview_options(LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            })
            .await
            .map(|message| SentMessageId(message.id.0))
            .map_err(|e| classify(e, self.bot.token()));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        metrics::counter!(REQUESTS_TOTAL, "method" => "sendMessage", "outcome" => outcome)
            .increment(1);
        metrics::histogram!(REQUEST_DURATION, "method" => "sendMessage")
            .record(started.elapsed().as_secs_f64());
        if let Err(SendError::RetryAfter(wait)) = &result {
            tracing::warn!(
                retry_after_s = wait.as_secs(),
                "Telegram flood limit: pausing all sends"
            );
            self.limiter.pause_for(*wait);
        }
        result
    }
}
