//! `/start`: registers the trader (or refreshes their details) and welcomes them.

use herald_store::Registration;
use teloxide::utils::html::escape;

/// The welcome for a trader who just said /start.
pub fn welcome(registration: &Registration, subscribed: bool) -> String {
    let name = registration
        .user
        .first_name
        .as_deref()
        .or(registration.user.username.as_deref())
        .map(escape)
        .unwrap_or_else(|| "trader".to_string());
    let greeting = if registration.created {
        format!("👋 Welcome to Herald, {name}! You are registered.")
    } else {
        format!("👋 Welcome back, {name}!")
    };
    let next = if subscribed {
        "✅ You are subscribed: signals arrive here as they are generated. /unsubscribe stops them."
    } else {
        "Send /subscribe to start receiving trading signals."
    };
    format!(
        "{greeting}\n\nHerald delivers intraday trading signals — buy, sell, close and market alerts — \
         with entry, target and stop prices and the model's confidence.\n\n{next}\n/help lists every command."
    )
}
