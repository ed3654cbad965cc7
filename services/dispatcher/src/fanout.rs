//! From one signal on the bus to one delivery job per eligible trader.

use bytes::Bytes;
use chrono::Utc;
use herald_domain::{DeliveryJobV1, Rejection, SignalId, parse_signal_or_id};
use herald_store::StoreError;

use crate::context::DispatcherContext;

/// How handling one signal message ended.
#[derive(Debug)]
pub enum SignalOutcome {
    /// Stored, and a job published for every delivery not yet sent.
    Dispatched {
        /// Traders whose preferences admit the signal.
        recipients: usize,
        /// Jobs published now (fewer than `recipients` when the signal was seen before).
        jobs: usize,
    },
    /// Not a valid signal: parked on the dead-letter subject with the reason.
    DeadLettered(Rejection),
    /// Something it depends on failed; try the whole message again later (every step is
    /// idempotent).
    Retry(String),
}

/// One message from `<prefix>.signals.v1.>`.
#[derive(Debug, Clone)]
pub struct SignalMessage {
    /// The subject it was published on.
    pub subject: String,
    /// The raw payload.
    pub payload: Bytes,
}

/// Handles one message from `<prefix>.signals.v1.>`.
pub async fn handle_signal(ctx: &DispatcherContext, msg: &SignalMessage) -> SignalOutcome {
    let now = Utc::now();
    let (subject, payload) = (msg.subject.as_str(), msg.payload.clone());
    let signal = match parse_signal_or_id(&payload, now, || SignalId::from_content(&payload)) {
        Ok(signal) => signal,
        Err(rejection) => {
            return match ctx
                .bus
                .publish_dead_letter(subject, payload, &rejection.to_string())
                .await
            {
                Ok(_) => SignalOutcome::DeadLettered(rejection),
                Err(e) => SignalOutcome::Retry(format!("dead-lettering: {e}")),
            };
        }
    };
    match dispatch(ctx, signal, now).await {
        Ok((recipients, jobs)) => SignalOutcome::Dispatched { recipients, jobs },
        Err(e) => SignalOutcome::Retry(e),
    }
}

async fn dispatch(
    ctx: &DispatcherContext,
    signal: herald_domain::Signal,
    now: chrono::DateTime<Utc>,
) -> Result<(usize, usize), String> {
    let db = |what: &'static str| move |e: StoreError| format!("{what}: {e}");
    let inserted = ctx
        .store
        .insert_signal(&signal, now)
        .await
        .map_err(db("storing the signal"))?;
    // Seen before (a redelivery, or the same id re-sent after the duplicate window): the
    // stored signal is the one every replica renders, whatever this copy says.
    let signal = if inserted {
        signal
    } else {
        ctx.store
            .signal(signal.id)
            .await
            .map_err(db("loading the stored signal"))?
            .unwrap_or(signal)
    };
    let recipients = ctx
        .store
        .recipients(&signal, now)
        .await
        .map_err(db("selecting recipients"))?;
    ctx.store
        .create_deliveries(signal.id, &recipients, now)
        .await
        .map_err(db("recording deliveries"))?;
    let unsent = ctx
        .store
        .unsent_deliveries(signal.id)
        .await
        .map_err(db("listing unsent deliveries"))?;
    let jobs: Vec<DeliveryJobV1> = unsent
        .into_iter()
        .map(|d| DeliveryJobV1 {
            delivery_id: d.delivery_id,
            signal_id: signal.id.0,
            user_id: d.user_id,
            chat_id: d.chat_id,
            format: d.format,
        })
        .collect();
    let job_count = jobs.len();
    ctx.messages.remember(signal);
    ctx.bus
        .publish_delivery_jobs(&jobs)
        .await
        .map_err(|e| format!("publishing delivery jobs: {e}"))?;
    metrics::histogram!("herald_dispatcher_fanout_recipients").record(recipients.len() as f64);
    Ok((recipients.len(), job_count))
}
