//! [`PreferencesDoc`]: a trader's preferences as the admin API reads and writes them, and
//! the one place that turns such a document into [`Preferences`], field by field.
//!
//! The document's fields are loose (strings and integers), so that a wrong value is named in
//! a per-field problem rather than failing the whole body at the first one; each field is
//! then read with the same parser the bot's `/settings` and `/filter` use (`FromStr` of the
//! domain types, [`Asset::parse`], [`NotificationHours::new`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::filter::MAX_ASSETS;
use crate::preferences::{NotificationHours, Preferences};
use crate::signal::{Asset, SignalKind};

/// A trader's preferences as JSON. On a write every field must be present (`PUT` replaces
/// them all); [`PreferencesDoc::of`] gives the current document to start from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesDoc {
    /// Each kind (`buy`, `sell`, `close`, `alert`): `on`, `silent` or `off`.
    pub signal_types: Option<BTreeMap<String, String>>,
    /// 0–100: the lowest confidence worth a message.
    pub min_confidence: Option<i64>,
    /// Assets wanted (`BTC/USD`); empty for every asset; at most 50.
    pub assets: Option<Vec<String>>,
    /// When messages are welcome, in `time_zone`; `null` for any time. (Absent is `None`,
    /// `null` is `Some(None)`.)
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<HoursDoc>)]
    pub notification_hours: Option<Option<HoursDoc>>,
    /// An IANA zone (`Europe/Madrid`) or an offset (`UTC+05:30`).
    pub time_zone: Option<String>,
    /// Outside the hours: `silent` or `skip`.
    pub outside_hours: Option<String>,
    /// `detailed` or `compact`.
    pub format: Option<String>,
    /// `en` or `es`.
    pub language: Option<String>,
    /// Performance reports: `off`, `daily` or `weekly`.
    pub reports: Option<String>,
    /// Whether reports come without a sound.
    pub reports_silent: Option<bool>,
    /// The local hour (0–23, in `time_zone`) reports come at (weekly ones on Mondays);
    /// 8 when left out.
    #[serde(default)]
    pub report_hour: Option<i64>,
}

/// The notification window: from `start` (0–23) up to, not including, `end` (0–23); a window
/// may cross midnight (`22` to `6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDoc {
    /// The first hour messages are welcome.
    pub start: i64,
    /// The first hour they are no longer.
    pub end: i64,
}

/// A field that is present, `null` included: `Some(None)` for `null`, where serde alone reads
/// `null` as absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// The field, e.g. `time_zone` or `signal_types.buy`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl PreferencesDoc {
    /// The document of `prefs`, every field present.
    pub fn of(prefs: &Preferences) -> Self {
        Self {
            signal_types: Some(
                prefs
                    .modes
                    .iter()
                    .map(|(kind, mode)| (kind.as_str().to_string(), mode.as_str().to_string()))
                    .collect(),
            ),
            min_confidence: Some(i64::from(prefs.min_confidence)),
            assets: Some(
                prefs
                    .assets
                    .iter()
                    .map(|a| a.as_str().to_string())
                    .collect(),
            ),
            notification_hours: Some(prefs.notification_hours.map(|h| HoursDoc {
                start: i64::from(h.start_hour),
                end: i64::from(h.end_hour),
            })),
            time_zone: Some(prefs.time_zone.to_string()),
            outside_hours: Some(prefs.outside_hours.as_str().to_string()),
            format: Some(prefs.format.as_str().to_string()),
            language: Some(prefs.language.to_string()),
            reports: Some(prefs.reports.as_str().to_string()),
            reports_silent: Some(prefs.reports_silent),
            report_hour: Some(i64::from(prefs.report_hour)),
        }
    }

    /// The preferences this document describes, or every problem with it.
    pub fn into_preferences(self) -> Result<Preferences, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(FieldProblem {
                field: field.to_string(),
                message,
            });
        };
        let mut prefs = Preferences::default();
        match self.signal_types {
            None => problem("signal_types", "is required".into()),
            Some(modes) => {
                let mut seen = BTreeSet::new();
                for (kind, mode) in modes {
                    let field = format!("signal_types.{kind}");
                    let kind = match kind.parse::<SignalKind>() {
                        Ok(kind) => kind,
                        Err(e) => {
                            problem(&field, e);
                            continue;
                        }
                    };
                    seen.insert(kind);
                    match mode.parse() {
                        Ok(mode) => {
                            prefs.modes.insert(kind, mode);
                        }
                        Err(e) => problem(&field, e),
                    }
                }
                for kind in SignalKind::ALL {
                    if !seen.contains(&kind) {
                        problem(
                            &format!("signal_types.{}", kind.as_str()),
                            "is required: on, silent or off".into(),
                        );
                    }
                }
            }
        }
        match self.min_confidence {
            None => problem("min_confidence", "is required".into()),
            Some(c) => match u8::try_from(c) {
                Ok(c) if c <= 100 => prefs.min_confidence = c,
                _ => problem("min_confidence", format!("{c} is not from 0 to 100")),
            },
        }
        match self.assets {
            None => problem(
                "assets",
                "is required (an empty list for every asset)".into(),
            ),
            Some(assets) if assets.len() > MAX_ASSETS => problem(
                "assets",
                format!("{} assets is more than {MAX_ASSETS}", assets.len()),
            ),
            Some(assets) => {
                for (i, raw) in assets.iter().enumerate() {
                    match Asset::parse(raw) {
                        Ok(asset) => {
                            prefs.assets.insert(asset);
                        }
                        Err(e) => problem(&format!("assets[{i}]"), e),
                    }
                }
            }
        }
        match self.notification_hours {
            None => problem(
                "notification_hours",
                "is required (null for any time)".into(),
            ),
            Some(None) => prefs.notification_hours = None,
            Some(Some(h)) => {
                let hour = |v: i64| u8::try_from(v).unwrap_or(u8::MAX);
                match NotificationHours::new(hour(h.start), hour(h.end)) {
                    // As the bot's `/filter hours:` refuses it: all day is no window at all.
                    Ok(window) if window.start_hour == window.end_hour => problem(
                        "notification_hours",
                        "starts and ends at the same hour; for any time, send null".into(),
                    ),
                    Ok(window) => prefs.notification_hours = Some(window),
                    Err(e) => problem("notification_hours", e),
                }
            }
        }
        read(
            &mut problems,
            "time_zone",
            self.time_zone,
            &mut prefs.time_zone,
        );
        read(
            &mut problems,
            "outside_hours",
            self.outside_hours,
            &mut prefs.outside_hours,
        );
        read(&mut problems, "format", self.format, &mut prefs.format);
        read(
            &mut problems,
            "language",
            self.language,
            &mut prefs.language,
        );
        read(&mut problems, "reports", self.reports, &mut prefs.reports);
        match self.reports_silent {
            None => problems.push(FieldProblem {
                field: "reports_silent".into(),
                message: "is required".into(),
            }),
            Some(silent) => prefs.reports_silent = silent,
        }
        match self.report_hour.map(u8::try_from) {
            None => {}
            Some(Ok(hour)) if hour < 24 => prefs.report_hour = hour,
            Some(_) => problems.push(FieldProblem {
                field: "report_hour".into(),
                message: "must be an hour from 0 to 23".into(),
            }),
        }
        if problems.is_empty() {
            Ok(prefs)
        } else {
            Err(problems)
        }
    }
}

/// Parses a required string field into `slot`, or records its problem.
fn read<T: std::str::FromStr<Err = String>>(
    problems: &mut Vec<FieldProblem>,
    field: &str,
    raw: Option<String>,
    slot: &mut T,
) {
    match raw.map(|r| r.parse::<T>()) {
        None => problems.push(FieldProblem {
            field: field.into(),
            message: "is required".into(),
        }),
        Some(Ok(value)) => *slot = value,
        Some(Err(e)) => problems.push(FieldProblem {
            field: field.into(),
            message: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::{NotifyMode, OutsideHours};

    #[test]
    fn a_document_round_trips() {
        let mut prefs = Preferences::default();
        prefs.modes.insert(SignalKind::Alert, NotifyMode::Off);
        prefs.min_confidence = 70;
        prefs.assets.insert(Asset::parse("btc/usd").unwrap());
        prefs.notification_hours = Some(NotificationHours::new(22, 6).unwrap());
        prefs.time_zone = "Europe/Madrid".parse().unwrap();
        prefs.outside_hours = OutsideHours::Skip;
        let doc = PreferencesDoc::of(&prefs);
        assert_eq!(doc.clone().into_preferences(), Ok(prefs));
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["assets"], serde_json::json!(["BTC/USD"]));
        assert_eq!(
            json["notification_hours"],
            serde_json::json!({"start": 22, "end": 6})
        );
        let back: PreferencesDoc = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut doc = PreferencesDoc::of(&Preferences::default());
        doc.signal_types = Some(
            [
                ("buy", "loud"),
                ("moon", "on"),
                ("sell", "on"),
                ("close", "on"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        doc.min_confidence = Some(101);
        doc.assets = Some(vec!["BTC/USD".into(), "A/B/C".into()]);
        doc.notification_hours = Some(Some(HoursDoc { start: 24, end: 6 }));
        let mut same = PreferencesDoc::of(&Preferences::default());
        same.notification_hours = Some(Some(HoursDoc { start: 8, end: 8 }));
        let refused = same.into_preferences().unwrap_err();
        assert_eq!(refused[0].field, "notification_hours");
        assert!(refused[0].message.contains("same hour"), "{refused:?}");
        doc.time_zone = Some("Mars/Olympus".into());
        doc.language = Some("fr".into());
        doc.reports_silent = None;
        let problems = doc.into_preferences().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "signal_types.buy",
                "signal_types.moon",
                "signal_types.alert",
                "min_confidence",
                "assets[1]",
                "notification_hours",
                "time_zone",
                "language",
                "reports_silent",
            ]
        );
        assert!(problems.iter().all(|p| !p.message.is_empty()));
    }

    #[test]
    fn null_hours_mean_any_time_and_absent_hours_are_missing() {
        let mut json = serde_json::to_value(PreferencesDoc::of(&Preferences::default())).unwrap();
        assert_eq!(json["notification_hours"], serde_json::Value::Null);
        let doc: PreferencesDoc = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(doc.notification_hours, Some(None));
        assert_eq!(doc.into_preferences(), Ok(Preferences::default()));
        json.as_object_mut().unwrap().remove("notification_hours");
        let doc: PreferencesDoc = serde_json::from_value(json).unwrap();
        let problems = doc.into_preferences().unwrap_err();
        assert_eq!(problems[0].field, "notification_hours");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<PreferencesDoc>(r#"{"min_confidence": 5, "colour": "red"}"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
    }
}
