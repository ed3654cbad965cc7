//! `/subscribe` and `/unsubscribe`.

use herald_store::SubscriptionChange;

/// The answer to /subscribe.
pub fn subscribed(change: SubscriptionChange) -> String {
    match change {
        SubscriptionChange::Activated => "✅ Subscribed! You will receive trading signals here as they are generated. Send /unsubscribe to stop.".into(),
        SubscriptionChange::AlreadyActive => "You are already subscribed. Send /unsubscribe to stop.".into(),
        _ => "You are already subscribed.".into(),
    }
}

/// The answer to /unsubscribe.
pub fn unsubscribed(change: SubscriptionChange) -> String {
    match change {
        SubscriptionChange::Deactivated => {
            "🔕 Unsubscribed. You will not receive signals any more. Send /subscribe to come back."
                .into()
        }
        SubscriptionChange::AlreadyInactive => {
            "You are not subscribed. Send /subscribe to receive signals.".into()
        }
        _ => "You are not subscribed.".into(),
    }
}
