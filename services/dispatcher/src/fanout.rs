//! From one signal on the bus to one queued delivery per eligible trader, a page at a time.
//!
//! Recipients are read in user-id pages by one indexed query; each page's deliveries and the
//! fan-out's cursor are written in one transaction, and the replicas are nudged at once, so
//! the first traders' messages leave while later pages are still being read, and memory holds
//! one page whatever the audience. A fan-out interrupted anywhere (the replica dies, the
//! database drops) resumes after the last committed page when the signal is redelivered: no
//! trader skipped, none recorded twice. Recipients are chosen as of the signal's arrival
//! (`received_at`), however late a page is read.

use chrono::{DateTime, Utc};
use herald_bus::Raw;
use herald_domain::{Rejection, Signal, SignalId, check_fresh, parse_signal_or_id};
use herald_store::{Fanout, QueuedSignal, StoreError};

use crate::context::DispatcherContext;

/// How handling one signal message ended.
#[derive(Debug)]
pub enum SignalOutcome {
    /// Stored, and a delivery queued for every recipient.
    Dispatched {
        /// Deliveries recorded by this run (fewer than the recipients when an earlier run
        /// had recorded some).
        queued: u64,
        /// Pages read by this run.
        pages: u64,
    },
    /// Seen before and already fanned out completely.
    AlreadyDispatched,
    /// Not a valid signal, or too late to be worth sending: parked on the dead-letter
    /// subject with the reason.
    DeadLettered(Rejection),
    /// Something it depends on failed; try the whole message again later (every step is
    /// idempotent, and the fan-out resumes where it stopped).
    Retry(String),
}

/// Handles one message from `<prefix>.signals.v1.>` that reached the bus at `arrived` (its
/// JetStream publish time: a signal that arrived fresh is not refused because the dispatcher
/// got to it late — its deliveries then expire at its deadline instead, on the record).
pub async fn handle_signal(
    ctx: &DispatcherContext,
    msg: &Raw,
    arrived: DateTime<Utc>,
) -> SignalOutcome {
    let payload = msg.payload.clone();
    let parsed = match parse_signal_or_id(&payload, arrived, || SignalId::from_content(&payload)) {
        Ok(signal) => fresh_or_known(ctx, signal, arrived).await,
        Err(rejection) => Ok(Err(rejection)),
    };
    let signal = match parsed {
        Ok(Ok(signal)) => signal,
        Err(e) => return SignalOutcome::Retry(e),
        Ok(Err(rejection)) => {
            return match ctx
                .bus
                .publish_dead_letter(&msg.subject, payload, &rejection.to_string())
                .await
            {
                Ok(_) => SignalOutcome::DeadLettered(rejection),
                Err(e) => SignalOutcome::Retry(format!("dead-lettering: {e}")),
            };
        }
    };
    match fan_out(ctx, signal, arrived).await {
        Ok(outcome) => outcome,
        Err(e) => SignalOutcome::Retry(e),
    }
}

/// The signal if it was fresh on arrival, or is already stored (a redelivery, or a re-send of
/// a signal accepted while fresh: its fan-out must finish, not be refused half-way).
async fn fresh_or_known(
    ctx: &DispatcherContext,
    signal: Signal,
    arrived: DateTime<Utc>,
) -> Result<Result<Signal, Rejection>, String> {
    match check_fresh(&signal, arrived, ctx.policy.signal_ttl) {
        Ok(()) => Ok(Ok(signal)),
        Err(rejection) => match ctx.store.signal_exists(signal.id).await {
            Ok(true) => Ok(Ok(signal)),
            Ok(false) => Ok(Err(rejection)),
            Err(e) => Err(format!("looking up the signal: {e}")),
        },
    }
}

/// Stores the signal (once) and records its deliveries page by page from where an earlier
/// run stopped.
async fn fan_out(
    ctx: &DispatcherContext,
    signal: Signal,
    arrived: DateTime<Utc>,
) -> Result<SignalOutcome, String> {
    let db = |what: &'static str| move |e: StoreError| format!("{what}: {e}");
    let deadline = signal.deadline(ctx.policy.signal_ttl);
    let inserted = ctx
        .store
        .insert_signal(&signal, arrived, deadline)
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
    let fanout = if inserted {
        // Just stored: nothing recorded yet (one round trip saved on the hot path).
        Fanout {
            received_at: arrived,
            deadline: Some(deadline),
            cursor: None,
            done: false,
        }
    } else {
        ctx.store
            .fanout(signal.id)
            .await
            .map_err(db("reading the fan-out's progress"))?
            .ok_or_else(|| "the signal vanished after it was stored".to_string())?
    };
    if fanout.done {
        return Ok(SignalOutcome::AlreadyDispatched);
    }
    let queued_signal = QueuedSignal::new(&signal, fanout.deadline.or(Some(deadline)));
    ctx.messages.remember(signal.clone());
    let mut cursor = fanout.cursor;
    let (mut queued, mut pages) = (0, 0);
    loop {
        let page = ctx
            .store
            .recipients_page(&signal, fanout.received_at, cursor, ctx.policy.fanout_page)
            .await
            .map_err(db("selecting recipients"))?;
        let next = page.last_scanned.or(cursor);
        queued += ctx
            .store
            .record_fanout_page(
                &queued_signal,
                &page.recipients,
                next,
                page.exhausted,
                Utc::now(),
            )
            .await
            .map_err(db("recording deliveries"))?;
        pages += 1;
        if !page.recipients.is_empty() {
            ctx.work.notify_one();
            ctx.bus.nudge_deliveries().await;
        }
        if page.exhausted {
            break;
        }
        cursor = next;
    }
    metrics::histogram!("herald_dispatcher_fanout_recipients").record(queued as f64);
    Ok(SignalOutcome::Dispatched { queued, pages })
}
