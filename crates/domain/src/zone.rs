//! A trader's time zone and language.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Offset, Timelike, Utc};
use chrono_tz::Tz;

/// Where a trader lives, for their notification hours and the times they are shown: an IANA
/// zone (`Europe/Madrid`, with its daylight-saving rules) or a fixed offset from UTC
/// (`UTC+05:30`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeZone {
    /// A zone of the IANA database.
    Named(Tz),
    /// A fixed offset, in seconds east of UTC (a whole number of minutes, within ±14 h).
    Offset(i32),
}

impl Default for TimeZone {
    fn default() -> Self {
        Self::Named(Tz::UTC)
    }
}

impl TimeZone {
    /// UTC.
    pub const UTC: Self = Self::Named(Tz::UTC);

    /// The local hour (0–23) at `at`.
    pub fn local_hour(self, at: DateTime<Utc>) -> u8 {
        self.local(at).hour() as u8
    }

    /// `at` in this zone.
    pub fn local(self, at: DateTime<Utc>) -> DateTime<FixedOffset> {
        match self {
            Self::Named(tz) => at.with_timezone(&tz).fixed_offset(),
            Self::Offset(secs) => {
                let offset = FixedOffset::east_opt(secs).unwrap_or(Utc.fix());
                at.with_timezone(&offset)
            }
        }
    }

    /// The offset from UTC at `at`, as `UTC+02:00`.
    pub fn offset_label(self, at: DateTime<Utc>) -> String {
        offset_label(self.local(at).offset().local_minus_utc())
    }
}

fn offset_label(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let minutes = secs.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(tz) => f.write_str(tz.name()),
            Self::Offset(secs) => f.write_str(&offset_label(*secs)),
        }
    }
}

impl FromStr for TimeZone {
    type Err = String;

    /// An IANA name in any letter case (`europe/madrid`), `UTC`/`GMT`, or an offset:
    /// `UTC+5`, `GMT-3`, `+05:30`, `UTC-03:30`, `+0530`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw = s.trim();
        let bad = || {
            format!(
                "{raw:?} is not a time zone; send a name such as Europe/Madrid or \
                 America/New_York, or an offset such as UTC+5 or UTC-03:30"
            )
        };
        if raw.is_empty() || raw.len() > 64 {
            return Err(bad());
        }
        let upper = raw.to_ascii_uppercase();
        let rest = upper
            .strip_prefix("UTC")
            .or_else(|| upper.strip_prefix("GMT"))
            .unwrap_or(&upper);
        if rest.is_empty() {
            return Ok(Self::UTC);
        }
        if let Some(sign) = rest.chars().next().filter(|c| *c == '+' || *c == '-') {
            let secs = parse_offset(&rest[1..]).ok_or_else(bad)?;
            let secs = if sign == '-' { -secs } else { secs };
            if secs == 0 {
                return Ok(Self::UTC);
            }
            return Ok(Self::Offset(secs));
        }
        Tz::from_str_insensitive(raw)
            .map(Self::Named)
            .map_err(|_| bad())
    }
}

/// `5`, `05`, `5:30`, `05:30` or `0530` as seconds, at most 14 hours.
fn parse_offset(text: &str) -> Option<i32> {
    let (hours, minutes) = match text.split_once(':') {
        Some((h, m)) => (h, m),
        None if text.len() == 4 => text.split_at(2),
        None => (text, "0"),
    };
    let digits = |t: &str| !t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours) || !digits(minutes) {
        return None;
    }
    let (h, m): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let secs = h * 3600 + m * 60;
    (m < 60 && secs <= 14 * 3600).then_some(secs)
}

/// The languages Herald speaks to traders in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    /// English (the default).
    #[default]
    En,
    /// Spanish.
    Es,
}

impl Language {
    /// Every language, in the order menus show them.
    pub const ALL: [Language; 2] = [Language::En, Language::Es];

    /// The stored code (`en`, `es`).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Es => "es",
        }
    }

    /// The language's own name, as a menu shows it.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Es => "Español",
        }
    }

    /// The language of a Telegram `language_code` (`es`, `es-MX`), if Herald speaks it.
    pub fn from_telegram(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next().unwrap_or(code);
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_telegram(s.trim()).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|l| l.code()).collect();
            format!(
                "unknown language {s:?}; expected one of {}",
                known.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_by_name_in_any_case_and_by_offset() {
        let madrid: TimeZone = "europe/madrid".parse().unwrap();
        assert_eq!(madrid.to_string(), "Europe/Madrid");
        assert_eq!("UTC".parse::<TimeZone>().unwrap(), TimeZone::UTC);
        assert_eq!("gmt".parse::<TimeZone>().unwrap(), TimeZone::UTC);
        assert_eq!(
            "UTC+5".parse::<TimeZone>().unwrap(),
            TimeZone::Offset(5 * 3600)
        );
        assert_eq!(
            "UTC-03:30".parse::<TimeZone>().unwrap(),
            TimeZone::Offset(-(3 * 3600 + 1800))
        );
        assert_eq!(
            "+0530".parse::<TimeZone>().unwrap().to_string(),
            "UTC+05:30"
        );
        assert_eq!("UTC+0".parse::<TimeZone>().unwrap(), TimeZone::UTC);
        for bad in [
            "",
            "Mars/Olympus",
            "UTC+15",
            "UTC+5:75",
            "+",
            "UTC+a",
            "+123",
        ] {
            assert!(bad.parse::<TimeZone>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_zone_round_trips_through_its_name() {
        for z in ["America/New_York", "UTC+05:30", "UTC-10:00", "UTC"] {
            let zone: TimeZone = z.parse().unwrap();
            assert_eq!(zone.to_string().parse::<TimeZone>().unwrap(), zone, "{z}");
        }
    }

    #[test]
    fn local_hours_follow_daylight_saving() {
        let ny: TimeZone = "America/New_York".parse().unwrap();
        // 2026-03-08: clocks go forward at 02:00 local (07:00 UTC).
        let before = "2026-03-07T12:30:00Z".parse().unwrap();
        let after = "2026-03-09T12:30:00Z".parse().unwrap();
        assert_eq!(ny.local_hour(before), 7);
        assert_eq!(ny.local_hour(after), 8);
        assert_eq!(ny.offset_label(before), "UTC-05:00");
        assert_eq!(ny.offset_label(after), "UTC-04:00");
    }

    #[test]
    fn languages_come_from_telegram_codes() {
        assert_eq!(Language::from_telegram("es-MX"), Some(Language::Es));
        assert_eq!(Language::from_telegram("EN"), Some(Language::En));
        assert_eq!(Language::from_telegram("de"), None);
        assert!("fr".parse::<Language>().is_err());
    }
}
