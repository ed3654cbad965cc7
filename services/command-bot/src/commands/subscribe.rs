//! `/subscribe`: starts the trader's signals on their tier (with the tier's expiry).

use herald_store::{StoreError, SubscriptionChange};

use super::{Ctx, Reply};
use crate::words::{t, tf, when};

/// Subscribes the trader.
pub async fn run(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let lang = ctx.lang();
    let user = &ctx.trader.user;
    let change = ctx.store.subscribe(user.id, ctx.now).await?;
    if change != SubscriptionChange::Activated {
        return Ok(Reply::text(t(lang, "subscribe-already")));
    }
    let until = ctx
        .store
        .subscription(user.id, ctx.now)
        .await?
        .and_then(|s| s.expires_at);
    Ok(Reply::text(match until {
        Some(until) => tf(
            lang,
            "subscribe-done-until",
            &[("until", when(until, ctx.trader.prefs.time_zone).into())],
        ),
        None => t(lang, "subscribe-done"),
    }))
}
