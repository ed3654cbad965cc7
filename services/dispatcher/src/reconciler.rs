//! The reconciler: a periodic sweep, run by one replica at a time (elected through a NATS KV
//! lease), that makes sure every delivery ends in a final state and every fan-out finishes,
//! whatever died on the way.
//!
//! Each sweep:
//! 1. takes back claims whose lease ran out (their replica died mid-send): they become
//!    `unknown` and get their one retry — or `failed` if a send of theirs was already
//!    unknown ([`herald_store::Store::reclaim_abandoned`]);
//! 2. expires the waiting deliveries of signals whose deadline has passed, so a stale
//!    broadcast's backlog leaves the queue at once instead of being claimed row by row
//!    (each row's own deadline decides: one an operator re-drove with a later deadline
//!    waits for it);
//! 3. publishes again the signals whose fan-out never finished and whose bus message is gone
//!    (with the signal's id as `Nats-Msg-Id`: while the original message is still in the
//!    stream, the copy is dropped as a duplicate), so the fan-out resumes from its cursor.
//!
//! Every step is an idempotent conditional update, so a sweep cut short, or two replicas
//! sweeping during a leadership change, do no harm.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_bus::Leadership;
use tokio_util::sync::CancellationToken;

use crate::context::DispatcherContext;

/// How often the leader sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How long an unfinished fan-out may go without its signal being published again.
const FANOUT_STALL: TimeDelta = TimeDelta::minutes(2);
/// Signals published again per sweep, at most.
const REPUBLISH_PER_SWEEP: u64 = 100;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Claims taken back from replicas that stopped.
    pub reclaimed: u64,
    /// Waiting deliveries expired past their signal's deadline.
    pub expired: u64,
    /// Signals published again to finish their fan-out.
    pub republished: u64,
}

/// Sweeps every [`SWEEP_EVERY`] while this replica holds the lease, until `shutdown`.
pub async fn run_reconciler(
    ctx: Arc<DispatcherContext>,
    leadership: Leadership,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Deadlines passed since this instant have been dealt with.
    let mut watermark = Utc::now() - TimeDelta::days(1);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if !leadership.is_leader() {
            continue;
        }
        let now = Utc::now();
        match sweep(&ctx, watermark, now).await {
            Ok(swept) => {
                watermark = now - TimeDelta::seconds(1);
                if swept != Swept::default() {
                    tracing::info!(
                        reclaimed = swept.reclaimed,
                        expired = swept.expired,
                        republished = swept.republished,
                        "reconciler sweep"
                    );
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "reconciler sweep failed"),
        }
    }
}

/// One sweep at `now`; deadlines that passed since `since` are dealt with.
pub async fn sweep(
    ctx: &DispatcherContext,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Swept> {
    let store = &ctx.store;
    let retry_at = now + TimeDelta::from_std(ctx.policy.unknown_retry).unwrap_or_default();
    let mut swept = Swept {
        reclaimed: store.reclaim_abandoned(now, retry_at).await?,
        ..Swept::default()
    };
    for signal in store.signals_past_deadline(since, now).await? {
        swept.expired += store.expire_waiting(signal, now).await?;
    }
    for id in store
        .unfinished_fanouts(now - FANOUT_STALL, REPUBLISH_PER_SWEEP)
        .await?
    {
        let Some(signal) = store.signal(id).await? else {
            continue;
        };
        ctx.bus.publish_signal(&signal).await?;
        swept.republished += 1;
    }
    metrics::counter!("herald_dispatcher_reconciled_total", "what" => "reclaimed")
        .increment(swept.reclaimed);
    metrics::counter!("herald_dispatcher_reconciled_total", "what" => "expired")
        .increment(swept.expired);
    metrics::counter!("herald_dispatcher_reconciled_total", "what" => "republished")
        .increment(swept.republished);
    if swept.reclaimed > 0 {
        ctx.bus.nudge_deliveries().await;
    }
    Ok(swept)
}
