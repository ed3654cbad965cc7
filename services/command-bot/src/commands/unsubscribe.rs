//! `/unsubscribe`: stops the trader's signals; their settings are kept.

use herald_store::{StoreError, SubscriptionChange};

use super::{Ctx, Reply};
use crate::words::t;

/// Unsubscribes the trader.
pub async fn run(ctx: &Ctx<'_>) -> Result<Reply, StoreError> {
    let change = ctx.store.unsubscribe(ctx.trader.user.id, ctx.now).await?;
    Ok(Reply::text(t(
        ctx.lang(),
        if change == SubscriptionChange::Deactivated {
            "unsubscribe-done"
        } else {
            "unsubscribe-already"
        },
    )))
}
