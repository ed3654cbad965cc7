//! One delivery job: one signal to one trader.

use std::time::Duration;

use chrono::Utc;
use herald_domain::{DeliveryJobV1, DeliveryStatus, SignalId};
use herald_store::AttemptStart;
use herald_telegram::{Priority, SendError};

use crate::context::DispatcherContext;

/// How a delivery job ended, for the consumer loop to ack or retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Telegram took the message; recorded as sent.
    Sent {
        /// Telegram's message id.
        message_id: i32,
    },
    /// Nothing more to do: recorded as failed, blocked or expired, or finished earlier
    /// (a duplicate job).
    Done(DeliveryStatus),
    /// Recorded as pending again; run the job again after this delay.
    Retry(Duration),
}

/// How long to wait before retrying a job whose bookkeeping (database) failed.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// Runs one delivery job to an outcome that is recorded in the store before it is returned:
/// the caller may ack as soon as it has it.
#[tracing::instrument(skip_all, fields(delivery_id = %job.delivery_id, chat_id = job.chat_id))]
pub async fn deliver(ctx: &DispatcherContext, job: &DeliveryJobV1) -> Outcome {
    match try_deliver(ctx, job).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "delivery bookkeeping failed; will retry"
            );
            Outcome::Retry(STORE_RETRY)
        }
    }
}

async fn try_deliver(ctx: &DispatcherContext, job: &DeliveryJobV1) -> anyhow::Result<Outcome> {
    let store = &ctx.store;
    let now = Utc::now();
    let (attempt, created_at) = match ctx.attempts.call(job.delivery_id).await? {
        AttemptStart::Proceed {
            attempt,
            created_at,
        } => (attempt, created_at),
        AttemptStart::AlreadyFinal(status) => return Ok(Outcome::Done(status)),
        // Another copy of this job is sending it right now; look again after its lease.
        AttemptStart::InProgress => return Ok(Outcome::Retry(ctx.policy.ack_wait)),
        AttemptStart::Missing => {
            tracing::warn!("delivery job for an unknown delivery; dropping it");
            return Ok(Outcome::Done(DeliveryStatus::Failed));
        }
    };

    let age = (now - created_at).to_std().unwrap_or_default();
    if age > ctx.policy.max_age {
        store
            .record_final(
                job.delivery_id,
                DeliveryStatus::Expired,
                Some(&format!(
                    "not sent within {} s",
                    ctx.policy.max_age.as_secs()
                )),
                now,
            )
            .await?;
        return Ok(Outcome::Done(DeliveryStatus::Expired));
    }

    let Some(text) = ctx
        .messages
        .text(store, SignalId(job.signal_id), job.format)
        .await?
    else {
        store
            .record_final(
                job.delivery_id,
                DeliveryStatus::Failed,
                Some("signal not found"),
                now,
            )
            .await?;
        return Ok(Outcome::Done(DeliveryStatus::Failed));
    };

    let started = std::time::Instant::now();
    let result = ctx
        .sender
        .send_html(job.chat_id, &text, Priority::Bulk)
        .await;
    metrics::histogram!("herald_dispatcher_send_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    let now = Utc::now();
    let outcome = match result {
        Ok(message_id) => {
            record_sent(ctx, job, message_id.0).await;
            Outcome::Sent {
                message_id: message_id.0,
            }
        }
        Err(SendError::RetryAfter(wait)) => {
            let why = format!("Telegram asked to slow down for {} s (429)", wait.as_secs());
            store.record_throttled(job.delivery_id, &why, now).await?;
            Outcome::Retry(wait)
        }
        Err(SendError::Blocked { reason }) => {
            store
                .record_final(job.delivery_id, DeliveryStatus::Blocked, Some(&reason), now)
                .await?;
            store.deactivate_user(job.user_id).await?;
            tracing::info!(user_id = %job.user_id, %reason, "trader unreachable; marked inactive");
            Outcome::Done(DeliveryStatus::Blocked)
        }
        Err(SendError::ChatNotFound) => {
            store
                .record_final(
                    job.delivery_id,
                    DeliveryStatus::Blocked,
                    Some("chat not found"),
                    now,
                )
                .await?;
            store.deactivate_user(job.user_id).await?;
            tracing::info!(user_id = %job.user_id, "chat not found; trader marked inactive");
            Outcome::Done(DeliveryStatus::Blocked)
        }
        // `Unknown` (the message may have arrived) is retried like `Transient` until the
        // dispatcher records it as its own status.
        Err(SendError::Transient(reason) | SendError::Unknown(reason))
            if attempt < ctx.policy.max_attempts =>
        {
            store.record_retry(job.delivery_id, &reason, now).await?;
            Outcome::Retry(ctx.policy.backoff(attempt))
        }
        Err(
            SendError::Transient(reason)
            | SendError::Unknown(reason)
            | SendError::Permanent(reason),
        ) => {
            store
                .record_final(job.delivery_id, DeliveryStatus::Failed, Some(&reason), now)
                .await?;
            tracing::warn!(attempt, %reason, "delivery failed");
            Outcome::Done(DeliveryStatus::Failed)
        }
    };
    let label = match &outcome {
        Outcome::Sent { .. } => "sent",
        Outcome::Retry(_) => "retry",
        Outcome::Done(status) => status.as_str(),
    };
    metrics::counter!("herald_dispatcher_deliveries_total", "outcome" => label).increment(1);
    Ok(outcome)
}

/// Records a message Telegram has accepted. This must not fail into a retry — a retried job
/// would send the message again — so a failing database is retried here, with backoff, for as
/// long as it takes (the consumer loop keeps the job alive meanwhile). Only a crash loses the
/// record, and then the trader may get the message twice: the documented in-flight case.
async fn record_sent(ctx: &DispatcherContext, job: &DeliveryJobV1, message_id: i32) {
    let mut wait = Duration::from_millis(100);
    loop {
        match ctx
            .sent
            .call((job.delivery_id, i64::from(message_id)))
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
