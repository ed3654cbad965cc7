//! What a trader asked to receive, what their tier entitles them to, and what becomes of a
//! given signal for them ([`Preferences::decide`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::signal::{Asset, Signal, SignalKind};
use crate::zone::{Language, TimeZone};

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

/// The hours of the day, in the trader's own time zone, in which they welcome
/// notifications: from `start_hour` inclusive to `end_hour` exclusive, wrapping past midnight
/// when `end_hour < start_hour` (22 → 6 is the night). Equal hours mean all day.
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

impl fmt::Display for NotificationHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.start_hour, self.end_hour)
    }
}

impl FromStr for NotificationHours {
    type Err = String;

    /// `08-22`, `8-22` or `22-06` (across midnight). The hours must differ: all day is no
    /// window at all.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a window of hours; expected e.g. 08-22 or 22-06");
        let (start, end) = s.trim().split_once('-').ok_or_else(bad)?;
        let hour = |t: &str| {
            let t = t.trim();
            (!t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u8>().ok())
                .flatten()
                .filter(|h| *h <= 23)
                .ok_or_else(|| format!("{t:?} is not an hour; hours are 0-23, e.g. 08-22"))
        };
        let (start, end) = (hour(start)?, hour(end)?);
        if start == end {
            return Err(format!(
                "{s:?} starts and ends at the same hour; to be notified all day, use any"
            ));
        }
        Self::new(start, end)
    }
}

/// How a trader wants one kind of message: with a sound, silently
/// (`disable_notification`), or not at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NotifyMode {
    /// Delivered with a notification.
    #[default]
    On,
    /// Delivered without a sound.
    Silent,
    /// Not delivered.
    Off,
}

impl NotifyMode {
    /// Every mode, in the order a menu cycles through them.
    pub const ALL: [NotifyMode; 3] = [NotifyMode::On, NotifyMode::Silent, NotifyMode::Off];

    /// The mode's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Silent => "silent",
            Self::Off => "off",
        }
    }

    /// The next mode in [`NotifyMode::ALL`], wrapping (a settings button cycles).
    pub fn next(self) -> Self {
        match self {
            Self::On => Self::Silent,
            Self::Silent => Self::Off,
            Self::Off => Self::On,
        }
    }
}

impl FromStr for NotifyMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(Self::On),
            "silent" => Ok(Self::Silent),
            "off" => Ok(Self::Off),
            _ => Err(format!("unknown mode {s:?}; expected on, silent or off")),
        }
    }
}

/// What happens to a signal that arrives outside a trader's notification hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OutsideHours {
    /// Delivered without a sound (the default: nothing is missed).
    #[default]
    Silent,
    /// Not delivered; recorded `skipped`.
    Skip,
}

impl OutsideHours {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Silent => "silent",
            Self::Skip => "skip",
        }
    }
}

impl FromStr for OutsideHours {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "silent" => Ok(Self::Silent),
            "skip" => Ok(Self::Skip),
            _ => Err(format!("unknown choice {s:?}; expected silent or skip")),
        }
    }
}

/// How often a trader wants a performance report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReportFrequency {
    /// Never.
    Off,
    /// Every day.
    Daily,
    /// Every week (the default).
    #[default]
    Weekly,
}

impl ReportFrequency {
    /// Every choice, in menu order.
    pub const ALL: [ReportFrequency; 3] = [Self::Off, Self::Daily, Self::Weekly];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
        }
    }
}

impl FromStr for ReportFrequency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" | "never" => Ok(Self::Off),
            "daily" => Ok(Self::Daily),
            "weekly" => Ok(Self::Weekly),
            _ => Err(format!(
                "unknown report frequency {s:?}; expected off, daily or weekly"
            )),
        }
    }
}

/// A trader's delivery preferences (product spec §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// For each kind of signal: on, silent or off. Default: all on.
    pub modes: BTreeMap<SignalKind, NotifyMode>,
    /// The lowest confidence worth a message. Default: 0 (everything).
    pub min_confidence: u8,
    /// The assets wanted; empty means every asset. Default: empty.
    pub assets: BTreeSet<Asset>,
    /// When messages are welcome, in `time_zone`. Default: `None`, any time.
    pub notification_hours: Option<NotificationHours>,
    /// The trader's time zone. Default: UTC.
    pub time_zone: TimeZone,
    /// What happens outside the hours. Default: delivered silently.
    pub outside_hours: OutsideHours,
    /// Detailed or compact. Default: detailed.
    pub format: SignalFormat,
    /// The trader's language. Default: English (or Telegram's, when registering).
    pub language: Language,
    /// How often performance reports come. Default: weekly.
    pub reports: ReportFrequency,
    /// Whether reports come with a sound. Default: yes.
    pub reports_silent: bool,
    /// The local hour (0–23, in `time_zone`) reports come at; weekly ones on Mondays.
    /// Default: 8.
    pub report_hour: u8,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            modes: SignalKind::ALL
                .into_iter()
                .map(|k| (k, NotifyMode::On))
                .collect(),
            min_confidence: 0,
            assets: BTreeSet::new(),
            notification_hours: None,
            time_zone: TimeZone::UTC,
            outside_hours: OutsideHours::Silent,
            format: SignalFormat::Detailed,
            language: Language::En,
            reports: ReportFrequency::Weekly,
            reports_silent: false,
            report_hour: DEFAULT_REPORT_HOUR,
        }
    }
}

/// The local hour reports come at unless the trader chose another.
pub const DEFAULT_REPORT_HOUR: u8 = 8;

/// What a subscription tier entitles a trader to (spec §6.2, "feature access based on
/// subscription level"): the kinds and assets they may receive, the lowest confidence they
/// get, how long after the signal they get it, and how long a subscription lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The tier's name (unique, lower case), e.g. `standard`.
    pub name: String,
    /// The kinds of signal the tier carries.
    pub kinds: BTreeSet<SignalKind>,
    /// The assets the tier carries; empty means every asset.
    pub assets: BTreeSet<Asset>,
    /// Signals under this confidence are not for the tier.
    pub min_confidence: u8,
    /// How long after the signal its message goes out.
    pub delay: Duration,
    /// How long a subscription to the tier lasts (`None`: until unsubscribed).
    pub expiry: Option<Duration>,
}

impl Tier {
    /// The name every fresh install's default tier has.
    pub const DEFAULT_NAME: &'static str = "standard";

    /// The default tier: everything, at once, for as long as the trader stays.
    pub fn standard() -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_string(),
            kinds: SignalKind::ALL.into_iter().collect(),
            assets: BTreeSet::new(),
            min_confidence: 0,
            delay: Duration::zero(),
            expiry: None,
        }
    }

    /// Checks the tier's own rules: a name of `a-z 0-9 - _` (1–32), confidence 0–100, a
    /// delay of at most a day, an expiry of at least a day.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "tier name {:?} must be 1-32 characters of a-z, 0-9, - and _",
                self.name
            ));
        }
        if self.kinds.is_empty() {
            return Err("a tier must carry at least one kind of signal".into());
        }
        if self.min_confidence > 100 {
            return Err(format!(
                "minimum confidence {} is not 0-100",
                self.min_confidence
            ));
        }
        if self.delay < Duration::zero() || self.delay > Duration::days(1) {
            return Err("the delay must be between 0 and 24 hours".into());
        }
        if self.expiry.is_some_and(|e| e < Duration::days(1)) {
            return Err("a subscription's expiry must be at least one day".into());
        }
        Ok(())
    }

    /// Whether the tier carries `signal` at all.
    pub fn carries(&self, signal: &Signal) -> Result<(), Excluded> {
        if !self.kinds.contains(&signal.kind) {
            return Err(Excluded::TierKind);
        }
        if !self.assets.is_empty() && !self.assets.contains(&signal.asset) {
            return Err(Excluded::TierAsset);
        }
        if signal.confidence.get() < self.min_confidence {
            return Err(Excluded::TierConfidence);
        }
        Ok(())
    }
}

/// Why a signal does not reach a trader at all (no delivery is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excluded {
    /// The trader turned this kind off.
    KindOff,
    /// The signal's confidence is under the trader's threshold.
    BelowConfidence,
    /// The trader follows other assets.
    AssetNotWanted,
    /// The trader's tier does not carry this kind.
    TierKind,
    /// The trader's tier does not carry this asset.
    TierAsset,
    /// The signal's confidence is under the tier's threshold.
    TierConfidence,
}

/// A trader's notification hours as a delivery carries them: the window, the zone it is in,
/// and what happens outside it. Written `22-06 Europe/Madrid skip`. Checked when the message
/// is about to go out, not when the signal arrived: a broadcast can take a while, a tier can
/// delay it, and a signal that arrived at 21:59 for a trader who sleeps from 22:00 must not
/// wake them at 22:40.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoursRule {
    /// When messages are welcome.
    pub window: NotificationHours,
    /// The zone the window is in.
    pub zone: TimeZone,
    /// Outside the window: silent or skip.
    pub outside: OutsideHours,
}

/// Whether a message may go out now, by the trader's hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursVerdict {
    /// Inside the hours: as the kind's mode says.
    Inside,
    /// Outside: without a sound.
    Silent,
    /// Outside, and the trader skips such messages: record it `skipped`.
    Skip,
}

impl HoursVerdict {
    /// The verdict of `hours` at `now`: inside when there are none.
    pub fn of(hours: Option<HoursRule>, now: DateTime<Utc>) -> Self {
        hours.map_or(Self::Inside, |rule| rule.at(now))
    }

    /// How a message goes out under this verdict, given whether the trader takes its kind
    /// silently: `Some(silent)`, or `None` to skip it.
    pub fn silent(self, kind_silent: bool) -> Option<bool> {
        match self {
            Self::Inside => Some(kind_silent),
            Self::Silent => Some(true),
            Self::Skip => None,
        }
    }
}

impl HoursRule {
    /// The verdict at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> HoursVerdict {
        if self.window.contains(self.zone.local_hour(now)) {
            HoursVerdict::Inside
        } else {
            match self.outside {
                OutsideHours::Silent => HoursVerdict::Silent,
                OutsideHours::Skip => HoursVerdict::Skip,
            }
        }
    }
}

impl fmt::Display for HoursRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.window, self.zone, self.outside.as_str())
    }
}

impl FromStr for HoursRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split_whitespace();
        let (Some(window), Some(zone), Some(outside), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "{s:?} is not an hours rule; expected e.g. 22-06 Europe/Madrid skip"
            ));
        };
        Ok(Self {
            window: window.parse()?,
            zone: zone.parse()?,
            outside: outside.parse()?,
        })
    }
}

/// What to do with one signal for one trader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it; `silent` sends it with `disable_notification`.
    Deliver {
        /// Without a sound.
        silent: bool,
    },
    /// Record it as `skipped`: it would have come outside the trader's hours, which they
    /// asked to skip.
    Skip,
    /// Not for this trader: nothing is recorded.
    Exclude(Excluded),
}

impl Preferences {
    /// The mode of `kind` (on when never set).
    pub fn mode(&self, kind: SignalKind) -> NotifyMode {
        self.modes.get(&kind).copied().unwrap_or_default()
    }

    /// Takes exactly `kinds`: the others are turned off, those taken keep their silent or
    /// on mode (off ones are turned on).
    pub fn set_kinds(&mut self, kinds: &BTreeSet<SignalKind>) {
        for kind in SignalKind::ALL {
            let new = match (kinds.contains(&kind), self.mode(kind)) {
                (false, _) => NotifyMode::Off,
                (true, NotifyMode::Off) => NotifyMode::On,
                (true, kept) => kept,
            };
            self.modes.insert(kind, new);
        }
    }

    /// [`Preferences::default`] taking only `kinds`.
    pub fn with_kinds(kinds: impl IntoIterator<Item = SignalKind>) -> Self {
        let mut prefs = Self::default();
        prefs.set_kinds(&kinds.into_iter().collect());
        prefs
    }

    /// The kinds not turned off.
    pub fn wanted_kinds(&self) -> BTreeSet<SignalKind> {
        SignalKind::ALL
            .into_iter()
            .filter(|k| self.mode(*k) != NotifyMode::Off)
            .collect()
    }

    /// Whether `signal` is for this trader on `tier` at all: `Ok(silent)` (their kind's mode
    /// is silent), or why not. Hours aside: see [`Preferences::hours_rule`].
    pub fn admit(&self, tier: &Tier, signal: &Signal) -> Result<bool, Excluded> {
        tier.carries(signal)?;
        let mode = self.mode(signal.kind);
        if mode == NotifyMode::Off {
            return Err(Excluded::KindOff);
        }
        if signal.confidence.get() < self.min_confidence {
            return Err(Excluded::BelowConfidence);
        }
        if !self.assets.is_empty() && !self.assets.contains(&signal.asset) {
            return Err(Excluded::AssetNotWanted);
        }
        Ok(mode == NotifyMode::Silent)
    }

    /// The trader's hours, for the deliveries to check when they go out; `None` when any
    /// time is fine.
    pub fn hours_rule(&self) -> Option<HoursRule> {
        self.notification_hours.map(|window| HoursRule {
            window,
            zone: self.time_zone,
            outside: self.outside_hours,
        })
    }

    /// Decides what `signal` is for this trader on `tier` if it went out at `at`:
    /// [`Preferences::admit`], then the hours at `at`.
    pub fn decide(&self, tier: &Tier, signal: &Signal, at: DateTime<Utc>) -> Decision {
        let silent = match self.admit(tier, signal) {
            Ok(silent) => silent,
            Err(why) => return Decision::Exclude(why),
        };
        match HoursVerdict::of(self.hours_rule(), at).silent(silent) {
            Some(silent) => Decision::Deliver { silent },
            None => Decision::Skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(kind: &str, asset: &str, confidence: u8) -> Signal {
        let mut json = serde_json::json!({
            "kind": kind, "asset": asset, "confidence": confidence,
            "timeframe": "1H", "source_model": "m", "generated_at": "2026-03-08T12:00:00Z",
        });
        if kind == "buy" || kind == "sell" {
            let (target, stop) = if kind == "sell" {
                ("90", "105")
            } else {
                ("110", "95")
            };
            json["entry_price"] = "100".into();
            json["target_price"] = target.into();
            json["stop_loss"] = stop.into();
        }
        let raw = serde_json::to_vec(&json).unwrap();
        crate::parse_signal(&raw, "2026-03-08T12:00:00Z".parse().unwrap()).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

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
    fn hours_parse_and_print() {
        assert_eq!(
            "8-22".parse::<NotificationHours>().unwrap().to_string(),
            "08-22"
        );
        assert_eq!(
            "22-06".parse::<NotificationHours>().unwrap().to_string(),
            "22-06"
        );
        for bad in ["8", "8-24", "a-b", "9-9", "-5", "008-10"] {
            assert!(bad.parse::<NotificationHours>().is_err(), "{bad}");
        }
    }

    #[test]
    fn format_names_round_trip() {
        for f in [SignalFormat::Detailed, SignalFormat::Compact] {
            assert_eq!(f.as_str().parse::<SignalFormat>().unwrap(), f);
        }
        assert!("fancy".parse::<SignalFormat>().is_err());
    }

    #[test]
    fn kinds_confidence_and_assets_exclude() {
        let tier = Tier::standard();
        let now = at("2026-03-08T12:00:00Z");
        let mut prefs = Preferences::default();
        let buy = signal("buy", "BTC/USD", 80);
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Deliver { silent: false }
        );
        prefs.modes.insert(SignalKind::Buy, NotifyMode::Off);
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Exclude(Excluded::KindOff)
        );
        prefs.modes.insert(SignalKind::Buy, NotifyMode::Silent);
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Deliver { silent: true }
        );
        prefs.min_confidence = 81;
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Exclude(Excluded::BelowConfidence)
        );
        prefs.min_confidence = 80;
        prefs.assets = [Asset::parse("ETH/USD").unwrap()].into();
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Exclude(Excluded::AssetNotWanted)
        );
        prefs.assets.insert(Asset::parse("btc/usd").unwrap());
        assert_eq!(
            prefs.decide(&tier, &buy, now),
            Decision::Deliver { silent: true }
        );
    }

    #[test]
    fn tiers_limit_kinds_assets_and_confidence() {
        let now = at("2026-03-08T12:00:00Z");
        let prefs = Preferences::default();
        let basic = Tier {
            name: "basic".into(),
            kinds: [SignalKind::Buy, SignalKind::Sell].into(),
            assets: [Asset::parse("BTC/USD").unwrap()].into(),
            min_confidence: 70,
            delay: Duration::minutes(15),
            expiry: Some(Duration::days(30)),
        };
        basic.validate().unwrap();
        let decide = |s: &Signal| prefs.decide(&basic, s, now);
        assert_eq!(
            decide(&signal("buy", "BTC/USD", 70)),
            Decision::Deliver { silent: false }
        );
        assert_eq!(
            decide(&signal("alert", "BTC/USD", 90)),
            Decision::Exclude(Excluded::TierKind)
        );
        assert_eq!(
            decide(&signal("buy", "ETH/USD", 90)),
            Decision::Exclude(Excluded::TierAsset)
        );
        assert_eq!(
            decide(&signal("sell", "BTC/USD", 69)),
            Decision::Exclude(Excluded::TierConfidence)
        );
    }

    #[test]
    fn tier_rules_are_checked() {
        let mut tier = Tier::standard();
        tier.validate().unwrap();
        tier.name = "Gold Plus".into();
        assert!(tier.validate().is_err());
        tier.name = "gold".into();
        tier.delay = Duration::hours(25);
        assert!(tier.validate().is_err());
        tier.delay = Duration::zero();
        tier.expiry = Some(Duration::hours(1));
        assert!(tier.validate().is_err());
        tier.expiry = None;
        tier.kinds.clear();
        assert!(tier.validate().is_err());
    }

    #[test]
    fn hours_are_the_traders_own_across_midnight() {
        let tier = Tier::standard();
        let buy = signal("buy", "BTC/USD", 80);
        let mut prefs = Preferences {
            notification_hours: Some(NotificationHours::new(22, 6).unwrap()),
            time_zone: "Asia/Tokyo".parse().unwrap(), // UTC+9, no DST
            ..Preferences::default()
        };
        // 14:00 UTC is 23:00 in Tokyo: inside the night window.
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-08T14:00:00Z")),
            Decision::Deliver { silent: false }
        );
        // 22:00 UTC is 07:00 in Tokyo: outside, silent by default.
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-08T22:00:00Z")),
            Decision::Deliver { silent: true }
        );
        prefs.outside_hours = OutsideHours::Skip;
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-08T22:00:00Z")),
            Decision::Skip
        );
        // An excluded signal is excluded, not skipped.
        prefs.modes.insert(SignalKind::Buy, NotifyMode::Off);
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-08T22:00:00Z")),
            Decision::Exclude(Excluded::KindOff)
        );
    }

    #[test]
    fn hours_follow_daylight_saving_changes() {
        let tier = Tier::standard();
        let buy = signal("buy", "BTC/USD", 80);
        let prefs = Preferences {
            notification_hours: Some(NotificationHours::new(8, 22).unwrap()),
            time_zone: "America/New_York".parse().unwrap(),
            outside_hours: OutsideHours::Skip,
            ..Preferences::default()
        };
        // 12:30 UTC: 07:30 EST on the Saturday (outside), 08:30 EDT on the Monday after
        // the clocks went forward (inside).
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-07T12:30:00Z")),
            Decision::Skip
        );
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-03-09T12:30:00Z")),
            Decision::Deliver { silent: false }
        );
        // And back in November: 02:30 UTC is 22:30 EDT before, 21:30 EST after.
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-10-31T02:30:00Z")),
            Decision::Skip
        );
        assert_eq!(
            prefs.decide(&tier, &buy, at("2026-11-02T02:30:00Z")),
            Decision::Deliver { silent: false }
        );
    }

    #[test]
    fn hours_rules_round_trip_and_judge() {
        let rule: HoursRule = "22-06 Europe/Madrid skip".parse().unwrap();
        assert_eq!(rule.to_string(), "22-06 Europe/Madrid skip");
        let offset: HoursRule = "08-20 UTC+05:30 silent".parse().unwrap();
        assert_eq!(offset.to_string().parse::<HoursRule>().unwrap(), offset);
        // 21:30 UTC in winter is 22:30 in Madrid: inside; 12:00 UTC is 13:00: skipped.
        assert_eq!(rule.at(at("2026-01-10T21:30:00Z")), HoursVerdict::Inside);
        assert_eq!(rule.at(at("2026-01-10T12:00:00Z")), HoursVerdict::Skip);
        for bad in [
            "",
            "22-06",
            "22-06 Mars/Base skip",
            "22-06 UTC loud",
            "a b c d",
        ] {
            assert!(bad.parse::<HoursRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes_cycle_and_parse() {
        assert_eq!(NotifyMode::On.next(), NotifyMode::Silent);
        assert_eq!(NotifyMode::Off.next(), NotifyMode::On);
        for m in NotifyMode::ALL {
            assert_eq!(m.as_str().parse::<NotifyMode>().unwrap(), m);
        }
        for r in ReportFrequency::ALL {
            assert_eq!(r.as_str().parse::<ReportFrequency>().unwrap(), r);
        }
        assert!("loud".parse::<NotifyMode>().is_err());
        assert_eq!("skip".parse::<OutsideHours>().unwrap(), OutsideHours::Skip);
    }
}
