//! Receiving updates: `getUpdates` long polling with Telegram's confirmation and conflict
//! rules, and the webhook methods (the deliveries themselves are `webhook`'s).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::api::{Params, Reply};
use super::state::{Poller, Shared, Webhook};

/// Telegram's cap on the long-poll `timeout`, in seconds.
const MAX_TIMEOUT_SECS: i64 = 50;

const CONFLICT_OTHER_GET_UPDATES: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
const CONFLICT_SET_WEBHOOK: &str = "Conflict: terminated by setWebhook request";
const CONFLICT_WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";

/// Clears the waiting-poller slot when a long poll ends (also when its client goes away).
struct PollerGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PollerGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        if state.poller.as_ref().is_some_and(|p| p.id == self.id) {
            state.poller = None;
            drop(state);
            self.shared.notify_changed();
        }
    }
}

/// `getUpdates`: confirms updates below `offset`, answers at once if updates are waiting (or
/// `timeout` is 0), else waits until one arrives or `timeout` seconds pass.
///
/// Like the real Bot API server, a new long poll terminates the one already waiting: the
/// *older* request gets the 409 Conflict, the newer one takes over.
pub(crate) async fn get_updates(shared: &Shared, params: &Params) -> Reply {
    let offset = params.int_clamped("offset", 0, i64::MIN, i64::MAX);
    let limit = usize::try_from(params.int_clamped("limit", 100, 1, 100)).unwrap_or(100);
    let timeout = params.int_clamped("timeout", 0, 0, MAX_TIMEOUT_SECS);
    let (id, mut terminated) = {
        let mut state = shared.lock();
        if state.webhook.is_some() {
            return Reply::error(409, CONFLICT_WEBHOOK_ACTIVE);
        }
        let confirmed = state.confirm(offset);
        let ready = state.peek_updates(limit);
        if !ready.is_empty() || timeout == 0 {
            drop(state);
            if confirmed {
                shared.notify_changed();
            }
            return Reply::ok(Value::Array(ready));
        }
        state.terminate_poller(CONFLICT_OTHER_GET_UPDATES);
        state.next_poller_id += 1;
        let id = state.next_poller_id;
        let (terminate, terminated) = oneshot::channel();
        state.poller = Some(Poller { id, terminate });
        drop(state);
        shared.notify_changed();
        (id, terminated)
    };
    let _guard = PollerGuard { shared, id };
    let deadline = tokio::time::sleep(Duration::from_secs(timeout.unsigned_abs()));
    tokio::pin!(deadline);
    loop {
        let arrived = shared.updates_arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        {
            let state = shared.lock();
            if !state.updates.is_empty() {
                return Reply::ok(Value::Array(state.peek_updates(limit)));
            }
        }
        tokio::select! {
            description = &mut terminated => {
                return match description {
                    Ok(description) => Reply::error(409, description),
                    Err(_) => Reply::ok(json!([])),
                };
            }
            () = &mut deadline => return Reply::ok(json!([])),
            () = shared.shutdown.cancelled() => return Reply::ok(json!([])),
            () = &mut arrived => {}
        }
    }
}

/// `setWebhook`: sets the webhook the double then delivers updates to (any `http`/`https`
/// URL: the double needs no certificate or port of Telegram's) and ends a waiting long poll,
/// as Telegram does; an empty URL removes the webhook. `secret_token` (1–256 of `A-Z a-z
/// 0-9 _ -`) and `max_connections` (1–100, default 40) as on Telegram.
pub(crate) fn set_webhook(shared: &Shared, params: &Params) -> Reply {
    let url = params.string("url").unwrap_or_default();
    let secret_token = params.string("secret_token").filter(|s| !s.is_empty());
    if let Some(secret) = &secret_token
        && (secret.len() > 256
            || !secret
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'))
    {
        return Reply::bad_request("secret token contains unallowed characters");
    }
    if !url.is_empty() {
        let valid = reqwest::Url::parse(&url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !valid {
            return Reply::bad_request("bad webhook: An HTTPS URL must be provided for webhook");
        }
    }
    let max_connections =
        usize::try_from(params.int_clamped("max_connections", 40, 1, 100)).unwrap_or(40);
    {
        let mut state = shared.lock();
        if params.flag("drop_pending_updates") {
            state.updates.clear();
        }
        state.last_webhook_error = None;
        if url.is_empty() {
            state.webhook = None;
        } else {
            state.terminate_poller(CONFLICT_SET_WEBHOOK);
            state.webhook = Some(Webhook {
                url,
                secret_token,
                max_connections,
            });
        }
    }
    shared.updates_arrived.notify_waiters();
    shared.notify_changed();
    Reply::ok(json!(true))
}

/// `deleteWebhook`: stops the deliveries (those in flight finish); the queued updates wait
/// for `getUpdates`.
pub(crate) fn delete_webhook(shared: &Shared, params: &Params) -> Reply {
    {
        let mut state = shared.lock();
        if params.flag("drop_pending_updates") {
            state.updates.clear();
        }
        state.webhook = None;
        state.last_webhook_error = None;
    }
    shared.notify_changed();
    Reply::ok(json!(true))
}

/// `getWebhookInfo`: the URL, the updates waiting and the last delivery error.
pub(crate) fn get_webhook_info(shared: &Shared) -> Reply {
    let state = shared.lock();
    let mut info = json!({
        "url": state.webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if let Some(webhook) = &state.webhook {
        info["max_connections"] = json!(webhook.max_connections);
    }
    if let Some((date, message)) = &state.last_webhook_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(message);
    }
    Reply::ok(info)
}
