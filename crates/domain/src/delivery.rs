//! The life of one delivery: one signal to one trader.

use std::fmt;
use std::str::FromStr;

/// Where a delivery stands. Every delivery ends in one of the final states; none ends in
/// silence.
///
/// ```text
/// pending ──▶ sending ──▶ sent
///    ▲           │ ├────▶ failed   (retries used up, or a permanent error)
///    └───────────┤ ├────▶ blocked  (the trader blocked the bot / chat gone)
///   (retry later)│ └────▶ expired  (past the signal's deadline)
///                ▼
///             unknown ──▶ sending (once more, after a delay)
///   (the send timed out or its sender died: Telegram may have delivered it)
/// ```
///
/// A delivery recorded `skipped` (outside the trader's hours, which they chose to skip) is
/// final from the start and never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Recorded, not yet attempted (or waiting for a retry).
    Pending,
    /// An attempt is in flight. Seen after a crash, it means the message may have been sent.
    Sending,
    /// Telegram accepted the message.
    Sent,
    /// Given up after the retry budget, or on an error that retrying cannot fix.
    Failed,
    /// The trader blocked the bot, deactivated their account, or the chat does not exist.
    Blocked,
    /// Too old to be worth sending by the time it could be sent.
    Expired,
    /// A send whose outcome Telegram never told (it timed out, or the replica sending it
    /// died): the trader may have the message. Tried once more after a delay, then failed.
    Unknown,
    /// Not sent on purpose: it came outside the trader's notification hours and they asked
    /// for such signals to be skipped (recorded so that the trader's history is complete).
    Skipped,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Expired => "expired",
            Self::Unknown => "unknown",
            Self::Skipped => "skipped",
        }
    }

    /// Whether the delivery is finished (no more attempts will be made).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Sent | Self::Failed | Self::Blocked | Self::Expired | Self::Skipped
        )
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "blocked" => Self::Blocked,
            "expired" => Self::Expired,
            "unknown" => Self::Unknown,
            "skipped" => Self::Skipped,
            other => return Err(format!("unknown delivery status {other:?}")),
        })
    }
}

/// What a job of the delivery queue sends. Every job goes through the same queue, budget,
/// order, retries and records; only what is sent differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// A signal's message (to a trader or a destination).
    Signal,
    /// The edit of a copy of a position's signal when a close ends it: the copy gets the
    /// outcome. The job's signal is the close.
    Outcome,
    /// A performance report (a chart with its figures), for a trader.
    Report,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::Outcome => "outcome",
            Self::Report => "report",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "signal" => Self::Signal,
            "outcome" => Self::Outcome,
            "report" => Self::Report,
            other => return Err(format!("unknown job kind {other:?}")),
        })
    }
}
