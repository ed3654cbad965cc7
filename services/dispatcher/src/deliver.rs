//! One claimed job of the delivery queue: a signal to a trader or a destination, the edit of
//! a copy of a position's signal when it ends, or a performance report.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use std::sync::Arc;

use herald_domain::{Callback, DeliveryStatus, HoursVerdict, JobKind, Language};
use herald_runtime::telemetry::ErrorKind;
use herald_store::{Claim, ClaimRef, UNKNOWN_TWICE};
use herald_telegram::teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use herald_telegram::{Priority, SendError, SendOptions};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument as _;

use crate::context::DispatcherContext;
use crate::messages::Text;

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
pub async fn deliver(ctx: &DispatcherContext, claim: &Claim) -> Outcome {
    deliver_in_slot(ctx, claim, None).await
}

/// [`deliver`], holding one of the replica's send slots (`slot`) only until Telegram has
/// answered: the outcome is then recorded without it, so sends go on while the database
/// catches up (the records are batched, and bounded by the batch writer).
pub async fn deliver_in_slot(
    ctx: &DispatcherContext,
    claim: &Claim,
    slot: Option<OwnedSemaphorePermit>,
) -> Outcome {
    let span = crate::traces::delivery_span(ctx, claim).await;
    let outcome = deliver_traced(ctx, claim, slot)
        .instrument(span.clone())
        .await;
    span.record("herald.delivery.outcome", outcome.label());
    outcome
}

async fn deliver_traced(
    ctx: &DispatcherContext,
    claim: &Claim,
    mut slot: Option<OwnedSemaphorePermit>,
) -> Outcome {
    let outcome = match try_deliver(ctx, claim, &mut slot).await {
        Ok(outcome) => outcome,
        Err(e) => {
            crate::meters::count(crate::meters::error_kind(&e));
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
    let message = match claim.job {
        JobKind::Signal => signal_message(ctx, claim).await?,
        JobKind::Outcome => outcome_edit(ctx, claim).await?,
        JobKind::Report => crate::reports::report_message(ctx, claim, Utc::now()).await?,
    };
    let message = match message {
        Ok(message) => message,
        Err((status, why)) => {
            let applied = store
                .record_final(id, status, Some(&why), Utc::now())
                .await?;
            return Ok(recorded(applied, Outcome::Done(status)));
        }
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
    let result = send(ctx, claim, message, silent).await;
    metrics::histogram!("herald_dispatcher_send_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    drop(slot.take());
    let now = Utc::now();
    if let Err(e) = &result
        && e.is_failure()
    {
        crate::meters::count(ErrorKind::Telegram);
    }
    Ok(match result {
        Ok(message_id) => {
            // A signal's message: how long after its acceptance it reached the trader.
            if claim.job == JobKind::Signal
                && let Some(received_at) = claim.signal_id.and_then(|s| ctx.messages.received_at(s))
            {
                crate::meters::record_latency(received_at);
            }
            record_sent(ctx, claim, message_id).await;
            Outcome::Sent { message_id }
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
            unreachable_recipient(ctx, claim, &reason).await?;
            recorded(applied, Outcome::Done(DeliveryStatus::Blocked))
        }
        Err(SendError::ChatNotFound) => {
            let applied = store
                .record_final(id, DeliveryStatus::Blocked, Some("chat not found"), now)
                .await?;
            unreachable_recipient(ctx, claim, "chat not found").await?;
            recorded(applied, Outcome::Done(DeliveryStatus::Blocked))
        }
        // The copy to edit is gone (deleted, or too old to edit): nothing to retry.
        Err(SendError::MessageGone(reason)) => {
            let applied = store
                .record_final(id, DeliveryStatus::Skipped, Some(&reason), now)
                .await?;
            tracing::info!(%reason, "the message to change is gone; recorded as skipped");
            recorded(applied, Outcome::Done(DeliveryStatus::Skipped))
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
            if claim.destination_id.is_some() && shuts_the_chat(&reason) {
                // Every later message would fail the same way: stop the destination.
                unreachable_recipient(ctx, claim, &reason).await?;
            }
            recorded(applied, Outcome::Done(DeliveryStatus::Failed))
        }
    })
}

/// What a job sends, ready to go; or the final status it ends in without a send, and why.
pub type Prepared = Result<Message, (DeliveryStatus, String)>;

/// A message ready to go.
pub enum Message {
    /// A new text message, maybe a reply to one of the chat's messages; `fallback` is the
    /// text to send instead if that message is gone.
    Text {
        /// The text.
        html: Arc<str>,
        /// The message of the chat it replies to.
        reply_to: Option<i32>,
        /// What to send instead if that message is gone.
        fallback: Option<Arc<str>>,
        /// Its buttons.
        keyboard: Option<InlineKeyboardMarkup>,
    },
    /// The new text of one of the chat's messages (its buttons repeated: an edit without
    /// them would drop them).
    Edit {
        /// The message changed.
        message_id: i32,
        /// Its new text.
        html: Arc<str>,
        /// Its buttons.
        keyboard: Option<InlineKeyboardMarkup>,
    },
    /// A picture with a caption.
    Photo {
        /// The PNG image.
        png: Vec<u8>,
        /// Its caption (HTML).
        caption: String,
    },
}

/// A signal's message: for a close, a reply to the reader's copy of the signal it closes
/// when they have one, else a message that says what it closes.
async fn signal_message(ctx: &DispatcherContext, claim: &Claim) -> anyhow::Result<Prepared> {
    let not_found = || Err((DeliveryStatus::Failed, "signal not found".to_string()));
    let Some(signal_id) = claim.signal_id else {
        return Ok(not_found());
    };
    let text = |text| {
        ctx.messages
            .text(&ctx.store, signal_id, claim.format, claim.language, text)
    };
    let Some(plain) = text(Text::Signal).await? else {
        return Ok(not_found());
    };
    let keyboard = claim.user_id.map(|_| read_button(claim));
    let Some(standalone) = text(Text::CloseStandalone).await? else {
        // Not a close of a stored position: the message as it is.
        return Ok(Ok(Message::Text {
            html: plain,
            reply_to: None,
            fallback: None,
            keyboard,
        }));
    };
    let Some(position) = ctx
        .store
        .signal(signal_id)
        .await?
        .and_then(|s| s.closes_signal_id)
    else {
        return Ok(not_found());
    };
    let copy = ctx
        .store
        .copy_of(position, claim.user_id, claim.destination_id)
        .await?;
    let reply_to = copy
        .filter(|c| c.status == DeliveryStatus::Sent)
        .and_then(|c| c.message_id)
        .and_then(|id| i32::try_from(id).ok());
    Ok(Ok(match reply_to {
        Some(reply_to) => Message::Text {
            html: text(Text::CloseReply).await?.unwrap_or(plain),
            reply_to: Some(reply_to),
            fallback: Some(standalone),
            keyboard,
        },
        None => Message::Text {
            html: standalone,
            reply_to: None,
            fallback: None,
            keyboard,
        },
    }))
}

/// The edit of a reader's copy of a position's signal, with how the position ended.
async fn outcome_edit(ctx: &DispatcherContext, claim: &Claim) -> anyhow::Result<Prepared> {
    let Some(close_id) = claim.signal_id else {
        return Ok(Err((DeliveryStatus::Failed, "close not found".into())));
    };
    let Some(html) = ctx
        .messages
        .text(
            &ctx.store,
            close_id,
            claim.format,
            claim.language,
            Text::Outcome,
        )
        .await?
    else {
        return Ok(Err((
            DeliveryStatus::Failed,
            "the close or the outcome it records is not stored".into(),
        )));
    };
    let Some(position) = ctx
        .store
        .signal(close_id)
        .await?
        .and_then(|s| s.closes_signal_id)
    else {
        return Ok(Err((DeliveryStatus::Failed, "close not found".into())));
    };
    let copy = ctx
        .store
        .copy_of(position, claim.user_id, claim.destination_id)
        .await?;
    let sent = copy.filter(|c| c.status == DeliveryStatus::Sent);
    let Some((copy, message_id)) = sent.and_then(|c| {
        c.message_id
            .and_then(|id| i32::try_from(id).ok())
            .map(|id| (c, id))
    }) else {
        return Ok(Err((
            DeliveryStatus::Skipped,
            "the copy of the closed signal was never sent".into(),
        )));
    };
    // The copy's own button, as it was sent.
    let keyboard = claim
        .user_id
        .map(|_| read_button_for(copy.delivery_id, claim.language));
    Ok(Ok(Message::Edit {
        message_id,
        html,
        keyboard,
    }))
}

/// Sends `message`; the id of the message sent (or edited).
async fn send(
    ctx: &DispatcherContext,
    claim: &Claim,
    message: Message,
    silent: bool,
) -> Result<i32, SendError> {
    let mut options = SendOptions {
        silent,
        thread_id: claim.thread_id,
        ..SendOptions::default()
    };
    match message {
        Message::Text {
            html,
            reply_to,
            fallback,
            keyboard,
        } => {
            options.keyboard = keyboard;
            options.reply_to = reply_to;
            let sent = ctx
                .sender
                .send_html_now_with(claim.chat_id, &html, Priority::Bulk, &options)
                .await;
            match (sent, fallback) {
                // The message replied to was deleted: the text that stands alone instead.
                // Nothing was sent, so this is not a second message.
                (Err(SendError::MessageGone(_)), Some(fallback)) => {
                    options.reply_to = None;
                    // A send of its own: it waits for its own slot.
                    ctx.sender
                        .wait_for_slot(claim.chat_id, Priority::Bulk)
                        .await;
                    ctx.sender
                        .send_html_now_with(claim.chat_id, &fallback, Priority::Bulk, &options)
                        .await
                        .map(|id| id.0)
                }
                (sent, _) => sent.map(|id| id.0),
            }
        }
        Message::Edit {
            message_id,
            html,
            keyboard,
        } => ctx
            .sender
            .edit_html_now(claim.chat_id, message_id, &html, keyboard)
            .await
            .map(|_| message_id),
        Message::Photo { png, caption } => ctx
            .sender
            .send_photo_now(claim.chat_id, png, &caption, Priority::Bulk, &options)
            .await
            .map(|id| id.0),
    }
}

/// Whether Telegram's refusal says the bot cannot post in that group, channel or topic at
/// all (not only this message): the group became a supergroup, the bot lacks the right to
/// post, the topic is closed or gone.
fn shuts_the_chat(reason: &str) -> bool {
    const CHAT_LEVEL: [&str; 7] = [
        "migrated",
        "not enough rights",
        "need administrator rights",
        "CHAT_WRITE_FORBIDDEN",
        "TOPIC_CLOSED",
        "TOPIC_DELETED",
        "message thread not found",
    ];
    CHAT_LEVEL.iter().any(|c| reason.contains(c))
}

/// The trader or destination cannot be reached any more: stop sending there.
async fn unreachable_recipient(
    ctx: &DispatcherContext,
    claim: &Claim,
    reason: &str,
) -> anyhow::Result<()> {
    let now = Utc::now();
    if let Some(user) = claim.user_id {
        ctx.store.deactivate_user(user, now).await?;
        tracing::info!(user_id = %user, %reason, "trader unreachable; marked inactive");
    } else if let Some(destination) = claim.destination_id {
        ctx.store
            .deactivate_destination(destination, reason, now)
            .await?;
        tracing::warn!(destination_id = %destination, %reason, "destination unreachable; stopped");
    }
    Ok(())
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

/// The "Got it" button under a trader's signal, which records when they read it.
fn read_button(claim: &Claim) -> InlineKeyboardMarkup {
    read_button_for(claim.delivery_id, claim.language)
}

/// The "Got it" button of delivery `delivery_id`, in `language`.
fn read_button_for(delivery_id: uuid::Uuid, language: Language) -> InlineKeyboardMarkup {
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
        .find(|(l, _)| *l == language)
        .map(|(_, label)| label.clone())
        .unwrap_or_default();
    let data = Callback::Read(delivery_id).encode();
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(label, data)]])
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
                crate::meters::count(ErrorKind::Database);
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
