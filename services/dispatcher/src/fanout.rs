//! From one signal on the bus to one queued delivery per eligible trader, a page at a time.
//!
//! Recipients are read in user-id pages by one indexed query; each page's deliveries and the
//! fan-out's cursor are written in one transaction, and the replicas are nudged at once, so
//! the first traders' messages leave while later pages are still being read, and memory holds
//! one page whatever the audience. A fan-out interrupted anywhere (the replica dies, the
//! database drops) resumes after the last committed page when the signal is redelivered: no
//! trader skipped, none recorded twice. Recipients are chosen as of the signal's arrival
//! (`received_at`), however late a page is read.
//!
//! Before the traders: the signal's destinations (channels, groups, topics) whose filters it
//! passes get their jobs, and a close that names the position it ends is judged against it
//! ([`herald_domain::judge_close`]): refused to the dead-letter subject, or stored together
//! with the outcome it records, and every copy of that position's signal gets an `outcome`
//! job (its edit). A close whose position is not stored yet is retried for
//! [`CLOSE_WAIT`] (the signal it closes may still be on its way), then refused.

use chrono::{DateTime, TimeDelta, Utc};
use herald_bus::Raw;
use herald_domain::{
    Position, PositionOutcome, Rejection, Signal, SignalId, check_fresh, judge_close,
    parse_signal_or_id,
};
use herald_runtime::telemetry::ErrorKind;
use herald_store::{CloseStored, Fanout, QueuedSignal, StoreError};

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

/// How long after its arrival a close naming an unknown signal is retried before it is
/// refused, beyond twice the bus's redelivery delay: a buy and its close published back to
/// back may be handled in either order, and a buy taken by a replica that died comes back
/// only after the redelivery delay.
pub const CLOSE_WAIT: TimeDelta = TimeDelta::seconds(30);

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
    let parsed = match parsed {
        Ok(Ok(signal)) => judge(ctx, signal, arrived).await,
        other => other.map(|r| r.map(|s| (s, None))),
    };
    let (signal, closed) = match parsed {
        Ok(Ok(judged)) => judged,
        Err(e) => return SignalOutcome::Retry(e),
        Ok(Err(rejection)) => {
            return match ctx
                .bus
                .publish_dead_letter(&msg.subject, payload, &rejection.to_string())
                .await
            {
                Ok(_) => SignalOutcome::DeadLettered(rejection),
                Err(e) => {
                    crate::meters::count(ErrorKind::Nats);
                    SignalOutcome::Retry(format!("dead-lettering: {e}"))
                }
            };
        }
    };
    match fan_out(ctx, msg, signal, closed, arrived).await {
        Ok(outcome) => outcome,
        Err(e) => SignalOutcome::Retry(e),
    }
}

/// A position a close ends: the position's signal and the outcome the close records.
type Closed = Option<(Signal, PositionOutcome)>;

/// A close judged against the position it names (other signals pass as they are): the
/// outcome to record, or why the close is refused. `Err`: try again later (the database
/// failed, or the position may still be on its way).
async fn judge(
    ctx: &DispatcherContext,
    signal: Signal,
    arrived: DateTime<Utc>,
) -> Result<Result<(Signal, Closed), Rejection>, String> {
    if signal.closes_signal_id.is_none() {
        return Ok(Ok((signal, None)));
    }
    // A close stored before is judged as it was stored: a re-sent id with another body
    // does not name another position.
    let signal = ctx
        .store
        .signal(signal.id)
        .await
        .map_err(db("looking up the close"))?
        .unwrap_or(signal);
    let Some(named) = signal.closes_signal_id else {
        return Ok(Ok((signal, None)));
    };
    let position = ctx
        .store
        .position(named)
        .await
        .map_err(db("looking up the position the close ends"))?;
    let wait = TimeDelta::from_std(ctx.policy.lease * 2).unwrap_or_default() + CLOSE_WAIT;
    if position == Position::Unknown && Utc::now() - arrived < wait {
        return Err(format!(
            "the signal {} it closes is not stored yet; waiting for it",
            named.0
        ));
    }
    Ok(match judge_close(&signal, &position) {
        Ok(Some(outcome)) => {
            let Position::Known {
                signal: original, ..
            } = position
            else {
                unreachable!("an outcome comes only from a known position")
            };
            // Every copy of the position must be on record before the close queues their
            // edits (and its replies follow them): wait for the position's fan-out.
            let fanout = ctx
                .store
                .fanout(original.id)
                .await
                .map_err(db("reading the position's fan-out"))?;
            if fanout.is_some_and(|f| !f.done) {
                return Err(format!(
                    "the fan-out of the signal {} it closes is still running; waiting for it",
                    named.0
                ));
            }
            Ok((signal, Some((*original, outcome))))
        }
        Ok(None) => Ok((signal, None)),
        Err(rejection) => Err(rejection),
    })
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
            Err(e) => Err(db("looking up the signal")(e)),
        },
    }
}

/// Stores the signal (once) and records its deliveries page by page from where an earlier
/// run stopped.
async fn fan_out(
    ctx: &DispatcherContext,
    msg: &Raw,
    signal: Signal,
    closed: Closed,
    arrived: DateTime<Utc>,
) -> Result<SignalOutcome, String> {
    let deadline = signal.deadline(ctx.policy.signal_ttl);
    let inserted = match &closed {
        None => ctx
            .store
            .insert_signal(&signal, arrived, deadline)
            .await
            .map_err(db("storing the signal"))?,
        Some((_, outcome)) => match ctx
            .store
            .insert_close(&signal, arrived, deadline, outcome, Utc::now())
            .await
            .map_err(db("storing the close and its outcome"))?
        {
            CloseStored::Stored { new } => new,
            CloseStored::AlreadyClosed { by } => {
                let rejection = Rejection::Invalid(vec![herald_domain::FieldError {
                    field: "closes_signal_id".into(),
                    code: "already_closed",
                    message: format!(
                        "names a position already closed by signal {} ({})",
                        by.0, outcome.signal_id.0
                    ),
                }]);
                return dead_letter(ctx, msg, rejection).await;
            }
        },
    };
    // The trace this fan-out belongs to, for its deliveries' spans (traces on only).
    if inserted
        && let Some(traceparent) = herald_runtime::traces::traceparent(&tracing::Span::current())
    {
        // Only the deliveries' spans depend on it: a failure loses their parent, not the signal.
        if let Err(e) = ctx.store.set_signal_trace(signal.id, &traceparent).await {
            tracing::warn!(error = %e, "could not keep the signal's trace; its deliveries' spans start their own");
        }
    }
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
    ctx.messages.remember(
        signal.clone(),
        fanout.received_at,
        closed
            .as_ref()
            .map(|(position, outcome)| (position.clone(), Some(outcome.clone()))),
    );
    let (mut queued, mut pages) = (0, 0);
    if fanout.cursor.is_none() {
        // Before the first page of traders (the queue's order rule counts on it): the
        // position's copies get their edits, the destinations their messages. Both are
        // idempotent, so a fan-out redone from the start records nothing twice.
        if let Some((position, _)) = &closed {
            queued += ctx
                .store
                .record_outcome_edits(&queued_signal, position.id, Utc::now())
                .await
                .map_err(db("recording the edits of the position's copies"))?;
        }
        let destinations = ctx
            .store
            .destinations_for(&signal)
            .await
            .map_err(db("selecting destinations"))?;
        queued += ctx
            .store
            .record_destination_jobs(&queued_signal, &destinations, Utc::now())
            .await
            .map_err(db("recording the destinations' deliveries"))?;
        if queued > 0 {
            ctx.work.notify_one();
            ctx.bus.nudge_deliveries().await;
        }
    }
    let mut cursor = fanout.cursor;
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

/// Parks the message on the dead-letter subject with `rejection`.
async fn dead_letter(
    ctx: &DispatcherContext,
    msg: &Raw,
    rejection: Rejection,
) -> Result<SignalOutcome, String> {
    ctx.bus
        .publish_dead_letter(&msg.subject, msg.payload.clone(), &rejection.to_string())
        .await
        .map_err(|e| {
            crate::meters::count(ErrorKind::Nats);
            format!("dead-lettering: {e}")
        })?;
    Ok(SignalOutcome::DeadLettered(rejection))
}

/// What a failed step of the database says in a retry (`what` failed), counted in
/// `herald_errors_total{kind="database"}`.
fn db(what: &'static str) -> impl FnOnce(StoreError) -> String {
    move |e| {
        crate::meters::count(ErrorKind::Database);
        format!("{what}: {e}")
    }
}
