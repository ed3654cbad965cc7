//! `/filter`: a trader's filters written as `key:value` tokens, several at once.
//!
//! ```text
//! /filter confidence:80 types:buy,sell assets:BTC/USD,ETH/USD hours:08-22 format:compact
//! /filter assets:all hours:any
//! /filter reset
//! /filter
//! ```
//!
//! A line either applies whole or not at all: the first bad token is named, with a correct
//! example, and nothing changes.

use std::collections::BTreeSet;

use crate::preferences::{NotificationHours, Preferences, SignalFormat};
use crate::signal::{Asset, SignalKind};

/// The most assets one trader may follow by name.
pub const MAX_ASSETS: usize = 50;

/// What a `/filter` line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterRequest {
    /// No arguments: show the current filters.
    Show,
    /// `reset`: back to the defaults (every kind, every asset, any confidence, any hour,
    /// detailed), keeping the trader's time zone, language and reports.
    Reset,
    /// Change these, in order.
    Set(Vec<Filter>),
}

/// One filter token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `confidence:80`: the lowest confidence wanted.
    Confidence(u8),
    /// `types:buy,sell`: the kinds wanted (the others are turned off; those kept keep
    /// their silent or on setting).
    Types(BTreeSet<SignalKind>),
    /// `assets:BTC/USD,ETH/USD`, or `assets:all` (empty).
    Assets(BTreeSet<Asset>),
    /// `hours:08-22`, or `hours:any` (`None`).
    Hours(Option<NotificationHours>),
    /// `format:compact` or `format:detailed`.
    Format(SignalFormat),
}

/// A token `/filter` could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The token as the trader wrote it.
    pub token: String,
    /// What is wrong with it.
    pub problem: FilterProblem,
    /// A correct token of the same key, or a whole correct line.
    pub example: &'static str,
}

/// What is wrong with a `/filter` token: the bot words it in the trader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterProblem {
    /// Not `key:value`.
    Syntax,
    /// A key `/filter` does not know.
    UnknownKey,
    /// Not a whole number 0–100.
    Confidence,
    /// Not a list of kinds.
    Types,
    /// Not a list of assets.
    Assets,
    /// More than [`MAX_ASSETS`] assets.
    TooManyAssets,
    /// Not a window of hours.
    Hours,
    /// Neither compact nor detailed.
    Format,
}

impl FilterProblem {
    /// A stable name (the message catalog's `filter-problem-<code>`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::UnknownKey => "unknown-key",
            Self::Confidence => "confidence",
            Self::Types => "types",
            Self::Assets => "assets",
            Self::TooManyAssets => "too-many-assets",
            Self::Hours => "hours",
            Self::Format => "format",
        }
    }
}

/// An example of every key, for help and errors.
pub const FILTER_EXAMPLE: &str =
    "/filter confidence:80 types:buy,sell assets:BTC/USD,ETH/USD hours:08-22 format:compact";

/// The keys `/filter` knows.
pub const FILTER_KEYS: [&str; 5] = ["confidence", "types", "assets", "hours", "format"];

/// Parses the arguments of `/filter` (everything after the command).
pub fn parse_filters(args: &str) -> Result<FilterRequest, FilterError> {
    let tokens: Vec<&str> = args.split_whitespace().collect();
    match tokens.as_slice() {
        [] => return Ok(FilterRequest::Show),
        [only] if only.eq_ignore_ascii_case("reset") => return Ok(FilterRequest::Reset),
        _ => {}
    }
    tokens
        .iter()
        .map(|t| parse_token(t))
        .collect::<Result<Vec<_>, _>>()
        .map(FilterRequest::Set)
}

fn parse_token(token: &str) -> Result<Filter, FilterError> {
    let error = |problem: FilterProblem, example: &'static str| FilterError {
        token: token.to_string(),
        problem,
        example,
    };
    let Some((key, value)) = token.split_once(':') else {
        return Err(error(FilterProblem::Syntax, FILTER_EXAMPLE));
    };
    let value = value.trim();
    match key.to_ascii_lowercase().as_str() {
        "confidence" | "conf" => {
            let value = value.trim_end_matches('%');
            value
                .parse::<u8>()
                .ok()
                .filter(|c| *c <= 100)
                .map(Filter::Confidence)
                .ok_or_else(|| error(FilterProblem::Confidence, "confidence:80"))
        }
        "types" | "type" | "kinds" => {
            let kinds = list(value)
                .map(|k| k.parse::<SignalKind>())
                .collect::<Result<BTreeSet<_>, _>>()
                .ok()
                .filter(|kinds| !kinds.is_empty());
            kinds
                .map(Filter::Types)
                .ok_or_else(|| error(FilterProblem::Types, "types:buy,sell"))
        }
        "assets" | "asset" => {
            const EXAMPLE: &str = "assets:BTC/USD,ETH/USD";
            if value.eq_ignore_ascii_case("all") || value == "*" {
                return Ok(Filter::Assets(BTreeSet::new()));
            }
            let assets = list(value)
                .map(Asset::parse)
                .collect::<Result<BTreeSet<_>, _>>()
                .ok()
                .filter(|assets| !assets.is_empty())
                .ok_or_else(|| error(FilterProblem::Assets, EXAMPLE))?;
            if assets.len() > MAX_ASSETS {
                return Err(error(FilterProblem::TooManyAssets, EXAMPLE));
            }
            Ok(Filter::Assets(assets))
        }
        "hours" | "hour" => {
            if ["any", "all", "off", "none"]
                .iter()
                .any(|w| value.eq_ignore_ascii_case(w))
            {
                return Ok(Filter::Hours(None));
            }
            value
                .parse::<NotificationHours>()
                .map(|h| Filter::Hours(Some(h)))
                .map_err(|_| error(FilterProblem::Hours, "hours:08-22"))
        }
        "format" => value
            .parse::<SignalFormat>()
            .map(Filter::Format)
            .map_err(|_| error(FilterProblem::Format, "format:compact")),
        _ => Err(error(FilterProblem::UnknownKey, FILTER_EXAMPLE)),
    }
}

/// The non-empty items of a comma-separated list.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Filter {
    /// Applies the filter to `prefs`.
    pub fn apply(&self, prefs: &mut Preferences) {
        match self {
            Filter::Confidence(c) => prefs.min_confidence = *c,
            Filter::Types(kinds) => prefs.set_kinds(kinds),
            Filter::Assets(assets) => prefs.assets = assets.clone(),
            Filter::Hours(hours) => prefs.notification_hours = *hours,
            Filter::Format(format) => prefs.format = *format,
        }
    }
}

impl FilterRequest {
    /// The preferences after this request, from `current`.
    pub fn applied_to(&self, current: &Preferences) -> Preferences {
        match self {
            FilterRequest::Show => current.clone(),
            FilterRequest::Reset => {
                let defaults = Preferences::default();
                Preferences {
                    modes: defaults.modes,
                    min_confidence: defaults.min_confidence,
                    assets: defaults.assets,
                    notification_hours: defaults.notification_hours,
                    format: defaults.format,
                    ..current.clone()
                }
            }
            FilterRequest::Set(filters) => {
                let mut prefs = current.clone();
                for filter in filters {
                    filter.apply(&mut prefs);
                }
                prefs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::NotifyMode;
    use crate::zone::{Language, TimeZone};

    fn set(args: &str) -> Vec<Filter> {
        match parse_filters(args).unwrap() {
            FilterRequest::Set(filters) => filters,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn show_and_reset() {
        assert_eq!(parse_filters("").unwrap(), FilterRequest::Show);
        assert_eq!(parse_filters("  ").unwrap(), FilterRequest::Show);
        assert_eq!(parse_filters("RESET").unwrap(), FilterRequest::Reset);
    }

    #[test]
    fn several_tokens_at_once() {
        let filters =
            set("confidence:80 types:buy,sell assets:btc/usd,ETH/USD hours:22-06 format:compact");
        assert_eq!(
            filters,
            vec![
                Filter::Confidence(80),
                Filter::Types([SignalKind::Buy, SignalKind::Sell].into()),
                Filter::Assets(
                    [
                        Asset::parse("BTC/USD").unwrap(),
                        Asset::parse("ETH/USD").unwrap()
                    ]
                    .into()
                ),
                Filter::Hours(Some(NotificationHours::new(22, 6).unwrap())),
                Filter::Format(SignalFormat::Compact),
            ]
        );
        assert_eq!(
            set("assets:all hours:any"),
            vec![Filter::Assets(BTreeSet::new()), Filter::Hours(None)]
        );
        assert_eq!(set("confidence:75%"), vec![Filter::Confidence(75)]);
    }

    #[test]
    fn errors_name_the_bad_token_and_give_an_example() {
        let cases = [
            ("confidence:101", "confidence:101", "confidence:80"),
            ("confidence:high", "confidence:high", "confidence:80"),
            ("types:buy,hold", "types:buy,hold", "types:buy,sell"),
            ("types:", "types:", "types:buy,sell"),
            (
                "assets:BTC/USD/EUR",
                "assets:BTC/USD/EUR",
                "assets:BTC/USD,ETH/USD",
            ),
            ("hours:8-25", "hours:8-25", "hours:08-22"),
            ("hours:9-9", "hours:9-9", "hours:08-22"),
            ("hours:morning", "hours:morning", "hours:08-22"),
            ("format:fancy", "format:fancy", "format:compact"),
            ("colour:red", "colour:red", FILTER_EXAMPLE),
            ("confidence:80 80", "80", FILTER_EXAMPLE),
        ];
        assert_eq!(
            parse_filters("colour:red").unwrap_err().problem,
            FilterProblem::UnknownKey
        );
        assert_eq!(
            parse_filters("80").unwrap_err().problem,
            FilterProblem::Syntax
        );
        let many = (0..=MAX_ASSETS)
            .map(|n| format!("A{n}"))
            .collect::<Vec<_>>();
        assert_eq!(
            parse_filters(&format!("assets:{}", many.join(",")))
                .unwrap_err()
                .problem,
            FilterProblem::TooManyAssets
        );
        for (args, token, example) in cases {
            let e = parse_filters(args).unwrap_err();
            assert_eq!(e.token, token, "{args}");
            assert_eq!(e.example, example, "{args}");
        }
    }

    #[test]
    fn types_keep_silent_kinds_silent_and_turn_the_rest_off() {
        let mut prefs = Preferences::default();
        prefs.modes.insert(SignalKind::Sell, NotifyMode::Silent);
        let next = parse_filters("types:buy,sell").unwrap().applied_to(&prefs);
        assert_eq!(next.mode(SignalKind::Buy), NotifyMode::On);
        assert_eq!(next.mode(SignalKind::Sell), NotifyMode::Silent);
        assert_eq!(next.mode(SignalKind::Close), NotifyMode::Off);
        assert_eq!(next.mode(SignalKind::Alert), NotifyMode::Off);
    }

    #[test]
    fn reset_keeps_zone_language_and_reports() {
        let mut prefs = parse_filters("confidence:90 hours:08-22 format:compact")
            .unwrap()
            .applied_to(&Preferences::default());
        prefs.time_zone = "Europe/Madrid".parse::<TimeZone>().unwrap();
        prefs.language = Language::Es;
        let reset = FilterRequest::Reset.applied_to(&prefs);
        assert_eq!(reset.min_confidence, 0);
        assert_eq!(reset.notification_hours, None);
        assert_eq!(reset.format, SignalFormat::Detailed);
        assert_eq!(reset.time_zone, prefs.time_zone);
        assert_eq!(reset.language, Language::Es);
    }
}
