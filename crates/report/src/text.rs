//! The catalog, and numbers, durations and names as every performance text shows them.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::Language;
use herald_domain::render::{clip, escape};
use herald_i18n::{Arg, catalog};
use rust_decimal::{Decimal, RoundingStrategy};

/// The message `id` in `lang`.
pub(crate) fn t(lang: Language, id: &str) -> String {
    catalog().get(lang, id)
}

/// The message `id` in `lang` with `args`.
pub(crate) fn tf(lang: Language, id: &str, args: &[(&str, Arg<'_>)]) -> String {
    catalog().format(lang, id, args)
}

/// A return in percent, as a signal message shows its target and stop (`+3.00%`).
pub(crate) use herald_domain::render::signed_percent as signed_pct;

/// A share in percent with one decimal: `66.7%`.
pub(crate) fn rate(value: Decimal) -> String {
    format!("{}%", fixed(value, 1))
}

fn fixed(value: Decimal, places: u32) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(places);
    rounded
}

/// How long something lasted, to the minute: `45 min`, `2 h 15 min`, `3 d 4 h`; under a
/// minute (or negative, from clock skew), `&lt; 1 min` (HTML).
pub(crate) fn duration(length: TimeDelta) -> String {
    let minutes = length.num_minutes();
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours, mins) {
        _ if minutes < 1 => "&lt; 1 min".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `2026-11-30 14:05 UTC`.
pub(crate) fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A name from elsewhere (an asset, a model) made safe for Telegram HTML: at most `max`
/// characters (ending in `…` when cut), with `&`, `<`, `>` and `"` escaped.
pub(crate) fn name(text: &str, max: usize) -> String {
    escape(&clip(text, max))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn returns_are_signed_with_two_decimals_rounded_half_away_from_zero() {
        assert_eq!(signed_pct(d("3.0011904761904761904761904762")), "+3.00%");
        assert_eq!(signed_pct(d("-2.3")), "-2.30%");
        assert_eq!(signed_pct(d("0")), "+0.00%");
        assert_eq!(signed_pct(d("0.005")), "+0.01%");
        assert_eq!(signed_pct(d("-0.005")), "-0.01%");
        assert_eq!(signed_pct(d("-0.001")), "-0.00%");
        assert_eq!(signed_pct(d("1234.5")), "+1234.50%");
    }

    #[test]
    fn rates_have_one_decimal() {
        assert_eq!(rate(d("66.666666666666666666666666667")), "66.7%");
        assert_eq!(rate(d("50")), "50.0%");
        assert_eq!(rate(d("100")), "100.0%");
        assert_eq!(rate(d("0.05")), "0.1%");
    }

    #[test]
    fn durations_read_to_the_minute() {
        let m = TimeDelta::minutes;
        assert_eq!(duration(TimeDelta::seconds(30)), "&lt; 1 min");
        assert_eq!(duration(m(-5)), "&lt; 1 min");
        assert_eq!(duration(m(45)), "45 min");
        assert_eq!(duration(m(60)), "1 h");
        assert_eq!(duration(m(135)), "2 h 15 min");
        assert_eq!(duration(m(1440)), "1 d");
        assert_eq!(duration(m(3 * 1440 + 4 * 60 + 59)), "3 d 4 h");
    }

    #[test]
    fn names_are_clipped_and_escaped() {
        assert_eq!(name("BTC/USD", 10), "BTC/USD");
        assert_eq!(name("<b>&\"", 10), "&lt;b&gt;&amp;&quot;");
        assert_eq!(name("momentum-v3-long", 8), "momentu…");
    }
}
