//! Sending one HTML message (or a photo, or an edit): pace, send, classify, measure.

use std::sync::{Arc, Once};
use std::time::Instant;

use teloxide::Bot;
use teloxide::payloads::{
    AnswerCallbackQuerySetters as _, EditMessageTextSetters as _, SendMessageSetters as _,
    SendPhotoSetters as _,
};
use teloxide::requests::Requester as _;
use teloxide::types::{
    CallbackQueryId, ChatId, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, MessageId,
    ParseMode, ReplyParameters, ThreadId,
};

use crate::budget::{Budget, Priority};
use crate::error::{SendError, classify};

const REQUESTS_TOTAL: &str = "herald_telegram_requests_total";
const REQUEST_DURATION: &str = "herald_telegram_request_duration_seconds";
const BUDGET_ACQUIRED: &str = "herald_telegram_budget_acquired_total";
const BUDGET_WAIT: &str = "herald_telegram_budget_wait_seconds";
const BUDGET_RATE_LIMIT: &str = "herald_telegram_budget_rate_limit";

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
            "Bot API requests by method and outcome (ok, retry_after, blocked, chat_not_found, transient, unknown, permanent)"
        );
        metrics::describe_histogram!(
            REQUEST_DURATION,
            metrics::Unit::Seconds,
            "Duration of Bot API requests, from sending to the classified answer"
        );
        metrics::describe_counter!(
            BUDGET_ACQUIRED,
            "Slots taken from the bot's shared send budget, by priority (interactive, bulk)"
        );
        metrics::describe_histogram!(
            BUDGET_WAIT,
            metrics::Unit::Seconds,
            "Time waited for a slot of the send budget, by priority"
        );
        metrics::describe_gauge!(
            BUDGET_RATE_LIMIT,
            "The send budget's overall rate in messages per second (0: none); its use is \
             rate(herald_telegram_budget_acquired_total) over this"
        );
    });
}

/// How a message goes out, besides its text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendOptions {
    /// Without a sound (`disable_notification`).
    pub silent: bool,
    /// Inline buttons under the message.
    pub keyboard: Option<InlineKeyboardMarkup>,
    /// A reply to this message of the chat (`reply_parameters`). If it is gone, the send
    /// fails with [`SendError::MessageGone`] rather than going out without its context.
    pub reply_to: Option<i32>,
    /// The forum topic to post in (`message_thread_id`).
    pub thread_id: Option<i32>,
}

impl SendOptions {
    /// Buttons, with a sound.
    pub fn with_keyboard(keyboard: InlineKeyboardMarkup) -> Self {
        Self {
            keyboard: Some(keyboard),
            ..Self::default()
        }
    }
}

/// How many times [`Sender::reply_html`] sends a reply that meets 429s before giving up.
pub const REPLY_TRIES: u32 = 4;

/// Sends messages to traders: a teloxide [`Bot`] and the bot's [`Budget`]. Cheap to clone;
/// clones share the budget.
///
/// **Run sends concurrently.** One send can take long: the budget may make it wait, and on
/// any HTTP 5xx teloxide sleeps 10 s (`DELAY_ON_SERVER_ERROR`) before returning the error.
/// A caller that awaits sends one after another lets one slow chat hold up everyone; spawn a
/// task per delivery (bounded), and let the budget do the pacing.
#[derive(Debug, Clone)]
pub struct Sender {
    bot: Bot,
    budget: Arc<dyn Budget>,
    paid_broadcast: bool,
}

impl Sender {
    /// A sender over `bot`, paced by `budget` (a [`crate::Limiter`] for a process that sends
    /// alone, the shared budget of `herald_bus::budget` otherwise).
    pub fn new(bot: Bot, budget: Arc<dyn Budget>) -> Self {
        describe_metrics();
        metrics::gauge!(BUDGET_RATE_LIMIT).set(f64::from(budget.rate_limit().unwrap_or(0)));
        for priority in [Priority::Interactive, Priority::Bulk] {
            // Present from the start, so that rate() has a series before the first send.
            metrics::counter!(BUDGET_ACQUIRED, "priority" => priority.as_str()).increment(0);
            let _ = metrics::histogram!(BUDGET_WAIT, "priority" => priority.as_str());
        }
        Self {
            bot,
            budget,
            paid_broadcast: false,
        }
    }

    /// Marks every [`Priority::Bulk`] send `allow_paid_broadcast` (the setting
    /// `HERALD_TELEGRAM_PAID_BROADCAST`): Telegram then allows up to 1000 messages/s and
    /// charges Stars for those beyond the free 30/s.
    pub fn with_paid_broadcast(mut self, paid_broadcast: bool) -> Self {
        self.paid_broadcast = paid_broadcast;
        self
    }

    /// The underlying bot (for other Bot API calls).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// The budget pacing this sender.
    pub fn budget(&self) -> &Arc<dyn Budget> {
        &self.budget
    }

    /// Sends `text` (Telegram HTML: escape user-supplied parts with
    /// `teloxide::utils::html::escape`) to `chat_id`, without link previews.
    ///
    /// Waits for the budget first, in line by `priority`. A 429 pauses the budget for the
    /// `retry_after` Telegram asked for — holding back every send of the bot, in every
    /// process sharing the budget — and is returned as [`SendError::RetryAfter`]; the send is
    /// not retried here.
    pub async fn send_html(
        &self,
        chat_id: i64,
        text: &str,
        priority: Priority,
    ) -> Result<SentMessageId, SendError> {
        self.wait_for_slot(chat_id, priority).await;
        self.send_html_now(chat_id, text, priority).await
    }

    /// Waits for the budget to allow one message to `chat_id` now, in line by `priority`,
    /// and takes that slot: [`Sender::send_html_now`] must follow at once. Dropping the wait
    /// takes no slot, so a caller may give up waiting (at shutdown) — but not the send once
    /// it has begun: its outcome would be unknown.
    pub async fn wait_for_slot(&self, chat_id: i64, priority: Priority) {
        let started = Instant::now();
        self.budget.acquire(chat_id, priority).await;
        metrics::counter!(BUDGET_ACQUIRED, "priority" => priority.as_str()).increment(1);
        metrics::histogram!(BUDGET_WAIT, "priority" => priority.as_str())
            .record(started.elapsed().as_secs_f64());
    }

    /// [`Sender::send_html`] for a slot already taken with [`Sender::wait_for_slot`].
    pub async fn send_html_now(
        &self,
        chat_id: i64,
        text: &str,
        priority: Priority,
    ) -> Result<SentMessageId, SendError> {
        self.send_html_now_with(chat_id, text, priority, &SendOptions::default())
            .await
    }

    /// [`Sender::send_html_now`] with `options` (silent, buttons).
    #[tracing::instrument(
        level = "debug",
        name = "telegram.sendMessage",
        skip_all,
        fields(
            chat_id = chat_id,
            otel.name = "sendMessage",
            otel.kind = "client",
            rpc.system = "telegram_bot_api",
            rpc.method = "sendMessage",
            herald.telegram.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn send_html_now_with(
        &self,
        chat_id: i64,
        text: &str,
        priority: Priority,
        options: &SendOptions,
    ) -> Result<SentMessageId, SendError> {
        let started = Instant::now();
        let mut request = self
            .bot
            .send_message(ChatId(chat_id), text)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if self.paid_broadcast && priority == Priority::Bulk {
            request = request.allow_paid_broadcast(true);
        }
        if options.silent {
            request = request.disable_notification(true);
        }
        if let Some(keyboard) = &options.keyboard {
            request = request.reply_markup(keyboard.clone());
        }
        if let Some(reply_to) = options.reply_to {
            request = request.reply_parameters(ReplyParameters::new(MessageId(reply_to)));
        }
        if let Some(thread) = options.thread_id {
            request = request.message_thread_id(ThreadId(MessageId(thread)));
        }
        let result = request
            .await
            .map(|message| SentMessageId(message.id.0))
            .map_err(|e| classify(e, self.bot.token()));
        self.measured("sendMessage", started, result)
    }

    /// Sends a PNG image with an HTML caption (at most 1024 visible characters) as the bot
    /// at once: the caller has waited for a slot ([`Sender::wait_for_slot`]).
    #[tracing::instrument(
        level = "debug",
        name = "telegram.sendPhoto",
        skip_all,
        fields(
            chat_id = chat_id,
            otel.name = "sendPhoto",
            otel.kind = "client",
            rpc.system = "telegram_bot_api",
            rpc.method = "sendPhoto",
            herald.telegram.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn send_photo_now(
        &self,
        chat_id: i64,
        png: Vec<u8>,
        caption: &str,
        priority: Priority,
        options: &SendOptions,
    ) -> Result<SentMessageId, SendError> {
        let started = Instant::now();
        let photo = InputFile::memory(png).file_name("report.png");
        let mut request = self
            .bot
            .send_photo(ChatId(chat_id), photo)
            .caption(caption)
            .parse_mode(ParseMode::Html);
        if self.paid_broadcast && priority == Priority::Bulk {
            request = request.allow_paid_broadcast(true);
        }
        if options.silent {
            request = request.disable_notification(true);
        }
        if let Some(keyboard) = &options.keyboard {
            request = request.reply_markup(keyboard.clone());
        }
        if let Some(reply_to) = options.reply_to {
            request = request.reply_parameters(ReplyParameters::new(MessageId(reply_to)));
        }
        if let Some(thread) = options.thread_id {
            request = request.message_thread_id(ThreadId(MessageId(thread)));
        }
        let result = request
            .await
            .map(|message| SentMessageId(message.id.0))
            .map_err(|e| classify(e, self.bot.token()));
        self.measured("sendPhoto", started, result)
    }

    /// Replaces the text of a message the bot sent, at once: the caller has waited for a
    /// slot ([`Sender::wait_for_slot`]), as for a send. Telegram drops a message's buttons
    /// on an edit that carries none, so `keyboard` must repeat the ones to keep. Editing to
    /// the very same content is not an error (`Ok(false)`).
    #[tracing::instrument(
        level = "debug",
        name = "telegram.editMessageText",
        skip_all,
        fields(
            chat_id = chat_id,
            otel.name = "editMessageText",
            otel.kind = "client",
            rpc.system = "telegram_bot_api",
            rpc.method = "editMessageText",
            herald.telegram.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn edit_html_now(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<bool, SendError> {
        let started = Instant::now();
        let mut request = self
            .bot
            .edit_message_text(ChatId(chat_id), MessageId(message_id), text)
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(keyboard) = keyboard {
            request = request.reply_markup(keyboard);
        }
        let result = match request.await {
            Ok(_) => Ok(true),
            Err(teloxide::RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(false),
            Err(e) => Err(classify(e, self.bot.token())),
        };
        self.measured("editMessageText", started, result)
    }

    /// Counts and times a request, and pauses the budget on a 429.
    fn measured<T>(
        &self,
        method: &'static str,
        started: Instant,
        result: Result<T, SendError>,
    ) -> Result<T, SendError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        };
        metrics::counter!(REQUESTS_TOTAL, "method" => method, "outcome" => outcome).increment(1);
        // The call's own span (sendMessage, …), when it has one.
        let span = tracing::Span::current();
        span.record("herald.telegram.outcome", outcome);
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        metrics::histogram!(REQUEST_DURATION, "method" => method)
            .record(started.elapsed().as_secs_f64());
        if let Err(SendError::RetryAfter(wait)) = &result {
            tracing::warn!(
                retry_after_s = wait.as_secs(),
                "Telegram flood limit: pausing all sends"
            );
            self.budget.pause(*wait);
        }
        result
    }

    /// Replaces the text and buttons of a message the bot sent (a menu editing itself in
    /// place), on the budget at interactive priority: edits count against Telegram's limits
    /// like sends. Editing to the very same content is not an error (`Ok(false)`: Telegram
    /// answers "message is not modified", which a second press of the same button causes).
    pub async fn edit_html(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        keyboard: Option<InlineKeyboardMarkup>,
    ) -> Result<bool, SendError> {
        self.wait_for_slot(chat_id, Priority::Interactive).await;
        self.edit_html_now(chat_id, message_id, text, keyboard)
            .await
    }

    /// Answers a button press (stops the button's spinner), with a short notice when `text`
    /// is given. Not paced: answers do not count against the message limits.
    pub async fn answer_callback(
        &self,
        query_id: &str,
        text: Option<&str>,
    ) -> Result<(), SendError> {
        let started = Instant::now();
        let mut request = self
            .bot
            .answer_callback_query(CallbackQueryId(query_id.to_string()));
        if let Some(text) = text {
            request = request.text(text);
        }
        let result = request
            .await
            .map(|_| ())
            .map_err(|e| classify(e, self.bot.token()));
        self.measured("answerCallbackQuery", started, result)
    }

    /// Answers a trader's command: [`Sender::send_html`] with [`Priority::Interactive`], and
    /// a reply refused with 429 is sent again once the wait is over (up to [`REPLY_TRIES`]
    /// sends in all), so that flood control delays a reply but does not drop it. Other
    /// errors are returned at once.
    pub async fn reply_html(&self, chat_id: i64, text: &str) -> Result<SentMessageId, SendError> {
        self.reply_html_with(chat_id, text, &SendOptions::default())
            .await
    }

    /// [`Sender::reply_html`] with `options` (buttons).
    pub async fn reply_html_with(
        &self,
        chat_id: i64,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessageId, SendError> {
        let mut tries = 1;
        loop {
            self.wait_for_slot(chat_id, Priority::Interactive).await;
            let sent = self
                .send_html_now_with(chat_id, text, Priority::Interactive, options)
                .await;
            match sent {
                Err(SendError::RetryAfter(wait)) if tries < REPLY_TRIES => {
                    tries += 1;
                    tracing::info!(
                        chat_id,
                        retry_after_s = wait.as_secs(),
                        "reply refused with 429; sending it again after the wait"
                    );
                    tokio::time::sleep(wait).await;
                }
                result => return result,
            }
        }
    }
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}
