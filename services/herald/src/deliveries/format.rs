//! How the deliveries commands write numbers, durations and instants for people.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration to the second, two units at most: `9h 15m`, `4m 05s`, `12s`, `2d 03h`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours:02}h"),
    }
}

/// An instant as RFC 3339 in UTC, to the second.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `in 42m 10s` or `3m 05s ago`, from `now`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    match (at - now).to_std() {
        Ok(ahead) => format!("in {}", human(ahead)),
        Err(_) => format!("{} ago", human((now - at).to_std().unwrap_or_default())),
    }
}

/// `n things`, with the count in thousands.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn numbers_and_durations() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_millis(12_900)), "12s");
        assert_eq!(human(Duration::from_secs(245)), "4m 05s");
        assert_eq!(human(Duration::from_secs(33_334)), "9h 15m");
        assert_eq!(human(Duration::from_secs(183_600)), "2d 03h");
        assert_eq!(human(Duration::MAX), human(Duration::MAX), "no overflow");
        assert_eq!(count(1, "delivery", "deliveries"), "1 delivery");
        assert_eq!(count(1234, "delivery", "deliveries"), "1,234 deliveries");
    }

    #[test]
    fn instants() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
        assert_eq!(instant(now), "2026-11-30T10:00:00Z");
        let later = now + chrono::TimeDelta::seconds(2530);
        assert_eq!(relative(later, now), "in 42m 10s");
        assert_eq!(relative(now, later), "42m 10s ago");
    }
}
