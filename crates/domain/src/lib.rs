//! Herald's domain: the trading signal and its rules, with no I/O and no async.
//!
//! - [`signal`]: the validated [`Signal`] and the value types it is built from
//!   ([`Asset`], [`Price`], [`Confidence`], [`Timeframe`], …). A `Signal` that exists is valid.
//! - [`parse`]: the one parser that turns raw JSON (from HTTP or straight from NATS) into a
//!   `Signal`, or into a [`Rejection`] that names every problem field by field.
//! - [`freshness`]: each signal's deadline (`valid_until`, else one bar of its timeframe, else
//!   a default lifetime) and [`check_fresh`], which refuses a signal that arrives past it.
//! - [`lifecycle`]: how a position ends: a close judged against the signal it names
//!   ([`judge_close`]) and the [`PositionOutcome`] it records.
//! - [`wire`]: the versioned serde types carried on the bus ([`SignalV1`]).
//! - [`render`](mod@render): the Telegram messages (detailed and compact, HTML parse mode).
//! - [`preferences`]: what a trader asked for, what their [`Tier`] entitles them to, and
//!   what becomes of a signal for them ([`Preferences::decide`]).
//! - [`preferences_doc`]: preferences as the admin API reads and writes them, checked field
//!   by field with the same parsers.
//! - [`schedule`]: when a trader's performance reports are due ([`next_report`]).
//! - [`filter`]: the `/filter` language (`confidence:80 types:buy,sell …`).
//! - [`zone`]: traders' time zones and languages.
//! - [`access`]: staff roles ([`StaffRole`]) and API key scopes ([`Scope`]).
//! - [`callback`]: what the bot's inline buttons carry, typed and checked.
//! - [`delivery`]: the life of one delivery (`pending` → `sent` | `failed` | `blocked` | `expired`).

pub mod access;
pub mod callback;
pub mod delivery;
pub mod filter;
pub mod freshness;
pub mod lifecycle;
pub mod parse;
pub mod performance;
pub mod preferences;
pub mod preferences_doc;
pub mod render;
pub mod schedule;
pub mod signal;
pub mod wire;
pub mod zone;

pub use access::{Scope, StaffRole};
pub use callback::{Callback, SettingsAction, SettingsView};
pub use delivery::{DeliveryStatus, JobKind};
pub use filter::{
    FILTER_EXAMPLE, Filter, FilterError, FilterProblem, FilterRequest, MAX_ASSETS, parse_filters,
};
pub use freshness::{Deadline, DeadlineBasis, check_fresh};
pub use lifecycle::{Position, PositionOutcome, judge_close, return_pct};
pub use parse::{
    FieldError, MAX_FUTURE_SKEW, MAX_VALIDITY, Rejection, parse_signal, parse_signal_or_id,
};
pub use performance::{
    AssetCount, AssetReturn, Figures, ModelFigures, PerfRow, RowOutcome, Window,
    cumulative_returns, figures,
};
pub use preferences::{
    Decision, Excluded, HoursRule, HoursVerdict, NotificationHours, NotifyMode, OutsideHours,
    Preferences, ReportFrequency, SignalFormat, Tier,
};
pub use preferences_doc::{FieldProblem, HoursDoc, PreferencesDoc};
pub use render::{
    CloseRef, Labels, MAX_MESSAGE_CHARS, render, render_close_in, render_in, render_within,
    visible_len,
};
pub use schedule::{ReportSlot, next_report};
pub use signal::{Asset, CloseReason, Confidence, Price, Signal, SignalId, SignalKind, Timeframe};
pub use wire::SignalV1;
pub use zone::{Language, TimeZone};
