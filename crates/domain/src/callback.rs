//! What Herald's inline buttons carry (`callback_data`): typed, at most 64 bytes, and parsed
//! back without trusting it — a press may come from an old message, or be forged.
//!
//! | data | button |
//! |---|---|
//! | `r:<delivery id, 32 hex>` | a signal's "Got it": fills `read_at` |
//! | `s:<stamp>:<action>` | a `/settings` menu; `stamp` names the preferences it showed |
//! | `z:<zone>` | a time zone offered by `/start` |
//! | `l:<code>` | a language offered by `/language` |
//! | `st` | `/status`'s Refresh |
//! | `p:<window>:<m\|a>` | `/performance`: a window (`24h`, `7d`, `30d`, `all`), of the trader's own signals (`m`) or all (`a`) |
//!
//! A settings press applies only if the trader's preferences are still those the menu was
//! drawn from (its stamp, [`stamp`]); otherwise the menu is redrawn and nothing changes.
//! A performance press changes nothing: it only says what to show, so it needs no stamp.

use std::fmt::Write as _;

use uuid::Uuid;

use crate::performance::Window;
use crate::preferences::{
    NotificationHours, NotifyMode, OutsideHours, Preferences, ReportFrequency, SignalFormat,
};
use crate::signal::{Asset, SignalKind};
use crate::zone::{Language, TimeZone};

/// Telegram's limit on `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;

/// A button press, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// "Got it" under a signal: the delivery it was.
    Read(Uuid),
    /// A `/settings` menu button.
    Settings {
        /// The [`stamp`] of the preferences the menu showed.
        stamp: u32,
        /// What the button does.
        action: SettingsAction,
    },
    /// A time zone button of `/start`.
    Zone(TimeZone),
    /// A language button of `/language`.
    Language(Language),
    /// `/status`'s Refresh.
    StatusRefresh,
    /// A `/performance` button (a window, the scope, or Refresh): show these figures.
    Performance {
        /// The period.
        window: Window,
        /// The signals the trader received (`true`), or every signal.
        mine: bool,
    },
}

/// The pages of the `/settings` menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsView {
    /// Every preference at a glance.
    Main,
    /// Minimum confidence choices.
    Confidence,
    /// Notification hours choices.
    Hours,
    /// Time zone choices.
    Zone,
    /// Languages.
    Language,
    /// Assets to follow.
    Assets,
    /// How often performance reports come, and at what local hour.
    Reports,
}

impl SettingsView {
    const ALL: [(SettingsView, &'static str); 7] = [
        (Self::Main, "main"),
        (Self::Confidence, "conf"),
        (Self::Hours, "hours"),
        (Self::Zone, "zone"),
        (Self::Language, "lang"),
        (Self::Assets, "assets"),
        (Self::Reports, "reports"),
    ];

    fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, c)| *c)
            .unwrap_or("main")
    }

    fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, c)| *c == code).map(|(v, _)| *v)
    }
}

/// One `/settings` button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsAction {
    /// Show a page (changes nothing).
    View(SettingsView),
    /// Set one kind's mode.
    Kind(SignalKind, NotifyMode),
    /// Set the minimum confidence.
    Confidence(u8),
    /// Set the notification hours (`None`: any time).
    Hours(Option<NotificationHours>),
    /// Set what happens outside the hours.
    Outside(OutsideHours),
    /// Set the time zone.
    Zone(TimeZone),
    /// Set the format.
    Format(SignalFormat),
    /// Set the language.
    Language(Language),
    /// Set the report frequency.
    Reports(ReportFrequency),
    /// Reports without a sound, or with.
    ReportsSilent(bool),
    /// The local hour (0–23) reports come at.
    ReportHour(u8),
    /// Follow (`true`) or stop following an asset.
    Asset(Asset, bool),
    /// Follow every asset.
    AllAssets,
}

impl SettingsAction {
    /// `prefs` after this action (a view changes nothing).
    pub fn apply(&self, prefs: &Preferences) -> Preferences {
        let mut next = prefs.clone();
        match self {
            Self::View(_) => {}
            Self::Kind(kind, mode) => {
                next.modes.insert(*kind, *mode);
            }
            Self::Confidence(c) => next.min_confidence = *c,
            Self::Hours(h) => next.notification_hours = *h,
            Self::Outside(o) => next.outside_hours = *o,
            Self::Zone(z) => next.time_zone = *z,
            Self::Format(f) => next.format = *f,
            Self::Language(l) => next.language = *l,
            Self::Reports(r) => next.reports = *r,
            Self::ReportsSilent(s) => next.reports_silent = *s,
            Self::ReportHour(h) => next.report_hour = *h,
            Self::Asset(asset, true) => {
                next.assets.insert(asset.clone());
            }
            Self::Asset(asset, false) => {
                next.assets.remove(asset);
            }
            Self::AllAssets => next.assets.clear(),
        }
        next
    }

    fn encode(&self, out: &mut String) {
        let _ = match self {
            Self::View(v) => write!(out, "v:{}", v.code()),
            Self::Kind(k, m) => write!(out, "k:{}:{}", k.as_str(), m.as_str()),
            Self::Confidence(c) => write!(out, "c:{c}"),
            Self::Hours(None) => write!(out, "h:any"),
            Self::Hours(Some(h)) => write!(out, "h:{h}"),
            Self::Outside(o) => write!(out, "o:{}", o.as_str()),
            Self::Zone(z) => write!(out, "z:{z}"),
            Self::Format(f) => write!(out, "f:{}", f.as_str()),
            Self::Language(l) => write!(out, "l:{}", l.code()),
            Self::Reports(r) => write!(out, "r:{}", r.as_str()),
            Self::ReportsSilent(s) => write!(out, "rs:{}", u8::from(*s)),
            Self::ReportHour(h) => write!(out, "rh:{h}"),
            Self::Asset(a, on) => write!(out, "a:{}{}", if *on { '+' } else { '-' }, a.as_str()),
            Self::AllAssets => write!(out, "a:*"),
        };
    }

    fn parse(text: &str) -> Option<Self> {
        let (key, value) = text.split_once(':')?;
        Some(match key {
            "v" => Self::View(SettingsView::parse(value)?),
            "k" => {
                let (kind, mode) = value.split_once(':')?;
                Self::Kind(kind.parse().ok()?, mode.parse().ok()?)
            }
            "c" => Self::Confidence(digits(value)?.parse().ok().filter(|c| *c <= 100)?),
            "h" if value == "any" => Self::Hours(None),
            "h" => Self::Hours(Some(value.parse().ok()?)),
            "o" => Self::Outside(value.parse().ok()?),
            "z" => Self::Zone(value.parse().ok()?),
            "f" => Self::Format(value.parse().ok()?),
            "l" => Self::Language(exact_language(value)?),
            "r" => Self::Reports(value.parse().ok()?),
            "rs" => Self::ReportsSilent(match value {
                "1" => true,
                "0" => false,
                _ => return None,
            }),
            "rh" => Self::ReportHour(
                digits(value)
                    .filter(|v| v.len() <= 2)?
                    .parse()
                    .ok()
                    .filter(|h| *h <= 23)?,
            ),
            "a" if value == "*" => Self::AllAssets,
            "a" => {
                let (on, asset) = match value.split_at_checked(1)? {
                    ("+", rest) => (true, rest),
                    ("-", rest) => (false, rest),
                    _ => return None,
                };
                Self::Asset(Asset::parse(asset).ok()?, on)
            }
            _ => return None,
        })
    }
}

fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then_some(text)
}

fn exact_language(code: &str) -> Option<Language> {
    Language::ALL.into_iter().find(|l| l.code() == code)
}

/// A window by its exact name (`24h`, `7d`, `30d`, `all`): what Herald writes, nothing else.
fn exact_window(name: &str) -> Option<Window> {
    Window::ALL.into_iter().find(|w| w.as_str() == name)
}

impl Callback {
    /// The `callback_data` for this button. Every value Herald builds fits in 64 bytes; a
    /// longer one (none exists: zones and assets are short) is cut, and then refused when
    /// pressed.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = match self {
            Self::Read(id) => write!(out, "r:{}", id.simple()),
            Self::Settings { stamp, action } => {
                let _ = write!(out, "s:{stamp:08x}:");
                action.encode(&mut out);
                Ok(())
            }
            Self::Zone(z) => write!(out, "z:{z}"),
            Self::Language(l) => write!(out, "l:{}", l.code()),
            Self::StatusRefresh => write!(out, "st"),
            Self::Performance { window, mine } => {
                write!(
                    out,
                    "p:{}:{}",
                    window.as_str(),
                    if *mine { 'm' } else { 'a' }
                )
            }
        };
        debug_assert!(out.len() <= MAX_CALLBACK_DATA, "{out} is too long");
        if out.len() > MAX_CALLBACK_DATA {
            let mut end = MAX_CALLBACK_DATA;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
        }
        out
    }

    /// Decodes `callback_data`; `None` for anything Herald did not build.
    pub fn parse(data: &str) -> Option<Self> {
        if data.len() > MAX_CALLBACK_DATA {
            return None;
        }
        if data == "st" {
            return Some(Self::StatusRefresh);
        }
        let (key, rest) = data.split_once(':')?;
        Some(match key {
            "r" if rest.len() == 32 => Self::Read(Uuid::try_parse(rest).ok()?),
            "s" => {
                let (stamp, action) = rest.split_once(':')?;
                if stamp.len() != 8 {
                    return None;
                }
                Self::Settings {
                    stamp: u32::from_str_radix(stamp, 16).ok()?,
                    action: SettingsAction::parse(action)?,
                }
            }
            "z" => Self::Zone(rest.parse().ok()?),
            "l" => Self::Language(exact_language(rest)?),
            "p" => {
                let (window, scope) = rest.split_once(':')?;
                Self::Performance {
                    window: exact_window(window)?,
                    mine: match scope {
                        "m" => true,
                        "a" => false,
                        _ => return None,
                    },
                }
            }
            _ => return None,
        })
    }
}

/// A short fingerprint of `prefs` (FNV-1a of their debug form): the same preferences give
/// the same stamp in every process and version of the same build, any change a different
/// one (with overwhelming likelihood).
pub fn stamp(prefs: &Preferences) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in format!("{prefs:?}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_callback() -> Vec<Callback> {
        let s = |action| Callback::Settings {
            stamp: 0xdead_beef,
            action,
        };
        let mut all = vec![
            Callback::Read(Uuid::now_v7()),
            Callback::StatusRefresh,
            Callback::Zone("America/Argentina/ComodRivadavia".parse().unwrap()),
            Callback::Zone("UTC-03:30".parse().unwrap()),
            Callback::Language(Language::Es),
            s(SettingsAction::View(SettingsView::Assets)),
            s(SettingsAction::Kind(SignalKind::Close, NotifyMode::Silent)),
            s(SettingsAction::Confidence(100)),
            s(SettingsAction::Hours(None)),
            s(SettingsAction::Hours(Some(
                NotificationHours::new(22, 6).unwrap(),
            ))),
            s(SettingsAction::Outside(OutsideHours::Skip)),
            s(SettingsAction::Zone(
                "America/Argentina/ComodRivadavia".parse().unwrap(),
            )),
            s(SettingsAction::Format(SignalFormat::Compact)),
            s(SettingsAction::Language(Language::En)),
            s(SettingsAction::Reports(ReportFrequency::Off)),
            s(SettingsAction::ReportsSilent(true)),
            s(SettingsAction::ReportHour(0)),
            s(SettingsAction::ReportHour(23)),
            s(SettingsAction::View(SettingsView::Reports)),
            s(SettingsAction::Asset(
                Asset::parse("ABCDEFGHIJKLMNOP/ABCDEFGHIJKLMNOP").unwrap(),
                true,
            )),
            s(SettingsAction::Asset(
                Asset::parse("ETH/USD").unwrap(),
                false,
            )),
            s(SettingsAction::AllAssets),
        ];
        for window in Window::ALL {
            for mine in [true, false] {
                all.push(Callback::Performance { window, mine });
            }
        }
        all
    }

    #[test]
    fn every_button_round_trips_within_telegrams_limit() {
        for callback in every_callback() {
            let data = callback.encode();
            assert!(data.len() <= MAX_CALLBACK_DATA, "{data}");
            assert_eq!(Callback::parse(&data), Some(callback), "{data}");
        }
    }

    #[test]
    fn malformed_data_is_refused() {
        for bad in [
            "",
            "x",
            "r:",
            "r:not-a-uuid",
            "r:0189c3a27b1e7d3f9a4c2f5e8d1b6a9",
            "s:zz:v:main",
            "s:0000000g:v:main",
            "s:00000000",
            "s:00000000:v:nowhere",
            "s:00000000:k:buy:loud",
            "s:00000000:c:101",
            "s:00000000:c:-1",
            "s:00000000:h:9-9",
            "s:00000000:rs:2",
            "s:00000000:rh:24",
            "s:00000000:rh:-1",
            "s:00000000:rh:008",
            "s:00000000:rh:",
            "s:00000000:rh:8h",
            "s:00000000:v:report",
            "s:00000000:a:BTC/USD",
            "s:00000000:a:+BTC/USD/EUR",
            "s:00000000:l:fr",
            "z:Mars/Olympus",
            "l:ES",
            "st:1",
            "p:",
            "p:7d",
            "p:7d:",
            "p:7d:x",
            "p:7d:m:1",
            "p:week:m",
            "p:7D:m",
            "p:1y:a",
            "p::a",
            &"s:00000000:z:".repeat(10),
        ] {
            assert_eq!(Callback::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn settings_actions_change_what_they_say() {
        let prefs = Preferences::default();
        let next = SettingsAction::Kind(SignalKind::Buy, NotifyMode::Off).apply(&prefs);
        assert_eq!(next.mode(SignalKind::Buy), NotifyMode::Off);
        let btc = Asset::parse("BTC/USD").unwrap();
        let next = SettingsAction::Asset(btc.clone(), true).apply(&next);
        assert!(next.assets.contains(&btc));
        let next = SettingsAction::AllAssets.apply(&next);
        assert!(next.assets.is_empty());
        assert_eq!(
            SettingsAction::View(SettingsView::Main).apply(&prefs),
            prefs
        );
        let next = SettingsAction::ReportHour(18).apply(&prefs);
        assert_eq!(next.report_hour, 18);
        assert_eq!(
            SettingsAction::View(SettingsView::Reports).apply(&prefs),
            prefs
        );
    }

    #[test]
    fn performance_buttons_read_as_written() {
        assert_eq!(
            Callback::Performance {
                window: Window::Month,
                mine: true
            }
            .encode(),
            "p:30d:m"
        );
        assert_eq!(
            Callback::parse("p:all:a"),
            Some(Callback::Performance {
                window: Window::All,
                mine: false
            })
        );
        assert_eq!(
            Callback::parse("s:00000000:rh:7"),
            Some(Callback::Settings {
                stamp: 0,
                action: SettingsAction::ReportHour(7)
            })
        );
    }

    #[test]
    fn stamps_follow_the_preferences() {
        let a = Preferences::default();
        let b = SettingsAction::Confidence(70).apply(&a);
        assert_eq!(stamp(&a), stamp(&a.clone()));
        assert_ne!(stamp(&a), stamp(&b));
    }
}
