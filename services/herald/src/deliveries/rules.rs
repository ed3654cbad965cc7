//! The rules of the deliveries commands, apart from any I/O: which deliveries may be retried,
//! the deadline a retry gives them, and how arguments are read.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{DeliveryStatus, SignalId};

use super::format::{human, instant};

/// The furthest a retry may push a deadline, as a signal's own `valid_until` may be at most
/// 30 days after it was generated.
pub const MAX_EXTENSION: TimeDelta = TimeDelta::days(30);

/// `--signal`: a signal id is a UUID.
pub fn parse_signal_id(s: &str) -> Result<SignalId, String> {
    s.trim().parse().map(SignalId).map_err(|_| {
        format!(
            "{s:?} is not a signal id: expected a UUID such as 0b9f6c2e-7d1a-4c55-9a53-3f1f1c2b8d10"
        )
    })
}

/// `--status` of `retry`: `failed` or `expired`; any other status is refused, saying why.
pub fn parse_retry_status(s: &str) -> Result<DeliveryStatus, String> {
    let status: DeliveryStatus =
        s.trim().to_ascii_lowercase().parse().map_err(|_| {
            format!("{s:?} is not a delivery status; retry takes failed or expired")
        })?;
    let why = match status {
        DeliveryStatus::Failed | DeliveryStatus::Expired => return Ok(status),
        DeliveryStatus::Sent => {
            "sent deliveries reached their trader; retrying would send the signal twice"
        }
        DeliveryStatus::Blocked => {
            "blocked deliveries' traders blocked the bot or deleted the chat; they are inactive and get signals again once they come back and /subscribe"
        }
        DeliveryStatus::Skipped => {
            "skipped deliveries were not for their trader when due: outside the notification hours they chose to skip, or they had unsubscribed"
        }
        DeliveryStatus::Pending | DeliveryStatus::Sending | DeliveryStatus::Unknown => {
            "those deliveries are still in the queue: the dispatchers send them (or expire them at their deadline) without help"
        }
    };
    Err(format!("{why}; retry takes failed or expired"))
}

/// A duration such as `90s`, `30m`, `2h`, `1d`, `1h30m`, `500ms`: greater than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: expected e.g. 90s, 30m, 2h, 1d or 1h30m");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3_600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        let part = u32::try_from(n)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    if total.is_zero() {
        return Err(format!("{s:?}: the duration must be longer than zero"));
    }
    Ok(total)
}

/// `--until`: an RFC 3339 instant.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 instant such as 2026-11-30T18:00:00Z: {e}"))
}

/// What the operator asked the new deadline to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineChoice {
    /// Nothing: the signal's validity again, from now.
    Default,
    /// `--until`.
    Until(DateTime<Utc>),
    /// `--for`.
    For(Duration),
}

/// The deadline a retry gives the deliveries, and why, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadline {
    /// The instant.
    pub at: DateTime<Utc>,
    /// Where it comes from, e.g. `the signal's validity of 1h 00m, counted from now`.
    pub reason: String,
}

/// The deadline of retried deliveries of a signal generated at `generated_at` whose deadline
/// is `deadline`, at `now`:
///
/// - by default the signal's whole validity (`deadline - generated_at`: one bar of its
///   timeframe, or its `valid_until`) counted again from now — an expired 1H signal gets
///   another hour — but never earlier than the signal's own deadline, so retrying a signal
///   that is still valid never shortens its life;
/// - `--until T`: exactly `T`;
/// - `--for D`: `now + D`.
///
/// Refused: a deadline not in the future (the deliveries would expire at once), or more than
/// [`MAX_EXTENSION`] from now.
pub fn new_deadline(
    choice: DeadlineChoice,
    generated_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<NewDeadline, String> {
    let (at, reason) = match choice {
        DeadlineChoice::Default => {
            let validity = (deadline - generated_at).max(TimeDelta::seconds(1));
            let again = now
                .checked_add_signed(validity)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            let validity = human(validity.to_std().unwrap_or_default());
            if deadline >= again {
                (
                    deadline,
                    format!("the signal's own deadline (its validity is {validity})"),
                )
            } else {
                (
                    again,
                    format!("the signal's validity of {validity}, counted again from now"),
                )
            }
        }
        DeadlineChoice::Until(at) => (at, "--until".to_string()),
        DeadlineChoice::For(d) => {
            let d = TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
            let at = now
                .checked_add_signed(d)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            (at, "--for".to_string())
        }
    };
    if at <= now {
        return Err(format!(
            "the new deadline {} is not in the future (now is {}): the deliveries would expire at once",
            instant(at),
            instant(now)
        ));
    }
    if at - now > MAX_EXTENSION {
        return Err(format!(
            "the new deadline {} is more than 30 days away; a signal is not worth sending that late",
            instant(at)
        ));
    }
    Ok(NewDeadline { at, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    #[test]
    fn only_failed_and_expired_can_be_retried() {
        assert_eq!(parse_retry_status("failed"), Ok(DeliveryStatus::Failed));
        assert_eq!(parse_retry_status(" Expired "), Ok(DeliveryStatus::Expired));
        for (wrong, says) in [
            ("sent", "twice"),
            ("blocked", "/subscribe"),
            ("pending", "still in the queue"),
            ("sending", "still in the queue"),
            ("unknown", "still in the queue"),
            ("skipped", "notification hours"),
            ("faild", "not a delivery status"),
        ] {
            let e = parse_retry_status(wrong).unwrap_err();
            assert!(
                e.contains(says) && e.contains("failed or expired"),
                "{wrong}: {e}"
            );
        }
    }

    #[test]
    fn signal_ids_are_uuids() {
        let id = "0b9f6c2e-7d1a-4c55-9a53-3f1f1c2b8d10";
        assert_eq!(parse_signal_id(id).unwrap().to_string(), id);
        let e = parse_signal_id("BTC-42").unwrap_err();
        assert!(e.contains("not a signal id") && e.contains("UUID"), "{e}");
    }

    #[test]
    fn durations_and_instants() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "10", "h", "1x", "1.5h", "-1h", "0s", "99999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_instant("2026-11-30T11:00:00+01:00"), Ok(t(10, 0)));
        assert!(parse_instant("tomorrow").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn the_default_deadline_is_the_validity_again_from_now() {
        // A 1H signal generated at 10:00, expired since 11:00, retried at 14:30.
        let d = new_deadline(DeadlineChoice::Default, t(10, 0), t(11, 0), t(14, 30)).unwrap();
        assert_eq!(d.at, t(15, 30));
        assert!(d.reason.contains("validity of 1h 00m"), "{}", d.reason);
        // Still valid at 10:40: retried failures get a whole hour from now, not 20 minutes.
        let d = new_deadline(DeadlineChoice::Default, t(10, 0), t(11, 0), t(10, 40)).unwrap();
        assert_eq!(d.at, t(11, 40));
        // Generated "in the future" (clock skew): never shorter than its own deadline.
        let d = new_deadline(DeadlineChoice::Default, t(10, 5), t(11, 5), t(10, 0)).unwrap();
        assert_eq!(d.at, t(11, 5));
        assert!(d.reason.contains("own deadline"), "{}", d.reason);
    }

    #[test]
    fn the_operator_may_choose_the_deadline() {
        let now = t(14, 30);
        let until = new_deadline(DeadlineChoice::Until(t(15, 0)), t(10, 0), t(11, 0), now);
        assert_eq!(
            until.unwrap().at,
            t(15, 0),
            "even shorter than the validity"
        );
        let d = DeadlineChoice::For(Duration::from_secs(600));
        assert_eq!(
            new_deadline(d, t(10, 0), t(11, 0), now).unwrap().at,
            t(14, 40)
        );
        for past in [t(14, 30), t(9, 0)] {
            let e = new_deadline(DeadlineChoice::Until(past), t(10, 0), t(11, 0), now);
            assert!(e.unwrap_err().contains("not in the future"));
        }
        let far = DeadlineChoice::For(Duration::from_secs(31 * 86_400));
        assert!(
            new_deadline(far, t(10, 0), t(11, 0), now)
                .unwrap_err()
                .contains("30 days")
        );
        let forever = DeadlineChoice::For(Duration::MAX);
        assert!(new_deadline(forever, t(10, 0), t(11, 0), now).is_err());
    }
}
