//! Herald's domain: the trading signal and its rules, with no I/O and no async.
//!
//! - [`signal`]: the validated [`Signal`] and the value types it is built from
//!   ([`Asset`], [`Price`], [`Confidence`], [`Timeframe`], …). A `Signal` that exists is valid.
//! - [`parse`]: the one parser that turns raw JSON (from HTTP or straight from NATS) into a
//!   `Signal`, or into a [`Rejection`] that names every problem field by field.
//! - [`freshness`]: each signal's deadline (`valid_until`, else one bar of its timeframe, else
//!   a default lifetime) and [`check_fresh`], which refuses a signal that arrives past it.
//! - [`wire`]: the versioned serde types carried on the bus ([`SignalV1`]).
//! - [`render`](mod@render): the Telegram messages (detailed and compact, HTML parse mode).
//! - [`preferences`]: what a trader asked for, and whether a signal is eligible for them.
//! - [`delivery`]: the life of one delivery (`pending` → `sent` | `failed` | `blocked` | `expired`).

pub mod delivery;
pub mod freshness;
pub mod parse;
pub mod preferences;
pub mod render;
pub mod signal;
pub mod wire;

pub use delivery::DeliveryStatus;
pub use freshness::{Deadline, DeadlineBasis, check_fresh};
pub use parse::{
    FieldError, MAX_FUTURE_SKEW, MAX_VALIDITY, Rejection, parse_signal, parse_signal_or_id,
};
pub use preferences::{Eligibility, NotificationHours, Preferences, SignalFormat};
pub use render::{MAX_MESSAGE_CHARS, render, visible_len};
pub use signal::{Asset, Confidence, Price, Signal, SignalId, SignalKind, Timeframe};
pub use wire::SignalV1;
