//! `/settings`: one message with buttons for every preference (spec §4.2), which edits
//! itself in place as the trader presses them. Each press is saved at once.
//!
//! Every button carries the stamp of the preferences its menu showed
//! ([`herald_domain::callback::stamp`]): a press on a menu drawn before some other change
//! (an old message, a second menu, a `/filter` since) changes nothing — the menu is redrawn
//! as things stand, and the trader is told.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use herald_domain::callback::stamp;
use herald_domain::{
    Asset, Callback, Language, MAX_ASSETS, NotificationHours, NotifyMode, OutsideHours,
    Preferences, ReportFrequency, SettingsAction, SettingsView, SignalFormat, SignalKind, TimeZone,
};
use herald_store::{Store, StoreError};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::{Ctx, Reply, Trader};
use crate::words::{self, t, tf};

/// The zones offered as buttons (any other can be typed).
pub const COMMON_ZONES: [&str; 15] = [
    "UTC",
    "Europe/London",
    "Europe/Madrid",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/Sao_Paulo",
];

/// Minimum confidence choices.
const CONFIDENCES: [u8; 9] = [0, 50, 60, 70, 75, 80, 85, 90, 95];

/// Notification windows offered as buttons (any other through `/filter hours:`).
const WINDOWS: [(u8, u8); 5] = [(8, 20), (9, 17), (7, 22), (6, 23), (22, 6)];

/// How many assets the assets page offers besides those followed.
const OFFERED_ASSETS: u64 = 20;

/// Local hours offered for reports (and the trader's own, when it is another).
const REPORT_HOURS: [u8; 5] = [6, 8, 12, 18, 21];

/// The answer to `/settings`: the main page.
pub async fn run(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    Ok(page(
        &ctx.trader.prefs,
        SettingsView::Main,
        &BTreeSet::new(),
    ))
}

/// What a press did: a short notice for the button (if any) and the menu as it now stands.
#[derive(Debug, Clone)]
pub struct Pressed {
    /// Shown briefly to the trader (`answerCallbackQuery`).
    pub notice: Option<String>,
    /// The menu to edit the message into.
    pub menu: Reply,
}

/// Applies a press of a menu drawn from preferences stamped `shown`.
pub async fn press(
    store: &Store,
    trader: &Trader,
    shown: u32,
    action: &SettingsAction,
    now: DateTime<Utc>,
) -> Result<Pressed, StoreError> {
    let prefs = &trader.prefs;
    if shown != stamp(prefs) {
        return Ok(Pressed {
            notice: Some(t(prefs.language, "menu-stale")),
            menu: page(prefs, SettingsView::Main, &BTreeSet::new()),
        });
    }
    let next = action.apply(prefs);
    if next.assets.len() > MAX_ASSETS {
        return Ok(Pressed {
            notice: Some(tf(
                prefs.language,
                "filter-problem-too-many-assets",
                &[("max", MAX_ASSETS.into())],
            )),
            menu: page(
                prefs,
                SettingsView::Assets,
                &offered(store, trader, now).await?,
            ),
        });
    }
    let changed = next != *prefs;
    if changed
        && !store
            .update_preferences(trader.user.id, trader.version, &next, now)
            .await?
    {
        // Another change came first (a second press at the same moment, elsewhere): this
        // menu is out of date after all.
        let (fresh, _) = store.preferences_versioned(trader.user.id).await?;
        return Ok(Pressed {
            notice: Some(t(fresh.language, "menu-stale")),
            menu: page(&fresh, SettingsView::Main, &BTreeSet::new()),
        });
    }
    // Pages with more than one choice to make stay open; the others go back to the main page.
    let view = match action {
        SettingsAction::View(view) => *view,
        SettingsAction::Asset(..) | SettingsAction::AllAssets => SettingsView::Assets,
        SettingsAction::Reports(_) | SettingsAction::ReportHour(_) => SettingsView::Reports,
        _ => SettingsView::Main,
    };
    let assets = if view == SettingsView::Assets {
        offered(store, trader, now).await?
    } else {
        BTreeSet::new()
    };
    Ok(Pressed {
        notice: changed.then(|| t(next.language, "settings-saved")),
        menu: page(&next, view, &assets),
    })
}

/// The assets of the latest signals the trader's tier carries: what the assets page offers.
async fn offered(
    store: &Store,
    trader: &Trader,
    now: DateTime<Utc>,
) -> Result<BTreeSet<Asset>, StoreError> {
    let tier = store.user_tier(trader.user.id).await?;
    Ok(store
        .recent_signals(&tier, OFFERED_ASSETS, now)
        .await?
        .into_iter()
        .map(|s| s.asset)
        .collect())
}

/// One page of the menu for `prefs`; `offered` assets for the assets page.
pub fn page(prefs: &Preferences, view: SettingsView, offered: &BTreeSet<Asset>) -> Reply {
    let lang = prefs.language;
    let button = |label: String, action: SettingsAction| {
        InlineKeyboardButton::callback(
            label,
            Callback::Settings {
                stamp: stamp(prefs),
                action,
            }
            .encode(),
        )
    };
    let back = || {
        vec![button(
            t(lang, "button-back"),
            SettingsAction::View(SettingsView::Main),
        )]
    };
    let marked = |on: bool, label: String| if on { format!("• {label}") } else { label };
    let (text, mut rows) = match view {
        SettingsView::Main => (summary(prefs), main_rows(prefs, &button)),
        SettingsView::Confidence => (
            t(lang, "settings-pick-confidence"),
            CONFIDENCES
                .chunks(3)
                .map(|row| {
                    row.iter()
                        .map(|c| {
                            button(
                                marked(*c == prefs.min_confidence, format!("{c}%")),
                                SettingsAction::Confidence(*c),
                            )
                        })
                        .collect()
                })
                .collect(),
        ),
        SettingsView::Hours => {
            let mut choices = vec![button(
                marked(
                    prefs.notification_hours.is_none(),
                    t(lang, "button-any-time"),
                ),
                SettingsAction::Hours(None),
            )];
            for (start, end) in WINDOWS {
                if let Ok(window) = NotificationHours::new(start, end) {
                    choices.push(button(
                        marked(prefs.notification_hours == Some(window), window.to_string()),
                        SettingsAction::Hours(Some(window)),
                    ));
                }
            }
            (
                tf(
                    lang,
                    "settings-pick-hours",
                    &[("zone", prefs.time_zone.to_string().into())],
                ),
                choices.chunks(3).map(<[_]>::to_vec).collect(),
            )
        }
        SettingsView::Zone => (
            t(lang, "settings-pick-zone"),
            zone_rows(
                |zone| Callback::Settings {
                    stamp: stamp(prefs),
                    action: SettingsAction::Zone(zone),
                },
                Some(prefs.time_zone),
            ),
        ),
        SettingsView::Language => (
            t(lang, "language-pick"),
            vec![
                Language::ALL
                    .into_iter()
                    .map(|l| {
                        button(
                            marked(l == prefs.language, l.native_name().to_string()),
                            SettingsAction::Language(l),
                        )
                    })
                    .collect(),
            ],
        ),
        SettingsView::Assets => {
            let all: BTreeSet<&Asset> = prefs.assets.iter().chain(offered).collect();
            let mut choices: Vec<_> = all
                .into_iter()
                .map(|asset| {
                    let followed = prefs.assets.contains(asset);
                    let label = if followed {
                        format!("✅ {asset}")
                    } else {
                        asset.to_string()
                    };
                    button(label, SettingsAction::Asset(asset.clone(), !followed))
                })
                .collect();
            choices.push(button(
                marked(prefs.assets.is_empty(), t(lang, "button-all-assets")),
                SettingsAction::AllAssets,
            ));
            (
                t(lang, "settings-pick-assets"),
                choices.chunks(3).map(<[_]>::to_vec).collect(),
            )
        }
        SettingsView::Reports => (
            [
                report_line(prefs),
                String::new(),
                tf(
                    lang,
                    "settings-pick-reports",
                    &[("zone", prefs.time_zone.to_string().into())],
                ),
            ]
            .join("\n"),
            report_rows(prefs, &button, &marked),
        ),
    };
    if view != SettingsView::Main {
        rows.push(back());
    }
    Reply::with_keyboard(text, InlineKeyboardMarkup::new(rows))
}

/// Every preference, one line each.
fn summary(prefs: &Preferences) -> String {
    let lang = prefs.language;
    [
        t(lang, "settings-title"),
        String::new(),
        tf(
            lang,
            "settings-kinds",
            &[("kinds", words::kind_modes(lang, prefs).into())],
        ),
        tf(
            lang,
            "settings-confidence",
            &[("confidence", prefs.min_confidence.into())],
        ),
        tf(
            lang,
            "settings-assets",
            &[("assets", words::assets(lang, prefs).into())],
        ),
        tf(
            lang,
            "settings-hours",
            &[("hours", words::hours(lang, prefs).into())],
        ),
        tf(
            lang,
            "settings-outside",
            &[("outside", words::outside(lang, prefs.outside_hours).into())],
        ),
        tf(
            lang,
            "settings-zone",
            &[("zone", prefs.time_zone.to_string().into())],
        ),
        tf(
            lang,
            "settings-format",
            &[("format", words::format(lang, prefs.format).into())],
        ),
        tf(
            lang,
            "settings-language",
            &[("language", prefs.language.native_name().into())],
        ),
        report_line(prefs),
        String::new(),
        t(lang, "settings-hint"),
    ]
    .join("\n")
}

/// `Performance reports: weekly, Mondays at 08:00 (🔔 on)`.
fn report_line(prefs: &Preferences) -> String {
    let lang = prefs.language;
    let sound = report_sound(prefs);
    tf(
        lang,
        "settings-reports",
        &[
            ("reports", words::report_schedule(lang, prefs).into()),
            ("sound", words::mode(lang, sound).into()),
        ],
    )
}

/// Whether reports come with a sound.
fn report_sound(prefs: &Preferences) -> NotifyMode {
    if prefs.reports_silent {
        NotifyMode::Silent
    } else {
        NotifyMode::On
    }
}

/// The reports page's choices: how often, then at what local hour.
fn report_rows(
    prefs: &Preferences,
    button: &impl Fn(String, SettingsAction) -> InlineKeyboardButton,
    marked: &impl Fn(bool, String) -> String,
) -> Vec<Vec<InlineKeyboardButton>> {
    let lang = prefs.language;
    let frequencies = ReportFrequency::ALL
        .into_iter()
        .map(|f| {
            let label = t(lang, &format!("button-reports-{}", f.as_str()));
            button(
                marked(f == prefs.reports, label),
                SettingsAction::Reports(f),
            )
        })
        .collect();
    let mut hours: Vec<u8> = REPORT_HOURS.to_vec();
    if !hours.contains(&prefs.report_hour) {
        hours.push(prefs.report_hour);
        hours.sort_unstable();
    }
    let hours: Vec<InlineKeyboardButton> = hours
        .into_iter()
        .map(|h| {
            button(
                marked(h == prefs.report_hour, words::hour(h)),
                SettingsAction::ReportHour(h),
            )
        })
        .collect();
    let mut rows = vec![frequencies];
    rows.extend(hours.chunks(3).map(<[_]>::to_vec));
    rows
}

/// The main page's buttons: the kinds cycle on → silent → off; the rest toggle, cycle or
/// open a page.
fn main_rows(
    prefs: &Preferences,
    button: &impl Fn(String, SettingsAction) -> InlineKeyboardButton,
) -> Vec<Vec<InlineKeyboardButton>> {
    let lang = prefs.language;
    let kind = |k: SignalKind| {
        let mode = prefs.mode(k);
        button(
            tf(
                lang,
                "button-kind",
                &[
                    ("kind", words::kind(lang, k).into()),
                    ("mode", words::mode(lang, mode).into()),
                ],
            ),
            SettingsAction::Kind(k, mode.next()),
        )
    };
    let hours = match prefs.notification_hours {
        Some(window) => window.to_string(),
        None => t(lang, "value-any-time"),
    };
    let other_outside = match prefs.outside_hours {
        OutsideHours::Silent => OutsideHours::Skip,
        OutsideHours::Skip => OutsideHours::Silent,
    };
    let other_format = match prefs.format {
        SignalFormat::Detailed => SignalFormat::Compact,
        SignalFormat::Compact => SignalFormat::Detailed,
    };
    let sound = report_sound(prefs);
    let page = |label: String, view| button(label, SettingsAction::View(view));
    vec![
        vec![kind(SignalKind::Buy), kind(SignalKind::Sell)],
        vec![kind(SignalKind::Close), kind(SignalKind::Alert)],
        vec![
            page(
                tf(
                    lang,
                    "button-confidence",
                    &[("confidence", prefs.min_confidence.into())],
                ),
                SettingsView::Confidence,
            ),
            page(
                tf(
                    lang,
                    "button-assets",
                    &[("assets", words::assets(lang, prefs).into())],
                ),
                SettingsView::Assets,
            ),
        ],
        vec![
            page(
                tf(lang, "button-hours", &[("hours", hours.into())]),
                SettingsView::Hours,
            ),
            button(
                tf(
                    lang,
                    "button-outside",
                    &[("outside", words::outside(lang, prefs.outside_hours).into())],
                ),
                SettingsAction::Outside(other_outside),
            ),
        ],
        vec![
            page(
                tf(
                    lang,
                    "button-zone",
                    &[("zone", prefs.time_zone.to_string().into())],
                ),
                SettingsView::Zone,
            ),
            button(
                tf(
                    lang,
                    "button-format",
                    &[("format", words::format(lang, prefs.format).into())],
                ),
                SettingsAction::Format(other_format),
            ),
        ],
        vec![
            page(
                tf(
                    lang,
                    "button-language",
                    &[("language", prefs.language.native_name().into())],
                ),
                SettingsView::Language,
            ),
            page(
                tf(
                    lang,
                    "button-reports",
                    &[("reports", words::reports(lang, prefs.reports).into())],
                ),
                SettingsView::Reports,
            ),
        ],
        vec![button(
            tf(
                lang,
                "button-reports-sound",
                &[("mode", words::mode(lang, sound).into())],
            ),
            SettingsAction::ReportsSilent(!prefs.reports_silent),
        )],
    ]
}

/// The common zones as rows of buttons, each pressing `make(zone)`; `current` is marked.
pub fn zone_rows(
    make: impl Fn(TimeZone) -> Callback,
    current: Option<TimeZone>,
) -> Vec<Vec<InlineKeyboardButton>> {
    let buttons: Vec<InlineKeyboardButton> = COMMON_ZONES
        .iter()
        .filter_map(|name| name.parse::<TimeZone>().ok())
        .map(|zone| {
            let name = zone.to_string();
            let city = name.rsplit('/').next().unwrap_or(&name).replace('_', " ");
            let label = if Some(zone) == current {
                format!("• {city}")
            } else {
                city
            };
            InlineKeyboardButton::callback(label, make(zone).encode())
        })
        .collect();
    buttons.chunks(3).map(<[_]>::to_vec).collect()
}

/// [`zone_rows`] as a whole keyboard.
pub fn zone_keyboard(
    make: impl Fn(TimeZone) -> Callback,
    current: Option<TimeZone>,
) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(zone_rows(make, current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    fn data(reply: &Reply) -> Vec<String> {
        reply
            .keyboard
            .as_ref()
            .unwrap()
            .inline_keyboard
            .iter()
            .flatten()
            .filter_map(|b| match &b.kind {
                InlineKeyboardButtonKind::CallbackData(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_page_carries_the_stamp_and_parses_back() {
        let prefs = Preferences::default();
        let offered = [Asset::parse("BTC/USD").unwrap()].into();
        for view in [
            SettingsView::Main,
            SettingsView::Confidence,
            SettingsView::Hours,
            SettingsView::Zone,
            SettingsView::Language,
            SettingsView::Assets,
            SettingsView::Reports,
        ] {
            for lang in Language::ALL {
                let prefs = Preferences {
                    language: lang,
                    ..prefs.clone()
                };
                let reply = page(&prefs, view, &offered);
                let all = data(&reply);
                assert!(!all.is_empty(), "{view:?}");
                for d in all {
                    match Callback::parse(&d) {
                        Some(Callback::Settings { stamp: s, .. }) => {
                            assert_eq!(s, stamp(&prefs))
                        }
                        other => panic!("{d}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_main_page_shows_every_preference() {
        let prefs = Preferences::default();
        let text = page(&prefs, SettingsView::Main, &BTreeSet::new()).text;
        for needle in [
            "Signals:",
            "Minimum confidence: 0%",
            "Assets: all",
            "Notification hours: any time",
            "Outside your hours:",
            "Time zone: UTC",
            "Format: detailed",
            "Language: English",
            "Performance reports: weekly, Mondays at 08:00 (🔔 on)",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }

    #[test]
    fn the_reports_page_offers_frequencies_and_hours_and_the_current_hour() {
        let labels = |prefs: &Preferences| -> Vec<String> {
            page(prefs, SettingsView::Reports, &BTreeSet::new())
                .keyboard
                .unwrap()
                .inline_keyboard
                .iter()
                .flatten()
                .map(|b| b.text.clone())
                .collect()
        };
        let prefs = Preferences::default();
        assert_eq!(
            labels(&prefs),
            [
                "Off",
                "Daily",
                "• Weekly",
                "06:00",
                "• 08:00",
                "12:00",
                "18:00",
                "21:00",
                "« Back"
            ]
        );
        let late = Preferences {
            reports: ReportFrequency::Daily,
            report_hour: 23,
            ..prefs
        };
        assert_eq!(
            labels(&late),
            [
                "Off",
                "• Daily",
                "Weekly",
                "06:00",
                "08:00",
                "12:00",
                "18:00",
                "21:00",
                "• 23:00",
                "« Back"
            ]
        );
        let text = page(&late, SettingsView::Main, &BTreeSet::new()).text;
        assert!(
            text.contains("Performance reports: daily at 23:00 (🔔 on)"),
            "{text}"
        );
        let off = Preferences {
            reports: ReportFrequency::Off,
            ..late
        };
        let text = page(&off, SettingsView::Main, &BTreeSet::new()).text;
        assert!(text.contains("Performance reports: off"), "{text}");
    }

    #[test]
    fn zones_offered_are_all_real() {
        assert_eq!(
            zone_rows(Callback::Zone, None).iter().flatten().count(),
            COMMON_ZONES.len()
        );
    }
}
