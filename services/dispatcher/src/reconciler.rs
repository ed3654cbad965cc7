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
//! 3. publishes again the signals whose fan-out stopped making progress — no page recorded
//!    for [`FANOUT_STALL`], counted from arrival if none was ever recorded — as happens when
//!    its worker died and its bus message is gone (with the signal's id as `Nats-Msg-Id`:
//!    while the original message is still in the stream, the copy is dropped as a
//!    duplicate), so the fan-out resumes from its cursor. A fan-out that takes long but moves
//!    is left alone, however long it takes. The leader watches cursors in memory, so a new
//!    leader waits one stall period before it judges a fan-out that had started;
//! 4. records the performance reports that fell due as jobs of the queue
//!    ([`crate::reports::schedule`]).
//!
//! Every step is an idempotent conditional update, so a sweep cut short, or two replicas
//! sweeping during a leadership change, do no harm.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use herald_bus::Leadership;
use herald_domain::SignalId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::context::DispatcherContext;

/// How often the leader sweeps.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How long an unfinished fan-out may go without recording a page before its signal is
/// published again.
pub const FANOUT_STALL: TimeDelta = TimeDelta::minutes(2);
/// Signals published again per sweep, at most.
const REPUBLISH_PER_SWEEP: u64 = 100;

/// Unfinished fan-outs the leader has seen: the cursor last seen, and since when.
#[derive(Debug, Default)]
pub struct FanoutWatch {
    seen: HashMap<SignalId, (Option<Uuid>, DateTime<Utc>)>,
}

impl FanoutWatch {
    /// Whether the fan-out of `signal`, at `cursor` now, has stalled: never started
    /// (`None`, and it arrived before the stall period — the caller only asks about those),
    /// or at the same cursor for [`FANOUT_STALL`].
    fn stalled(&mut self, signal: SignalId, cursor: Option<Uuid>, now: DateTime<Utc>) -> bool {
        if cursor.is_none() {
            return true;
        }
        match self.seen.get(&signal) {
            Some((seen, since)) if *seen == cursor => *since <= now - FANOUT_STALL,
            _ => {
                self.seen.insert(signal, (cursor, now));
                false
            }
        }
    }

    /// Forgets fan-outs no longer unfinished.
    fn keep_only(&mut self, unfinished: &[(SignalId, Option<Uuid>)]) {
        let ids: std::collections::HashSet<_> = unfinished.iter().map(|(id, _)| *id).collect();
        self.seen.retain(|id, _| ids.contains(id));
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Claims taken back from replicas that stopped.
    pub reclaimed: u64,
    /// Waiting deliveries expired past their signal's deadline.
    pub expired: u64,
    /// Signals published again to finish their fan-out.
    pub republished: u64,
    /// Performance reports recorded as jobs.
    pub reports: u64,
}

/// Sweeps every [`SWEEP_EVERY`] while this replica holds the lease, until `shutdown`.
pub async fn run_reconciler(
    ctx: Arc<DispatcherContext>,
    leadership: Leadership,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Deadlines passed since this instant have been dealt with.
    let mut watermark = Utc::now() - TimeDelta::days(1);
    let mut watch = FanoutWatch::default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if !leadership.is_leader() {
            // What was watched may have moved on under another leader.
            watch = FanoutWatch::default();
            continue;
        }
        let now = Utc::now();
        match sweep(&ctx, &mut watch, watermark, now).await {
            Ok(swept) => {
                watermark = now - TimeDelta::seconds(1);
                if swept != Swept::default() {
                    tracing::info!(
                        reclaimed = swept.reclaimed,
                        expired = swept.expired,
                        republished = swept.republished,
                        reports = swept.reports,
                        "reconciler sweep"
                    );
                }
            }
            Err(e) => {
                crate::meters::count(crate::meters::error_kind(&e));
                tracing::warn!(error = format!("{e:#}"), "reconciler sweep failed");
            }
        }
    }
}

/// One sweep at `now`; deadlines that passed since `since` are dealt with, and fan-outs are
/// judged against what `watch` saw in earlier sweeps.
pub async fn sweep(
    ctx: &DispatcherContext,
    watch: &mut FanoutWatch,
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
    let unfinished = store
        .unfinished_fanouts(now - FANOUT_STALL, REPUBLISH_PER_SWEEP)
        .await?;
    watch.keep_only(&unfinished);
    for (id, cursor) in unfinished {
        if !watch.stalled(id, cursor, now) {
            continue;
        }
        let Some(signal) = store.signal(id).await? else {
            continue;
        };
        ctx.bus.publish_signal(&signal).await?;
        swept.republished += 1;
    }
    swept.reports = crate::reports::schedule(ctx, now).await? as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fan_out_that_moves_is_never_stalled_and_one_that_stops_is() {
        let mut watch = FanoutWatch::default();
        let signal = SignalId::new();
        let t0 = Utc::now();
        let minute = TimeDelta::minutes(1);
        let (a, b) = (Some(Uuid::from_u128(1)), Some(Uuid::from_u128(2)));
        // Never started (and old enough to be asked about): stalled.
        assert!(watch.stalled(signal, None, t0));
        // Started: watched from the first sight of each new cursor.
        assert!(!watch.stalled(signal, a, t0));
        assert!(!watch.stalled(signal, a, t0 + minute));
        assert!(!watch.stalled(signal, b, t0 + minute * 2), "it moved");
        assert!(!watch.stalled(signal, b, t0 + minute * 3));
        assert!(
            watch.stalled(signal, b, t0 + minute * 4),
            "no page for two minutes"
        );
        // Finished fan-outs are forgotten.
        watch.keep_only(&[]);
        assert!(watch.seen.is_empty());
    }
}
