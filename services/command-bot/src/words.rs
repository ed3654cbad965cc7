//! How preferences, times and kinds read in a trader's language: the values every reply and
//! menu shows, from the message catalog.

use chrono::{DateTime, Utc};
use herald_domain::{
    Language, NotifyMode, OutsideHours, Preferences, ReportFrequency, SignalFormat, SignalKind,
    TimeZone,
};
use herald_i18n::{Arg, catalog};
use teloxide::utils::html::escape;

/// The language Telegram says `user` uses, if Herald speaks it; else English: how the bot
/// speaks to someone it has no preferences for (yet).
pub fn telegram_language(user: &teloxide::types::User) -> Language {
    user.language_code
        .as_deref()
        .and_then(Language::from_telegram)
        .unwrap_or_default()
}

/// The message `id` in `lang`.
pub fn t(lang: Language, id: &str) -> String {
    catalog().get(lang, id)
}

/// The message `id` in `lang` with `args`.
pub fn tf(lang: Language, id: &str, args: &[(&str, Arg<'_>)]) -> String {
    catalog().format(lang, id, args)
}

/// `Buy`, `Sell`, …
pub fn kind(lang: Language, kind: SignalKind) -> String {
    t(lang, &format!("kind-{}", kind.as_str()))
}

/// `🔔 on`, `🔕 silent`, `⛔ off`.
pub fn mode(lang: Language, mode: NotifyMode) -> String {
    t(lang, &format!("mode-{}", mode.as_str()))
}

/// `detailed`, `compact`.
pub fn format(lang: Language, format: SignalFormat) -> String {
    t(lang, &format!("format-{}", format.as_str()))
}

/// `delivered silently`, `skipped`.
pub fn outside(lang: Language, outside: OutsideHours) -> String {
    t(lang, &format!("outside-{}", outside.as_str()))
}

/// `off`, `daily`, `weekly`.
pub fn reports(lang: Language, reports: ReportFrequency) -> String {
    t(lang, &format!("reports-{}", reports.as_str()))
}

/// When reports come: `weekly, Mondays at 08:00`, `daily at 18:00`, or `off`. The hour is
/// the trader's own ([`Preferences::time_zone`]).
pub fn report_schedule(lang: Language, prefs: &Preferences) -> String {
    match prefs.reports {
        ReportFrequency::Off => reports(lang, ReportFrequency::Off),
        frequency => tf(
            lang,
            &format!("reports-at-{}", frequency.as_str()),
            &[("time", hour(prefs.report_hour).into())],
        ),
    }
}

/// `08:00`: a whole hour of the day.
pub fn hour(hour: u8) -> String {
    format!("{hour:02}:00")
}

/// The kinds taken, e.g. `Buy, Sell`, or `none`.
pub fn wanted_kinds(lang: Language, prefs: &Preferences) -> String {
    let kinds: Vec<String> = prefs
        .wanted_kinds()
        .into_iter()
        .map(|k| kind(lang, k))
        .collect();
    if kinds.is_empty() {
        t(lang, "value-none")
    } else {
        kinds.join(", ")
    }
}

/// Every kind with its mode: `Buy 🔔 on · Sell 🔕 silent · …`.
pub fn kind_modes(lang: Language, prefs: &Preferences) -> String {
    SignalKind::ALL
        .into_iter()
        .map(|k| format!("{} {}", kind(lang, k), mode(lang, prefs.mode(k))))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The assets followed, or `all`.
pub fn assets(lang: Language, prefs: &Preferences) -> String {
    if prefs.assets.is_empty() {
        t(lang, "value-all-assets")
    } else {
        prefs
            .assets
            .iter()
            .map(|a| escape(a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The hours with their zone, `08-22 (Europe/Madrid)`, or `any time`.
pub fn hours(lang: Language, prefs: &Preferences) -> String {
    match prefs.notification_hours {
        None => t(lang, "value-any-time"),
        Some(window) => tf(
            lang,
            "value-hours",
            &[
                ("window", window.to_string().into()),
                ("zone", prefs.time_zone.to_string().into()),
            ],
        ),
    }
}

/// `2026-11-30 14:05 Europe/Madrid`: an instant as the trader's clock shows it.
pub fn when(at: DateTime<Utc>, zone: TimeZone) -> String {
    format!("{} {zone}", zone.local(at).format("%Y-%m-%d %H:%M"))
}

/// `14:05`: the time of day in the trader's zone.
pub fn clock(at: DateTime<Utc>, zone: TimeZone) -> String {
    zone.local(at).format("%H:%M").to_string()
}
