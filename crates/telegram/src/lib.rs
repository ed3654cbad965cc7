//! How Herald talks to Telegram: a teloxide [`Bot`](teloxide::Bot) built from configuration
//! ([`bot`]), the classification of every failure into what the caller should do about it
//! ([`SendError`]), process-local pacing ([`Limiter`]) and the [`Sender`] that puts them
//! together for delivering HTML messages, with metrics.
//!
//! - `bot`: [`bot`] and [`TelegramError`] — building a client from `HERALD_TELEGRAM_TOKEN` /
//!   `HERALD_TELEGRAM_API_URL` values.
//! - `error`: [`SendError`] and [`classify`] — teloxide's `RequestError` mapped to
//!   retry-after / blocked / chat-not-found / transient / permanent, with the bot token
//!   scrubbed from every message.
//! - `limiter`: [`Limiter`] — overall rate, per-chat spacing and a global pause after a 429.
//!   Its budget is **per process**: N replicas send N× (a shared budget is future work).
//! - `sender`: [`Sender`] — `send_html` = wait for the limiter, send, classify, record
//!   `herald_telegram_*` metrics, pause everyone on a 429.
//!
//! teloxide is re-exported as [`teloxide`] so that users need no separate dependency.

mod bot;
mod error;
mod limiter;
mod sender;

pub use bot::{CONNECT_TIMEOUT, POLLING_TIMEOUT, REQUEST_TIMEOUT, TelegramError, bot};
pub use error::{SendError, classify, scrub};
pub use limiter::{Limiter, LimiterConfig};
pub use sender::{Sender, SentMessageId, describe_metrics};
pub use teloxide;
