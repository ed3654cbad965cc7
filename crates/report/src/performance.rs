//! The `/performance` reply.
//!
//! ```text
//! 📊 Performance · your signals · last 7 days
//!
//! 📨 8 signals: Buy 4 · Sell 2 · Close 1 · Alert 1
//! 📂 6 positions (buys and sells): 5 closed · 1 open
//!
//! ✅ 2 won · ❌ 1 lost · ⏹ 1 flat
//! 🎯 Win rate: 50.0% (2 of 4)
//! 📈 Average return: +0.50% · median +0.50%
//! ➕ Sum of returns: +2.00%
//! 🏆 Best: BTC/USD +3.00%
//! 📉 Worst: ETH/USD -2.00%
//!
//! By asset
//! • BTC/USD: 4 signals
//! …
//!
//! By model
//! • m1: 3 signals, 2 closed · win rate 50.0% · average +0.50%
//! …
//!
//! As of 2026-11-30 12:00 UTC. Returns run from entry to exit, before fees; …
//! ```
//!
//! Without a closed position with a return, the returns block gives way to one line saying
//! so; without any signal, everything but the title and footer does. Lists show at most
//! [`TOP`] entries and count the rest, so the text stays far below Telegram's 4,096
//! characters however many assets and models there are.

use chrono::{DateTime, Utc};
use herald_domain::performance::UNNAMED_MODEL;
use herald_domain::{Figures, Language, SignalKind, Window};

use crate::text::{name, rate, signed_pct, t, tf, utc};

/// The most assets, or models, a list shows.
pub(crate) const TOP: usize = 5;

/// Longest asset name shown, in characters (a valid asset has at most 33).
pub(crate) const ASSET_CHARS: usize = 40;

/// Longest model name shown, in characters.
const MODEL_CHARS: usize = 40;

/// Whose signals the figures are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The signals this trader received.
    Mine,
    /// Every signal Herald accepted.
    All,
}

impl Scope {
    fn id(self) -> &'static str {
        match self {
            Self::Mine => "perf-scope-mine",
            Self::All => "perf-scope-all",
        }
    }
}

/// The `/performance` reply for `figures` — the signals of `scope` generated in `window` —
/// in `language`, as of `now`. Telegram HTML.
pub fn performance_text(
    figures: &Figures,
    scope: Scope,
    window: Window,
    language: Language,
    now: DateTime<Utc>,
) -> String {
    let lang = language;
    let mut blocks = vec![tf(
        lang,
        "perf-title",
        &[
            ("scope", t(lang, scope.id()).into()),
            ("window", window_name(lang, window).into()),
        ],
    )];
    if figures.signals == 0 {
        blocks.push(t(lang, "perf-no-signals"));
    } else {
        blocks.push(counts(figures, lang));
        blocks.push(returns(figures, lang));
        blocks.push(assets(figures, lang));
        blocks.push(models(figures, lang));
    }
    blocks.push(tf(lang, "perf-footer", &[("time", utc(now).into())]));
    blocks.join("\n\n")
}

/// `last 7 days`, `all time`, …
pub(crate) fn window_name(lang: Language, window: Window) -> String {
    t(lang, &format!("perf-window-{}", window.as_str()))
}

fn counts(f: &Figures, lang: Language) -> String {
    let kinds: Vec<String> = f
        .by_kind
        .iter()
        .map(|(kind, n)| format!("{} {n}", kind_name(lang, *kind)))
        .collect();
    [
        tf(
            lang,
            "perf-signals",
            &[
                ("count", f.signals.into()),
                ("kinds", kinds.join(" · ").into()),
            ],
        ),
        tf(
            lang,
            "perf-positions",
            &[
                ("count", f.positions.into()),
                ("closed", f.closed.into()),
                ("open", f.open.into()),
            ],
        ),
    ]
    .join("\n")
}

fn kind_name(lang: Language, kind: SignalKind) -> String {
    t(lang, &format!("kind-{}", kind.as_str()))
}

/// The returns block, or the line saying there are no returns yet.
fn returns(f: &Figures, lang: Language) -> String {
    if !f.has_enough_data() {
        return t(
            lang,
            if f.closed == 0 {
                "perf-not-enough"
            } else {
                "perf-no-returns"
            },
        );
    }
    let mut lines = vec![outcomes(f, lang)];
    lines.extend(win_rate(f, lang));
    if let (Some(average), Some(median)) = (f.average_return, f.median_return) {
        lines.push(tf(
            lang,
            "perf-returns",
            &[
                ("average", signed_pct(average).into()),
                ("median", signed_pct(median).into()),
            ],
        ));
    }
    if let Some(total) = f.total_return {
        lines.push(tf(
            lang,
            "perf-total",
            &[("total", signed_pct(total).into())],
        ));
    }
    lines.extend(best_and_worst(f, lang));
    lines.join("\n")
}

/// `✅ 2 won · ❌ 1 lost · ⏹ 1 flat`.
pub(crate) fn outcomes(f: &Figures, lang: Language) -> String {
    tf(
        lang,
        "perf-outcomes",
        &[
            ("wins", f.wins.into()),
            ("losses", f.losses.into()),
            ("flat", f.flat.into()),
        ],
    )
}

/// `🎯 Win rate: 50.0% (2 of 4)`.
pub(crate) fn win_rate(f: &Figures, lang: Language) -> Option<String> {
    Some(tf(
        lang,
        "perf-win-rate",
        &[
            ("rate", rate(f.win_rate?).into()),
            ("wins", f.wins.into()),
            ("count", f.measured().into()),
        ],
    ))
}

/// The best position, and the worst when there is more than one.
pub(crate) fn best_and_worst(f: &Figures, lang: Language) -> Vec<String> {
    let line = |id: &str, best: &herald_domain::AssetReturn| {
        tf(
            lang,
            id,
            &[
                ("asset", name(&best.asset, ASSET_CHARS).into()),
                ("return", signed_pct(best.return_pct).into()),
            ],
        )
    };
    let mut lines = Vec::new();
    lines.extend(f.best.as_ref().map(|b| line("perf-best", b)));
    if f.measured() > 1 {
        lines.extend(f.worst.as_ref().map(|w| line("perf-worst", w)));
    }
    lines
}

fn assets(f: &Figures, lang: Language) -> String {
    let mut lines = vec![t(lang, "perf-by-asset")];
    for asset in f.by_asset.iter().take(TOP) {
        lines.push(tf(
            lang,
            "perf-asset",
            &[
                ("asset", name(&asset.asset, ASSET_CHARS).into()),
                ("count", asset.signals.into()),
            ],
        ));
    }
    lines.extend(more(lang, "perf-more-assets", f.by_asset.len()));
    lines.join("\n")
}

fn models(f: &Figures, lang: Language) -> String {
    let mut lines = vec![t(lang, "perf-by-model")];
    for model in f.models.iter().take(TOP) {
        let shown = if model.model == UNNAMED_MODEL {
            t(lang, "perf-model-unnamed")
        } else {
            name(&model.model, MODEL_CHARS)
        };
        let mut args = vec![
            ("model", shown.into()),
            ("count", model.signals.into()),
            ("closed", model.closed.into()),
        ];
        let line = match (model.win_rate, model.average_return) {
            (Some(win_rate), Some(average)) => {
                args.push(("rate", rate(win_rate).into()));
                args.push(("average", signed_pct(average).into()));
                tf(lang, "perf-model", &args)
            }
            _ => tf(lang, "perf-model-open", &args),
        };
        lines.push(line);
    }
    lines.extend(more(lang, "perf-more-models", f.models.len()));
    lines.join("\n")
}

/// `… and 3 more assets` when a list of `total` was cut to [`TOP`].
fn more(lang: Language, id: &str, total: usize) -> Option<String> {
    let rest = total.checked_sub(TOP).filter(|n| *n > 0)?;
    Some(tf(lang, id, &[("count", rest.into())]))
}
