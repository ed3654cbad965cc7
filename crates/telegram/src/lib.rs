//! How Herald talks to Telegram: a teloxide [`Bot`](teloxide::Bot) built from configuration
//! ([`bot`]), the classification of every failure into what the caller should do about it
//! ([`SendError`]), the bot's sending [`Budget`] with its process-local implementation
//! ([`Limiter`]), and the [`Sender`] that puts them together for delivering HTML messages,
//! with metrics.
//!
//! - `bot`: [`bot`] and [`TelegramError`] — building a client from `HERALD_TELEGRAM_TOKEN` /
//!   `HERALD_TELEGRAM_API_URL` values.
//! - `error`: [`SendError`] and [`classify`] — teloxide's `RequestError` mapped to
//!   retry-after / blocked / chat-not-found / transient (surely not delivered) / unknown
//!   (may have been delivered) / permanent, with the bot token scrubbed from every message.
//! - `budget`: [`Budget`] and [`Priority`] — what a sender waits on, and tells about a 429.
//!   Telegram's limits are per bot: processes that send as one bot must share one budget
//!   (`herald_bus::budget` coordinates one over NATS; this crate stays free of NATS).
//! - `limiter`: [`Limiter`] — the budget of one process: overall rate, per-chat spacing,
//!   20 per minute per group, interactive before bulk, a global pause after a 429.
//! - `sender`: [`Sender`] — `send_html` = wait for the budget, send, classify, record
//!   `herald_telegram_*` metrics, pause everyone on a 429; `reply_html` for command replies
//!   (interactive, re-sent after a 429).
//!
//! teloxide is re-exported as [`teloxide`] so that users need no separate dependency.

mod bot;
mod budget;
mod error;
mod limiter;
mod sender;

pub use bot::{CONNECT_TIMEOUT, POLLING_TIMEOUT, REQUEST_TIMEOUT, TelegramError, bot};
pub use budget::{BoxFuture, Budget, Priority};
pub use error::{SendError, classify, scrub};
pub use limiter::{DEFAULT_GUARD, LATE_TOLERANCE, Limiter, LimiterConfig, MAX_LATE_SLOTS};
pub use sender::{REPLY_TRIES, SendOptions, Sender, SentMessageId, describe_metrics};
pub use teloxide;
