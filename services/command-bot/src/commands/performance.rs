//! `/performance [24h|7d|30d|all]`: how the signals did — those this trader received, or
//! every signal — over a period ending now (the last 7 days unless another is given). The
//! rows come from the store ([`Store::performance_rows`]), the figures from
//! [`herald_domain::figures`] and the text from [`herald_report::performance_text`].
//!
//! Buttons under the figures switch the period and the scope and refresh them; each press
//! redraws the same message ([`Callback::Performance`] carries what to show, nothing more:
//! a press changes nothing, so an old message is as good as a new one).

use chrono::{DateTime, Utc};
use herald_domain::{Callback, Language, Window, figures};
use herald_report::{Scope, performance_text};
use herald_store::{Store, StoreError};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::utils::html::escape;

use super::{Ctx, Reply, Trader};
use crate::words::{t, tf};

/// The period shown unless the trader names another.
pub const DEFAULT_WINDOW: Window = Window::Week;

/// The most characters of a bad argument quoted back.
const QUOTED_CHARS: usize = 40;

/// The answer to `/performance` with `args`: the trader's own signals over the period named
/// (or [`DEFAULT_WINDOW`]); for anything but one period, the choices.
pub async fn run(ctx: &Ctx<'_>, args: &str) -> Result<Reply, StoreError> {
    let Some(window) = window_of(args) else {
        let quoted: String = args.trim().chars().take(QUOTED_CHARS).collect();
        return Ok(Reply::text(tf(
            ctx.lang(),
            "perf-usage",
            &[("period", escape(&quoted).into())],
        )));
    };
    render(ctx.store, &ctx.trader, window, true, ctx.now).await
}

/// The period `args` names: nothing for [`DEFAULT_WINDOW`], else one of `24h`, `7d`, `30d`,
/// `all` (any case; also `day`, `week`, `month`). `None` for anything else.
pub fn window_of(args: &str) -> Option<Window> {
    let mut words = args.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => Some(DEFAULT_WINDOW),
        (Some(word), None) => word.parse().ok(),
        _ => None,
    }
}

/// The figures over `window` ending at `now`, of the signals `trader` received (`mine`) or
/// of every signal, with the buttons.
pub async fn render(
    store: &Store,
    trader: &Trader,
    window: Window,
    mine: bool,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let lang = trader.lang();
    let (user, scope) = if mine {
        (Some(trader.user.id), Scope::Mine)
    } else {
        (None, Scope::All)
    };
    let rows = store.performance_rows(user, window.since(now), now).await?;
    let text = performance_text(&figures(&rows), scope, window, lang, now);
    Ok(Reply::with_keyboard(text, keyboard(lang, window, mine)))
}

/// The periods, the scopes (the current ones marked `•`) and Refresh.
pub fn keyboard(lang: Language, window: Window, mine: bool) -> InlineKeyboardMarkup {
    let button = |label: String, window, mine| {
        InlineKeyboardButton::callback(label, Callback::Performance { window, mine }.encode())
    };
    let marked = |on: bool, label: String| if on { format!("• {label}") } else { label };
    let windows = Window::ALL
        .into_iter()
        .map(|w| {
            let label = t(lang, &format!("perf-button-{}", w.as_str()));
            button(marked(w == window, label), w, mine)
        })
        .collect();
    let scopes = [(true, "perf-button-mine"), (false, "perf-button-everyone")]
        .into_iter()
        .map(|(m, id)| button(marked(m == mine, t(lang, id)), window, m))
        .collect();
    let refresh = vec![button(t(lang, "button-refresh"), window, mine)];
    InlineKeyboardMarkup::new(vec![windows, scopes, refresh])
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::InlineKeyboardButtonKind;

    fn buttons(keyboard: &InlineKeyboardMarkup) -> Vec<(String, Callback)> {
        keyboard
            .inline_keyboard
            .iter()
            .flatten()
            .map(|b| match &b.kind {
                InlineKeyboardButtonKind::CallbackData(d) => {
                    (b.text.clone(), Callback::parse(d).expect(d))
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn periods_are_read_as_traders_write_them() {
        assert_eq!(window_of(""), Some(Window::Week));
        assert_eq!(window_of("  "), Some(Window::Week));
        assert_eq!(window_of("30d"), Some(Window::Month));
        assert_eq!(window_of("ALL"), Some(Window::All));
        assert_eq!(window_of(" 24h "), Some(Window::Day));
        assert_eq!(window_of("1y"), None);
        assert_eq!(window_of("7d mine"), None);
    }

    #[test]
    fn the_buttons_mark_what_is_shown_and_keep_the_rest() {
        let all = buttons(&keyboard(Language::En, Window::Month, true));
        let labels: Vec<&str> = all.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "24h",
                "7d",
                "• 30d",
                "All",
                "• 👤 Mine",
                "👥 All signals",
                "🔄 Refresh"
            ]
        );
        let pressed = |label: &str| all.iter().find(|(l, _)| l == label).unwrap().1.clone();
        assert_eq!(
            pressed("All"),
            Callback::Performance {
                window: Window::All,
                mine: true
            }
        );
        assert_eq!(
            pressed("👥 All signals"),
            Callback::Performance {
                window: Window::Month,
                mine: false
            }
        );
        assert_eq!(
            pressed("🔄 Refresh"),
            Callback::Performance {
                window: Window::Month,
                mine: true
            }
        );
        for lang in Language::ALL {
            assert_eq!(buttons(&keyboard(lang, Window::Day, false)).len(), 7);
        }
    }
}
