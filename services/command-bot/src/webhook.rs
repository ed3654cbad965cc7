//! Webhook mode (`HERALD_COMMAND_BOT_WEBHOOK_URL`): Telegram posts each update to the
//! command-bot instead of the bot polling for it, so several replicas can share the work
//! behind a load balancer.
//!
//! - Every request must carry the secret Telegram was given (`X-Telegram-Bot-Api-Secret-Token`,
//!   compared in constant time); one without it, or with another, is refused with 401,
//!   counted (`herald_command_bot_webhook_refused_total`) and written to the security log.
//! - Updates go to teloxide's dispatcher through a bounded queue: when the bot falls behind,
//!   the request waits for room, and Telegram (which waits for each answer, up to
//!   `max_connections` at once) slows down, rather than the queue growing without end.
//! - A replica that stops does not delete the webhook: the others go on receiving. To go
//!   back to polling, unset the URL; the bot deletes the webhook when it starts polling.

use std::convert::Infallible;
use std::pin::Pin;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use futures::Stream;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use teloxide::stop::{StopFlag, StopToken, mk_stop_token};
use teloxide::types::Update;
use teloxide::update_listeners::{StatefulListener, UpdateListener};
use tokio::sync::mpsc;

/// Updates waiting for the dispatcher before a webhook request waits for room.
const QUEUE: usize = 1024;

/// The largest update taken (Telegram's are a few kilobytes).
const MAX_UPDATE_BYTES: usize = 1 << 20;

/// Telegram's header carrying the secret.
const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The secret: the configured one, or one derived from the bot token (the same on every
/// replica, and telling nothing about the token).
pub fn secret(configured: Option<&SecretString>, token: &str) -> SecretString {
    match configured {
        Some(secret) => secret.clone(),
        None => {
            let digest = Sha256::digest(format!("herald-command-bot-webhook:{token}"));
            SecretString::from(hex::encode(digest))
        }
    }
}

/// The path of the webhook URL, where the route listens (`/` when the URL has none).
pub fn path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("/");
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

type Updates = Pin<Box<dyn Stream<Item = Result<Update, Infallible>> + Send>>;

fn first<A, B>(pair: &mut (A, B)) -> &mut A {
    &mut pair.0
}

/// The queued updates, until the dispatcher stops the listener; then the queue is closed (new
/// webhook requests get 503, and Telegram delivers them again, to this replica or another)
/// and what it already holds is still handed over, so that nothing Telegram was told we took
/// is dropped.
fn drain_on_stop(
    rx: mpsc::Receiver<Update>,
    stop: StopFlag,
) -> impl Stream<Item = Result<Update, Infallible>> + Send {
    futures::stream::unfold((rx, Some(stop)), |(mut rx, mut stop)| async move {
        loop {
            match stop.as_mut() {
                Some(flag) => {
                    tokio::select! {
                        update = rx.recv() => return update.map(|u| (Ok(u), (rx, stop))),
                        () = flag => {
                            rx.close();
                            stop = None;
                        }
                    }
                }
                None => return rx.recv().await.map(|u| (Ok(u), (rx, None))),
            }
        }
    })
}

#[derive(Clone)]
struct WebhookState {
    secret: SecretString,
    updates: mpsc::Sender<Update>,
}

/// The listener the dispatcher reads and the route that feeds it (to merge into the bot's
/// HTTP router at `path`).
pub fn listener(
    path: &str,
    secret: SecretString,
) -> (impl UpdateListener<Err = Infallible> + use<>, Router) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (stop_token, stop_flag) = mk_stop_token();
    let router = Router::new()
        .route(path, post(receive))
        .with_state(WebhookState {
            secret,
            updates: tx,
        });
    let updates: Updates = Box::pin(drain_on_stop(rx, stop_flag));
    let listener = StatefulListener::new(
        (updates, stop_token),
        first,
        |state: &mut (Updates, StopToken)| state.1.clone(),
    );
    (listener, router)
}

async fn receive(State(state): State<WebhookState>, request: Request) -> StatusCode {
    // The secret first: a request without it is refused before its body is read.
    let given = request
        .headers()
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, state.secret.expose_secret().as_bytes()) {
        metrics::counter!("herald_command_bot_webhook_refused_total").increment(1);
        tracing::warn!(
            target: "herald::security",
            event = "webhook_secret_refused",
            had_header = request.headers().contains_key(SECRET_HEADER),
            "a webhook request without the right secret token was refused"
        );
        return StatusCode::UNAUTHORIZED;
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_UPDATE_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook update could not be read");
            return StatusCode::PAYLOAD_TOO_LARGE;
        }
    };
    let update = match serde_json::from_slice::<Update>(&body) {
        Ok(update) => update,
        Err(e) => {
            // Telegram would send it again and again: take it, and say what it was.
            tracing::warn!(error = %e, "a webhook update could not be read; skipped");
            return StatusCode::OK;
        }
    };
    match state.updates.send(update).await {
        Ok(()) => StatusCode::OK,
        // The bot is stopping: Telegram will deliver it again (to this or another replica).
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Compares without stopping at the first difference, so that timing tells nothing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_the_url() {
        assert_eq!(
            path("https://bot.example.com/telegram/hook"),
            "/telegram/hook"
        );
        assert_eq!(path("https://bot.example.com"), "/");
        assert_eq!(path("https://bot.example.com/"), "/");
        assert_eq!(path("https://bot.example.com/hook?x=1"), "/hook");
    }

    #[test]
    fn the_derived_secret_is_stable_valid_and_not_the_token() {
        let a = secret(None, "123:abc");
        let b = secret(None, "123:abc");
        assert_eq!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), secret(None, "123:abd").expose_secret());
        assert!(!a.expose_secret().contains("abc"));
        assert!(a.expose_secret().bytes().all(|c| c.is_ascii_alphanumeric()));
        let given = SecretString::from("mine");
        assert_eq!(secret(Some(&given), "123:abc").expose_secret(), "mine");
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
