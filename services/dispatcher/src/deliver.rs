//! One claimed delivery: one signal to one trader.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use herald_domain::{Callback, DeliveryStatus, HoursVerdict, Language};
use herald_store::{Claim, ClaimRef, UNKNOWN_TWICE};
use herald_telegram::teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use herald_telegram::{Priority, SendError, SendOptions};
use tokio::sync::OwnedSemaphorePermit;

use crate::context::DispatcherContext;

/// How a delivery attempt ended. It is recorded in the store before it is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Telegram took the message; recorded as sent.
    Sent {
        /// Telegram's message id.
        message_id: i32,
    },
    /// Nothing more to do: recorded as failed, blocked or expired.
    Done(DeliveryStatus),
    /// Back in the queue (`pending` or `unknown`), due again after this delay.
    Retry(Duration),
    /// The claim no longer held the delivery when its outcome was to be recorded (this
    /// replica stalled past its lease, and the delivery was taken back): nothing recorded;
    /// the delivery is someone else's now.
    Lost,
}

impl Outcome {
    /// The `outcome` label of `herald_dispatcher_deliveries_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Retry(_) => "retry",
            Outcome::Done(status) => status.as_str(),
            Outcome::Lost => "claim_lost",
        }
    }
}

/// How long a delivery whose bookkeeping (database) failed waits before it is tried again.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// `outcome` if the write recording it `applied`, else [`Outcome::Lost`].
fn recorded(applied: bool, outcome: Outcome) -> Outcome {
    if applied {
        outcome
    } else {
        tracing::warn!(
            would_have_been = outcome.label(),
            "the outcome was not recorded: the delivery is no longer this claim's (its lease ran out and it was taken back, or a late send of it was recorded meanwhile)"
        );
        Outcome::Lost
    }
}

/// Runs one claimed delivery to an outcome that is recorded in the store before it is
/// returned. The chat, format and text come from the delivery row and the stored signal —
/// never from anything on the bus.
#[tracing::instrument(skip_all, fields(delivery_id = %claim.delivery_id, chat_id = claim.chat_id))]
pub async fn deliver(ctx: &DispatcherContext, claim: &Claim) -> Outcome {
    deliver_in_slot(ctx, claim, None).await
}

/// [`deliver`], holding one of the replica's send slots (`slot`) only until Telegram has
/// answered: the outcome is then recorded without it, so sends go on while the database
/// catches up (the records are batched, and bounded by the batch writer).
pub async fn deliver_in_slot(
    ctx: &DispatcherContext,
    claim: &Claim,
    mut slot: Option<OwnedSemaphorePermit>,
) -> Outcome {
    let outcome = match try_deliver(ctx, claim, &mut slot).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "delivery bookkeeping failed; the claim will be taken back and retried"
            );
            // The claim stays `sending`; give it back so it is not stuck until its lease
            // runs out (if the database is down, the reconciler does it later).
            let due = ctx.after(STORE_RETRY);
            let _ = ctx
                .store
                .release_claims(&[ClaimRef::from(claim)], due, Utc::now())
                .await;
            Outcome::Retry(STORE_RETRY)
        }
    };
    metrics::counter!("herald_dispatcher_deliveries_total", "outcome" => outcome.label())
        .increment(1);
    outcome
}

async fn try_deliver(
    ctx: &DispatcherContext,
    claim: &Claim,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> anyhow::Result<Outcome> {
    let store = &ctx.store;
    // Every write below applies only while this claim still holds the delivery.
    let id = ClaimRef::from(claim);
    if claim.is_past_deadline(Utc::now()) {
        // Nothing is sent either way: whether this claim or a later one records it.
        store.record_expired_many(&[id], Utc::now()).await?;
        return Ok(Outcome::Done(DeliveryStatus::Expired));
    }
    if let Some(skipped) = skip_outside_hours(ctx, claim).await? {
        return Ok(skipped);
    }
    let Some(text) = ctx
        .messages
        .text(store, claim.signal_id, claim.format, claim.language)
        .await?
    else {
        let applied = store
            .record_final(
                id,
                DeliveryStatus::Failed,
                Some("signal not found"),
                Utc::now(),
            )
            .await?;
        return Ok(recorded(applied, Outcome::Done(DeliveryStatus::Failed)));
    };

    // Waiting for the budget can take long (a 429 pause, a busy chat): at shutdown, stop
    // waiting and give the claim back untouched rather than hold it through the drain.
    tokio::select! {
        () = ctx.sender.wait_for_slot(claim.chat_id, Priority::Bulk) => {}
        () = ctx.stopping.cancelled() => {
            store.release_claims(&[id], Utc::now(), Utc::now()).await?;
            return Ok(Outcome::Retry(Duration::ZERO));
        }
    }
    // The wait may have crossed the edge of the trader's hours: look again.
    let silent = match HoursVerdict::of(claim.hours, Utc::now()).silent(claim.silent) {
        Some(silent) => silent,
        None => match skip_outside_hours(ctx, claim).await? {
            Some(skipped) => return Ok(skipped),
            // Back inside in the meantime: a moment ago it was outside.
            None => true,
        },
    };
    let started = std::time::Instant::now();
    let result = ctx
        .sender
        .send_html_now_with(
            claim.chat_id,
            &text,
            Priority::Bulk,
            &send_options(claim, silent),
        )
        .await;
    metrics::histogram!("herald_dispatcher_send_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    drop(slot.take());
    let now = Utc::now();
    Ok(match result {
        Ok(message_id) => {
            record_sent(ctx, claim, message_id.0).await;
            Outcome::Sent {
                message_id: message_id.0,
            }
        }
        Err(SendError::RetryAfter(wait)) => {
            let why = format!("Telegram asked to slow down for {} s (429)", wait.as_secs());
            let applied = store
                .record_throttled(id, &why, ctx.after(wait), now)
                .await?;
            recorded(applied, Outcome::Retry(wait))
        }
        Err(SendError::Blocked { reason }) => {
            let applied = store
                .record_final(id, DeliveryStatus::Blocked, Some(&reason), now)
                .await?;
            store.deactivate_user(claim.user_id, now).await?;
            tracing::info!(user_id = %claim.user_id, %reason, "trader unreachable; marked inactive");
            recorded(applied, Outcome::Done(DeliveryStatus::Blocked))
        }
        Err(SendError::ChatNotFound) => {
            let applied = store
                .record_final(id, DeliveryStatus::Blocked, Some("chat not found"), now)
                .await?;
            store.deactivate_user(claim.user_id, now).await?;
            tracing::info!(user_id = %claim.user_id, "chat not found; trader marked inactive");
            recorded(applied, Outcome::Done(DeliveryStatus::Blocked))
        }
        Err(SendError::Unknown(reason)) => record_unknown(ctx, claim, &reason).await?,
        Err(SendError::Transient(reason)) if claim.attempt < ctx.policy.max_attempts => {
            let wait = ctx.policy.backoff(claim.attempt);
            let applied = store
                .record_retry(id, &reason, ctx.after(wait), now)
                .await?;
            recorded(applied, Outcome::Retry(wait))
        }
        Err(SendError::Transient(reason) | SendError::Permanent(reason)) => {
            let applied = store
                .record_final(id, DeliveryStatus::Failed, Some(&reason), now)
                .await?;
            tracing::warn!(attempt = claim.attempt, %reason, "delivery failed");
            recorded(applied, Outcome::Done(DeliveryStatus::Failed))
        }
    })
}

/// Records the delivery `skipped` if it would go out outside the trader's hours and they
/// skip such messages; `None` if it may go.
async fn skip_outside_hours(
    ctx: &DispatcherContext,
    claim: &Claim,
) -> anyhow::Result<Option<Outcome>> {
    let now = Utc::now();
    if HoursVerdict::of(claim.hours, now) != HoursVerdict::Skip {
        return Ok(None);
    }
    // A retry after a send whose outcome is unknown: the trader may have the message, so
    // it is not "skipped" but ends as such sends do.
    let (status, why) = if claim.unknown_sends >= 1 {
        (
            DeliveryStatus::Failed,
            "a send ended without an answer from Telegram (the trader may have the message); \
             its retry fell outside the trader's notification hours"
                .to_string(),
        )
    } else {
        (
            DeliveryStatus::Skipped,
            "outside the trader's notification hours".to_string(),
        )
    };
    let applied = ctx
        .store
        .record_final(claim, status, Some(&why), now)
        .await?;
    Ok(Some(recorded(applied, Outcome::Done(status))))
}

/// How a signal goes out: `silent` (the trader takes its kind silently, or it is outside
/// their hours), with a "Got it" button that records when they read it.
fn send_options(claim: &Claim, silent: bool) -> SendOptions {
    // Worded once per language, not on every send.
    static LABELS: OnceLock<Vec<(Language, String)>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| {
        Language::ALL
            .into_iter()
            .map(|l| (l, herald_i18n::catalog().get(l, "button-got-it")))
            .collect()
    });
    let label = labels
        .iter()
        .find(|(l, _)| *l == claim.language)
        .map(|(_, label)| label.clone())
        .unwrap_or_default();
    let data = Callback::Read(claim.delivery_id).encode();
    SendOptions {
        silent,
        keyboard: Some(InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(label, data),
        ]])),
    }
}

/// What to do with a send whose outcome is unknown (it timed out: Telegram may have
/// delivered it): one retry after [`crate::Policy::unknown_retry`], then give up.
async fn record_unknown(
    ctx: &DispatcherContext,
    claim: &Claim,
    reason: &str,
) -> anyhow::Result<Outcome> {
    let now = Utc::now();
    metrics::counter!("herald_dispatcher_unknown_sends_total").increment(1);
    if claim.unknown_sends >= 1 || claim.attempt >= ctx.policy.max_attempts {
        let applied = ctx
            .store
            .record_final(
                claim,
                DeliveryStatus::Failed,
                Some(&format!("{UNKNOWN_TWICE} (last: {reason})")),
                now,
            )
            .await?;
        return Ok(recorded(applied, Outcome::Done(DeliveryStatus::Failed)));
    }
    let wait = ctx.policy.unknown_retry;
    let applied = ctx
        .store
        .record_unknown(claim, reason, ctx.after(wait), now)
        .await?;
    Ok(recorded(applied, Outcome::Retry(wait)))
}

/// Records a message Telegram has accepted. This must not fail into a retry — a retried
/// delivery would send the message again — so a failing database is retried here, with
/// backoff, for as long as it takes (the lease is renewed meanwhile). Only a crash loses the
/// record, and then the reconciler marks the delivery `unknown`: the documented in-flight
/// case.
async fn record_sent(ctx: &DispatcherContext, claim: &Claim, message_id: i32) {
    let mut wait = Duration::from_millis(100);
    loop {
        match ctx
            .sent
            .call((claim.delivery_id, i64::from(message_id)))
            .await
        {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = wait.as_millis() as u64,
                    "could not record a sent message; retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
