//! The caption of a performance report's photo (the chart of [`crate::cumulative_return_png`]).
//!
//! ```text
//! 📊 Performance report · last 7 days
//! 4 positions closed: ✅ 2 · ❌ 1 · ⏹ 1
//! 🎯 Win rate: 50.0% (2 of 4)
//! 📈 Sum of returns: +2.00% · average +0.50%
//! 🏆 Best: BTC/USD +3.00%
//! 📉 Worst: ETH/USD -2.00%
//! Chart: the running sum of returns, position by position.
//! ```

use herald_domain::{Figures, Language, Window};

use crate::performance::{best_and_worst, win_rate, window_name};
use crate::text::{signed_pct, t, tf};

/// Telegram's limit on a photo caption, in characters after entity parsing.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// The caption for a report on `figures` over `period`, in `language`: the period, the
/// closed positions, win rate, sum and average of returns, best and worst — or, without a
/// closed position with a return, a line saying so. Telegram HTML, a few hundred characters
/// at most (far below [`MAX_CAPTION_CHARS`]).
pub fn report_caption(figures: &Figures, period: Window, language: Language) -> String {
    let lang = language;
    let mut lines = vec![tf(
        lang,
        "report-title",
        &[("window", window_name(lang, period).into())],
    )];
    if !figures.has_enough_data() {
        lines.push(tf(
            lang,
            "report-not-enough",
            &[("count", figures.signals.into())],
        ));
        return lines.join("\n");
    }
    lines.push(tf(
        lang,
        "report-closed",
        &[
            ("count", figures.closed.into()),
            ("wins", figures.wins.into()),
            ("losses", figures.losses.into()),
            ("flat", figures.flat.into()),
        ],
    ));
    lines.extend(win_rate(figures, lang));
    if let (Some(total), Some(average)) = (figures.total_return, figures.average_return) {
        lines.push(tf(
            lang,
            "report-returns",
            &[
                ("total", signed_pct(total).into()),
                ("average", signed_pct(average).into()),
            ],
        ));
    }
    lines.extend(best_and_worst(figures, lang));
    lines.push(t(lang, "report-chart"));
    lines.join("\n")
}
