//! What a trader asked to receive, and whether a given signal is eligible for them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::signal::{Signal, SignalKind};

/// How a trader wants signals laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignalFormat {
    /// Every field, as in the product spec §3.1.
    #[default]
    Detailed,
    /// One or two lines.
    Compact,
}

impl SignalFormat {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detailed => "detailed",
            Self::Compact => "compact",
        }
    }
}

impl fmt::Display for SignalFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "detailed" => Ok(Self::Detailed),
            "compact" => Ok(Self::Compact),
            _ => Err(format!(
                "unknown format {s:?}; expected detailed or compact"
            )),
        }
    }
}

/// The hours of the day (UTC) in which a trader accepts notifications: from `start_hour`
/// inclusive to `end_hour` exclusive, wrapping past midnight when `end_hour < start_hour`
/// (22 → 6 is the night). Equal hours mean all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationHours {
    /// First hour (0–23) in which notifications are welcome.
    pub start_hour: u8,
    /// First hour (0–23) in which they no longer are.
    pub end_hour: u8,
}

impl NotificationHours {
    /// Builds the window; both hours must be 0–23.
    pub fn new(start_hour: u8, end_hour: u8) -> Result<Self, String> {
        if start_hour > 23 || end_hour > 23 {
            return Err(format!(
                "notification hours must be 0-23, got {start_hour}-{end_hour}"
            ));
        }
        Ok(Self {
            start_hour,
            end_hour,
        })
    }

    /// Whether `hour` (0–23) falls inside the window.
    pub fn contains(self, hour: u8) -> bool {
        let (s, e) = (self.start_hour, self.end_hour);
        if s == e {
            true
        } else if s < e {
            (s..e).contains(&hour)
        } else {
            hour >= s || hour < e
        }
    }
}

/// A trader's delivery preferences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// Which kinds of signal to receive. Default: all four.
    pub signal_types: BTreeSet<SignalKind>,
    /// The lowest confidence worth a message. Default: 0 (everything).
    pub min_confidence: u8,
    /// When messages are welcome. Default: `None`, any time.
    pub notification_hours: Option<NotificationHours>,
    /// Detailed or compact. Default: detailed.
    pub format: SignalFormat,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            signal_types: SignalKind::ALL.into_iter().collect(),
            min_confidence: 0,
            notification_hours: None,
            format: SignalFormat::Detailed,
        }
    }
}

/// Whether a signal should reach a trader, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Send it.
    Eligible,
    /// The trader does not take this kind of signal.
    KindNotWanted,
    /// The signal's confidence is under the trader's threshold.
    BelowConfidence,
    /// It is outside the trader's notification hours.
    OutsideHours,
}

impl Preferences {
    /// Decides whether `signal` is wanted at `now`.
    pub fn admits(&self, signal: &Signal, now: DateTime<Utc>) -> Eligibility {
        if !self.signal_types.contains(&signal.kind) {
            return Eligibility::KindNotWanted;
        }
        if signal.confidence.get() < self.min_confidence {
            return Eligibility::BelowConfidence;
        }
        if let Some(hours) = self.notification_hours
            && !hours.contains(now.hour() as u8)
        {
            return Eligibility::OutsideHours;
        }
        Eligibility::Eligible
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_window_plain_wrapping_and_all_day() {
        let day = NotificationHours::new(8, 20).unwrap();
        assert!(day.contains(8) && day.contains(19));
        assert!(!day.contains(20) && !day.contains(7));
        let night = NotificationHours::new(22, 6).unwrap();
        assert!(night.contains(23) && night.contains(0) && night.contains(5));
        assert!(!night.contains(6) && !night.contains(12));
        let all = NotificationHours::new(9, 9).unwrap();
        assert!((0..24).all(|h| all.contains(h)));
        assert!(NotificationHours::new(24, 1).is_err());
    }

    #[test]
    fn format_names_round_trip() {
        for f in [SignalFormat::Detailed, SignalFormat::Compact] {
            assert_eq!(f.as_str().parse::<SignalFormat>().unwrap(), f);
        }
        assert!("fancy".parse::<SignalFormat>().is_err());
    }
}
