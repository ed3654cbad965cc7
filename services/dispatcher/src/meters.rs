//! What the dispatcher shows operators besides what it counts as it works: the backlog and
//! the audience as gauges, refreshed every [`REFRESH_EVERY`] by every replica
//! ([`run_gauges`]), and its metrics' descriptions, each counter's series there (at 0) from
//! the start ([`register`]), so that `rate()` and the alerts see them before the first event.
//!
//! The gauges read what every replica reads alike (the database, the shared consumer): all
//! replicas report the same value, and dashboards and alerts aggregate them with `max()`.
//! Refreshing them is one grouped query over the open deliveries (it reads the partial index
//! of open rows only), one count of the traders, and one consumer info request, per replica
//! per [`REFRESH_EVERY`].

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use chrono::Utc;
use herald_domain::JobKind;
use herald_runtime::telemetry::{ErrorKind, count_error};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::context::DispatcherContext;

/// The name the dispatcher goes by in `herald_errors_total` and the pool gauges.
pub const SERVICE: &str = herald_store::heartbeats::DISPATCHER;

/// How often each replica refreshes the gauges.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);

const ACTIVE_USERS: &str = "herald_active_users";
const CONSUMER_PENDING: &str = "herald_nats_consumer_pending";
const CONSUMER_ACK_PENDING: &str = "herald_nats_consumer_ack_pending";
const DELIVERIES_PENDING: &str = "herald_dispatcher_deliveries_pending";
const OLDEST_PENDING_AGE: &str = "herald_dispatcher_oldest_pending_age_seconds";
/// From a signal's acceptance to Telegram's answer to its message, per sent delivery.
pub const DELIVERY_LATENCY: &str = "herald_dispatcher_delivery_latency_seconds";

/// Every kind of job of the queue, for `herald_dispatcher_deliveries_pending{kind}` (not `job`: Prometheus keeps that label for the scrape job).
const JOBS: [JobKind; 3] = [JobKind::Signal, JobKind::Outcome, JobKind::Report];

/// The `outcome`s of `herald_dispatcher_signals_total`.
const SIGNAL_OUTCOMES: [&str; 4] = ["dispatched", "duplicate", "dead_lettered", "retry"];

/// The `outcome`s of `herald_dispatcher_deliveries_total` (see [`crate::deliver::Outcome`]).
const DELIVERY_OUTCOMES: [&str; 7] = [
    "sent",
    "retry",
    "failed",
    "blocked",
    "expired",
    "skipped",
    "claim_lost",
];

/// The `what`s of `herald_dispatcher_reconciled_total`.
const RECONCILED: [&str; 3] = ["reclaimed", "expired", "republished"];

/// Describes the dispatcher's metrics and makes the series of its counters (at 0) and
/// histograms. Once per replica, at start.
pub fn register() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    let _ = herald_runtime::telemetry::prometheus();
    herald_runtime::telemetry::register_errors(SERVICE);
    describe_counter!(
        "herald_dispatcher_signals_total",
        "Signals taken from the bus, by how their handling ended (dispatched, duplicate, \
         dead_lettered, retry)"
    );
    describe_counter!(
        "herald_dispatcher_deliveries_total",
        "Delivery attempts by outcome (sent, retry, failed, blocked, expired, skipped, \
         claim_lost)"
    );
    describe_histogram!(
        "herald_dispatcher_send_duration_seconds",
        Unit::Seconds,
        "One delivery's Telegram call(s), from the slot to the answer"
    );
    describe_histogram!(
        "herald_dispatcher_fanout_recipients",
        "Deliveries one signal's fan-out queued (its audience)"
    );
    describe_histogram!(
        "herald_dispatcher_write_batch_size",
        "Deliveries recorded per group-committed statement"
    );
    describe_counter!(
        "herald_dispatcher_unknown_sends_total",
        "Sends that ended without an answer from Telegram (the message may have arrived)"
    );
    describe_counter!(
        "herald_dispatcher_reconciled_total",
        "What the reconciler's sweeps did (reclaimed, expired, republished)"
    );
    describe_histogram!(
        DELIVERY_LATENCY,
        Unit::Seconds,
        "From a signal's acceptance to Telegram's answer to its message, per sent delivery of \
         a signal"
    );
    describe_gauge!(
        ACTIVE_USERS,
        "Traders with a current signals subscription who have not blocked the bot (every \
         replica reports it: aggregate with max())"
    );
    describe_gauge!(
        CONSUMER_PENDING,
        "Messages of the stream the JetStream consumer has not delivered yet (aggregate with \
         max())"
    );
    describe_gauge!(
        CONSUMER_ACK_PENDING,
        "Messages the JetStream consumer delivered and are not acknowledged yet (aggregate \
         with max())"
    );
    describe_gauge!(
        DELIVERIES_PENDING,
        "Deliveries queued and not final (pending, sending, unknown), by job (aggregate with \
         max())"
    );
    describe_gauge!(
        OLDEST_PENDING_AGE,
        Unit::Seconds,
        "Age of the oldest delivery queued and not final, 0 when none (aggregate with max())"
    );
    for outcome in SIGNAL_OUTCOMES {
        metrics::counter!("herald_dispatcher_signals_total", "outcome" => outcome).increment(0);
    }
    for outcome in DELIVERY_OUTCOMES {
        metrics::counter!("herald_dispatcher_deliveries_total", "outcome" => outcome).increment(0);
    }
    for what in RECONCILED {
        metrics::counter!("herald_dispatcher_reconciled_total", "what" => what).increment(0);
    }
    metrics::counter!("herald_dispatcher_unknown_sends_total").increment(0);
    for histogram in [
        "herald_dispatcher_send_duration_seconds",
        "herald_dispatcher_fanout_recipients",
        "herald_dispatcher_write_batch_size",
        DELIVERY_LATENCY,
    ] {
        let _ = metrics::histogram!(histogram);
    }
}

/// Refreshes the gauges at once and then every [`REFRESH_EVERY`], until `shutdown`.
/// `consumer` is the signals' shared consumer. A refresh that fails is logged and counted,
/// and the gauges keep their last values until the next one.
pub async fn run_gauges(
    ctx: Arc<DispatcherContext>,
    consumer: PullConsumer,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut ticks = tokio::time::interval(REFRESH_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = ticks.tick() => {}
        }
        refresh(&ctx, &consumer).await;
    }
}

/// One refresh of every gauge; each part on its own, so one failing leaves the others.
pub async fn refresh(ctx: &DispatcherContext, consumer: &PullConsumer) {
    let now = Utc::now();
    match ctx.store.active_traders(now).await {
        Ok(n) => metrics::gauge!(ACTIVE_USERS).set(n as f64),
        Err(e) => failed(ErrorKind::Database, "active users", &e),
    }
    match ctx.store.open_deliveries().await {
        Ok(open) => {
            for job in JOBS {
                let count = open.iter().find(|o| o.job == job).map_or(0, |o| o.count);
                metrics::gauge!(DELIVERIES_PENDING, "kind" => job.as_str()).set(count as f64);
            }
            let age = open
                .iter()
                .filter_map(|o| o.oldest)
                .min()
                .map_or(0.0, |oldest| {
                    (now - oldest).num_milliseconds().max(0) as f64 / 1000.0
                });
            metrics::gauge!(OLDEST_PENDING_AGE).set(age);
        }
        Err(e) => failed(ErrorKind::Database, "pending deliveries", &e),
    }
    match consumer.get_info().await {
        Ok(info) => {
            let (stream, name) = (info.stream_name.clone(), info.name.clone());
            metrics::gauge!(CONSUMER_PENDING, "stream" => stream.clone(), "consumer" => name.clone())
                .set(info.num_pending as f64);
            metrics::gauge!(CONSUMER_ACK_PENDING, "stream" => stream, "consumer" => name)
                .set(info.num_ack_pending as f64);
        }
        Err(e) => failed(ErrorKind::Nats, "the signal consumer's backlog", &e),
    }
}

fn failed(kind: ErrorKind, what: &str, e: &dyn std::fmt::Display) {
    count_error(SERVICE, kind);
    tracing::warn!(error = %e, what, "could not refresh a gauge; it keeps its last value");
}

/// Records a sent signal delivery's latency: from `received_at`, when the signal was
/// accepted (stored on the bus), to now, Telegram's answer.
pub fn record_latency(received_at: chrono::DateTime<Utc>) {
    let seconds = (Utc::now() - received_at).num_milliseconds().max(0) as f64 / 1000.0;
    metrics::histogram!(DELIVERY_LATENCY).record(seconds);
}

/// The `herald_errors_total` kind of a failed step: the database's, NATS's, or another.
pub fn error_kind(e: &anyhow::Error) -> ErrorKind {
    if e.chain().any(|c| c.is::<herald_store::StoreError>()) {
        ErrorKind::Database
    } else if e.chain().any(|c| c.is::<herald_bus::BusError>()) {
        ErrorKind::Nats
    } else {
        ErrorKind::Internal
    }
}

/// Counts a failure of the dispatcher's (see [`error_kind`]).
pub fn count(kind: ErrorKind) {
    count_error(SERVICE, kind);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_told_apart_by_what_is_behind_them() {
        let store =
            anyhow::Error::from(herald_store::StoreError::UnknownDelivery(uuid::Uuid::nil()))
                .context("recording");
        assert_eq!(error_kind(&store), ErrorKind::Database);
        let bus = anyhow::Error::from(herald_bus::BusError::Publish("down".into()));
        assert_eq!(error_kind(&bus), ErrorKind::Nats);
        assert_eq!(error_kind(&anyhow::anyhow!("odd")), ErrorKind::Internal);
        // Statuses a pending delivery can be in are the ones the gauge counts.
        assert!(DELIVERY_OUTCOMES.contains(&herald_domain::DeliveryStatus::Expired.as_str()));
    }
}
