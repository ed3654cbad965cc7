//! The line a signal's message gets when its position ends.

use chrono::TimeDelta;
use herald_domain::render::money;
use herald_domain::{CloseReason, Language, Price, SignalKind};
use rust_decimal::Decimal;

use crate::text::{duration, signed_pct, t, tf};

/// The status line for the end of a `kind` position (a buy is a long, a sell a short), to
/// append to its signal's message:
///
/// ```text
/// ✅ Long closed at $43,260.5 · +3.00% · target hit · open 2 h 15 min
/// ```
///
/// ✅ for a gain, ❌ for a loss, ⏹ for a flat or unknown return. The exit price is shown as
/// the signal messages show prices; each part that is unknown (`None`, or a price that is
/// not positive) is left out. `open_for` is how long the position was open. Telegram HTML.
pub fn outcome_line(
    kind: SignalKind,
    exit: Option<Decimal>,
    return_pct: Option<Decimal>,
    reason: Option<CloseReason>,
    open_for: TimeDelta,
    language: Language,
) -> String {
    let lang = language;
    let icon = match return_pct {
        Some(r) if r > Decimal::ZERO => "✅",
        Some(r) if r < Decimal::ZERO => "❌",
        _ => "⏹",
    };
    let side = kind.as_str();
    let closed = match exit.and_then(|p| Price::new(p).ok()) {
        Some(price) => tf(
            lang,
            "outcome-closed-at",
            &[("side", side.into()), ("price", money(price).into())],
        ),
        None => tf(lang, "outcome-closed", &[("side", side.into())]),
    };
    let mut parts = vec![format!("{icon} {closed}")];
    parts.extend(return_pct.map(signed_pct));
    parts.extend(reason.map(|r| t(lang, &format!("outcome-reason-{}", r.as_str()))));
    parts.push(tf(
        lang,
        "outcome-open-for",
        &[("duration", duration(open_for).into())],
    ));
    parts.join(" · ")
}
