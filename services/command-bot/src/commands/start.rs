//! `/start`: registers the trader (or says they already are, with where they stand), asks
//! for their time zone, and says what to do next. Nothing in it blocks: a trader who ignores
//! the question gets UTC, and `/subscribe` works at any point.
//!
//! The zone is answered by a button ([`Callback::Zone`], see [`zone_chosen`]) or by typing
//! it (any message that reads as a zone, see [`crate::handler`]).

use herald_domain::{Callback, Language, Preferences, TimeZone};
use herald_store::{Store, StoreError};
use teloxide::utils::html::escape;

use super::{Ctx, Reply, Trader, settings};
use crate::words::{clock, t, tf};

/// The answer to `/start`.
pub async fn run(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let lang = ctx.lang();
    let trader = &ctx.trader;
    let user = &trader.user;
    let name = user
        .first_name
        .as_deref()
        .or(user.username.as_deref())
        .map(escape)
        .unwrap_or_else(|| "trader".to_string());
    let subscribed = ctx.store.is_subscribed(user.id, ctx.now).await?;
    let mut parts = Vec::new();
    if trader.created {
        parts.push(tf(lang, "start-welcome-new", &[("name", name.into())]));
    } else {
        parts.push(tf(lang, "start-welcome-back", &[("name", name.into())]));
    }
    if trader.returned {
        parts.push(t(lang, "start-returned"));
    }
    parts.push(t(lang, "start-intro"));
    parts.push(t(lang, "start-disclaimer"));
    parts.push(tf(
        lang,
        "start-state",
        &[
            ("subscribed", if subscribed { "yes" } else { "no" }.into()),
            ("zone", trader.prefs.time_zone.to_string().into()),
            ("language", trader.prefs.language.native_name().into()),
        ],
    ));
    // Ask for the zone until the trader has chosen one other than the default.
    let ask_zone = trader.prefs.time_zone == TimeZone::UTC;
    if ask_zone {
        parts.push(t(lang, "start-zone-question"));
    }
    parts.push(t(lang, "start-next"));
    let text = parts.join("\n\n");
    Ok(if ask_zone {
        Reply::with_keyboard(text, settings::zone_keyboard(Callback::Zone, None))
    } else {
        Reply::text(text)
    })
}

/// Saves `zone` as the trader's time zone; the confirmation, in their language.
pub async fn zone_chosen(
    store: &Store,
    trader: &Trader,
    zone: TimeZone,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, StoreError> {
    let prefs = trader
        .change(store, now, |current| Preferences {
            time_zone: zone,
            ..current.clone()
        })
        .await?;
    Ok(zone_set(prefs.language, zone, now))
}

/// "Time zone set to …".
pub fn zone_set(lang: Language, zone: TimeZone, now: chrono::DateTime<chrono::Utc>) -> String {
    tf(
        lang,
        "zone-set",
        &[
            ("zone", zone.to_string().into()),
            ("time", clock(now, zone).into()),
        ],
    )
}
