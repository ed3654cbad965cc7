//! `/signals [count]`: the latest signals the trader's tier includes (default 5, at most 20),
//! compact, in their language, each with when it was generated on their clock.

use herald_domain::{SignalFormat, render_in};
use herald_store::{MAX_RECENT_SIGNALS, StoreError};

use super::{Ctx, Reply};
use crate::words::{t, tf, when};

/// How many `/signals` shows without a count.
pub const DEFAULT_COUNT: u64 = 5;

/// The answer to `/signals [count]`.
pub async fn run(ctx: &Ctx<'_>, args: &str) -> Result<Reply, StoreError> {
    let lang = ctx.lang();
    let Some(count) = parse_count(args) else {
        return Ok(Reply::text(t(lang, "signals-usage")));
    };
    let tier = ctx.store.user_tier(ctx.trader.user.id).await?;
    let signals = ctx.store.recent_signals(&tier, count, ctx.now).await?;
    if signals.is_empty() {
        return Ok(Reply::text(t(lang, "signals-none")));
    }
    let labels = herald_i18n::catalog().labels(lang);
    let mut parts = vec![tf(
        lang,
        "signals-title",
        &[("count", signals.len().into())],
    )];
    for signal in &signals {
        parts.push(tf(
            lang,
            "signals-item",
            &[
                (
                    "signal",
                    render_in(signal, SignalFormat::Compact, &labels).into(),
                ),
                (
                    "when",
                    when(signal.generated_at, ctx.trader.prefs.time_zone).into(),
                ),
            ],
        ));
    }
    Ok(Reply::text(parts.join("\n\n")))
}

/// The count asked for: none means [`DEFAULT_COUNT`]; otherwise 1 to 20.
fn parse_count(args: &str) -> Option<u64> {
    let mut words = args.split_whitespace();
    let count = match words.next() {
        None => DEFAULT_COUNT,
        Some(word) => word
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_RECENT_SIGNALS).contains(n))?,
    };
    words.next().is_none().then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count(""), Some(5));
        assert_eq!(parse_count(" 20 "), Some(20));
        assert_eq!(parse_count("1"), Some(1));
        for bad in ["0", "21", "-3", "ten", "5 6", "1.5"] {
            assert_eq!(parse_count(bad), None, "{bad}");
        }
    }
}
