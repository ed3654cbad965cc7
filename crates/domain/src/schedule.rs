//! When a trader's performance reports come: daily, or weekly on Mondays, at a local hour
//! they chose, in their time zone (daylight saving included).

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone as _, Utc, Weekday,
};

use crate::preferences::ReportFrequency;
use crate::zone::TimeZone;

/// One report's place in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSlot {
    /// When it is due (UTC).
    pub at: DateTime<Utc>,
    /// Its name, unique per trader: `daily:2026-11-30` (the local date), `weekly:2026-W49`
    /// (the ISO week of the local date).
    pub period: String,
    /// How far back it looks from `at`: a day or a week.
    pub covers: TimeDelta,
}

/// The first report slot strictly after `after` for a trader who wants reports `frequency`
/// at local hour `hour` (0–23) in `zone`; `None` when they want none. A local hour that does
/// not exist on a given day (a daylight-saving jump) moves to the next one that does.
pub fn next_report(
    frequency: ReportFrequency,
    hour: u8,
    zone: TimeZone,
    after: DateTime<Utc>,
) -> Option<ReportSlot> {
    let covers = match frequency {
        ReportFrequency::Off => return None,
        ReportFrequency::Daily => TimeDelta::days(1),
        ReportFrequency::Weekly => TimeDelta::weeks(1),
    };
    let hour = u32::from(hour.min(23));
    let start = zone.local(after).date_naive().pred_opt()?;
    // Nine days cover a week whatever the zone's offset and a skipped hour.
    for date in start.iter_days().take(9) {
        if frequency == ReportFrequency::Weekly && date.weekday() != Weekday::Mon {
            continue;
        }
        let Some(at) = utc_of(zone, date, hour) else {
            continue;
        };
        if at > after {
            let period = match frequency {
                ReportFrequency::Weekly => {
                    let week = date.iso_week();
                    format!("weekly:{}-W{:02}", week.year(), week.week())
                }
                _ => format!("daily:{date}"),
            };
            return Some(ReportSlot { at, period, covers });
        }
    }
    None
}

/// The instant of `hour:00` on local `date` in `zone`; the first instant after a skipped
/// hour, the earlier of a repeated one.
fn utc_of(zone: TimeZone, date: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let local: NaiveDateTime = date.and_hms_opt(hour, 0, 0)?;
    match zone {
        TimeZone::Named(tz) => (0..3).find_map(|skip| {
            tz.from_local_datetime(&(local + TimeDelta::hours(skip)))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }),
        TimeZone::Offset(secs) => {
            Some(Utc.from_utc_datetime(&(local - TimeDelta::seconds(i64::from(secs)))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn daily_at_the_local_hour_in_the_traders_zone() {
        let madrid: TimeZone = "Europe/Madrid".parse().unwrap();
        // 08:00 in Madrid in winter is 07:00 UTC.
        let slot = next_report(
            ReportFrequency::Daily,
            8,
            madrid,
            at("2026-11-30T06:00:00Z"),
        )
        .unwrap();
        assert_eq!(slot.at, at("2026-11-30T07:00:00Z"));
        assert_eq!(slot.period, "daily:2026-11-30");
        assert_eq!(slot.covers, TimeDelta::days(1));
        // Just past it: tomorrow's.
        let slot = next_report(ReportFrequency::Daily, 8, madrid, slot.at).unwrap();
        assert_eq!(slot.at, at("2026-12-01T07:00:00Z"));
        assert_eq!(slot.period, "daily:2026-12-01");
    }

    #[test]
    fn weekly_on_mondays_named_by_iso_week() {
        let tokyo: TimeZone = "Asia/Tokyo".parse().unwrap();
        // Tuesday 1 December 2026: the next Monday is the 7th; 09:00 in Tokyo is 00:00 UTC.
        let slot = next_report(
            ReportFrequency::Weekly,
            9,
            tokyo,
            at("2026-12-01T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(slot.at, at("2026-12-07T00:00:00Z"));
        assert_eq!(slot.period, "weekly:2026-W50");
        assert_eq!(slot.covers, TimeDelta::weeks(1));
    }

    #[test]
    fn a_local_date_ahead_of_utc_is_the_reports_date() {
        let offset: TimeZone = "UTC+05:30".parse().unwrap();
        // 23:00 UTC on the 30th is 04:30 on 1 December there; 07:00 there is 01:30 UTC.
        let slot = next_report(
            ReportFrequency::Daily,
            7,
            offset,
            at("2026-11-30T23:00:00Z"),
        )
        .unwrap();
        assert_eq!(slot.at, at("2026-12-01T01:30:00Z"));
        assert_eq!(slot.period, "daily:2026-12-01");
    }

    #[test]
    fn a_skipped_hour_moves_to_the_next_and_off_means_none() {
        let madrid: TimeZone = "Europe/Madrid".parse().unwrap();
        // 29 March 2026: 02:00 does not exist in Madrid; 03:00 CEST is 01:00 UTC.
        let slot = next_report(
            ReportFrequency::Daily,
            2,
            madrid,
            at("2026-03-28T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(slot.at, at("2026-03-29T01:00:00Z"));
        assert_eq!(
            next_report(ReportFrequency::Off, 8, madrid, at("2026-03-28T12:00:00Z")),
            None
        );
    }
}
