//! Webhook delivery, as Telegram does it: while a webhook is set, every queued update is
//! POSTed to it as JSON (with `X-Telegram-Bot-Api-Secret-Token` when a secret was set) and
//! leaves the queue once the webhook answers 2xx; otherwise it is retried after
//! [`RETRY_DELAY`]. Deliveries run concurrently up to the webhook's `max_connections`, but one
//! chat's updates go one at a time, in order: the next waits until the previous was taken.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::state::{Delivery, Shared, unix_now};

/// How long a failed delivery waits before it is tried again.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(100);

/// How long the double waits for the webhook to answer a delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The header carrying the secret token of `setWebhook`.
const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

/// Delivers updates to the webhook until the double shuts down; deliveries in flight are
/// abandoned then.
pub(crate) async fn run(shared: Arc<Shared>) {
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .no_proxy()
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "the Telegram double cannot call webhooks");
            return;
        }
    };
    let mut running = JoinSet::new();
    loop {
        let arrived = shared.updates_arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        for delivery in shared.lock().take_deliveries() {
            running.spawn(deliver(shared.clone(), client.clone(), delivery));
        }
        tokio::select! {
            () = shared.shutdown.cancelled() => break,
            () = &mut arrived => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    running.shutdown().await;
}

/// POSTs one update; on failure records why and holds the update's chat for
/// [`RETRY_DELAY`] before the update may go again.
async fn deliver(shared: Arc<Shared>, client: reqwest::Client, delivery: Delivery) {
    let mut request = client.post(&delivery.url).json(&delivery.update);
    if let Some(secret) = &delivery.secret_token {
        request = request.header(SECRET_HEADER, secret);
    }
    let outcome = match request.send().await {
        Ok(response) if response.status().is_success() => {
            // Read the (ignored) answer, so the connection can serve the next delivery.
            let _ = response.bytes().await;
            Ok(())
        }
        Ok(response) => Err(format!(
            "Wrong response from the webhook: {}",
            response.status()
        )),
        Err(e) => Err(describe(&e)),
    };
    {
        let mut state = shared.lock();
        state.webhook_attempts += 1;
        match &outcome {
            Ok(()) => state.finish_delivery(&delivery, true),
            Err(error) => state.last_webhook_error = Some((unix_now(), error.clone())),
        }
    }
    shared.notify_changed();
    if outcome.is_err() {
        tokio::select! {
            () = tokio::time::sleep(RETRY_DELAY) => {}
            () = shared.shutdown.cancelled() => return,
        }
        shared.lock().finish_delivery(&delivery, false);
        shared.notify_changed();
    }
}

/// A failed request in the words of `getWebhookInfo`'s `last_error_message`.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "Read timeout expired".into();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut innermost = error.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return "Connection refused".into();
        }
        innermost = e.to_string();
        source = e.source();
    }
    innermost
}
