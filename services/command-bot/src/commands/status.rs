//! `/status`: whether Herald's services are running (from the heartbeats each one writes),
//! when the last signal came, how many messages wait to go out, and the trader's own
//! subscription, tier and filters. A Refresh button redraws it in place.

use chrono::{DateTime, Utc};
use herald_domain::{Callback, Tier};
use herald_store::heartbeats::{self, COMMAND_BOT, DISPATCHER, INGEST_API};
use herald_store::{Store, StoreError};
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::{Ctx, Reply, Trader};
use crate::words::{self, t, tf, when};

/// The answer to `/status`.
pub async fn run(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    render(ctx.store, &ctx.trader, ctx.now).await
}

/// The status as it stands at `now`, for `trader`.
pub async fn render(
    store: &Store,
    trader: &Trader,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let lang = trader.lang();
    let zone = trader.prefs.time_zone;
    let beats = store.heartbeats().await?;
    let mut lines = vec![t(lang, "status-title")];
    for service in [INGEST_API, DISPATCHER, COMMAND_BOT] {
        let name = t(lang, &format!("service-{service}"));
        let id = if heartbeats::alive(&beats, service, now) {
            "status-service-up"
        } else {
            "status-service-down"
        };
        lines.push(tf(lang, id, &[("service", name.into())]));
    }
    lines.push(match store.last_signal_at().await? {
        Some(at) => tf(
            lang,
            "status-last-signal",
            &[("when", when(at, zone).into())],
        ),
        None => t(lang, "status-no-signal"),
    });
    lines.push(tf(
        lang,
        "status-waiting",
        &[("count", store.waiting_deliveries().await?.into())],
    ));
    lines.push(String::new());
    lines.push(t(lang, "status-you"));
    let subscription = store.subscription(trader.user.id, now).await?;
    lines.push(match &subscription {
        Some(s) if s.current => match s.expires_at {
            Some(until) => tf(
                lang,
                "status-subscribed-until",
                &[("until", when(until, zone).into())],
            ),
            None => t(lang, "status-subscribed"),
        },
        _ => t(lang, "status-not-subscribed"),
    });
    let tier: Tier = store.user_tier(trader.user.id).await?;
    lines.push(tf(lang, "status-tier", &[("tier", tier.name.into())]));
    let prefs = &trader.prefs;
    lines.push(tf(
        lang,
        "status-filters",
        &[
            ("types", words::wanted_kinds(lang, prefs).into()),
            ("confidence", prefs.min_confidence.into()),
            ("assets", words::assets(lang, prefs).into()),
            ("hours", words::hours(lang, prefs).into()),
        ],
    ));
    lines.push(String::new());
    lines.push(tf(
        lang,
        "status-checked",
        &[("time", when(now, zone).into())],
    ));
    Ok(Reply::with_keyboard(
        lines.join("\n"),
        InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
            t(lang, "button-refresh"),
            Callback::StatusRefresh.encode(),
        )]]),
    ))
}
