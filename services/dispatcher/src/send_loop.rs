//! The sending side of a replica: claim due deliveries from the database queue, send each
//! trader's in order, keep the claims' leases alive, and sleep when there is nothing to do
//! until a nudge (or the idle poll) says there may be.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::StreamExt;
use herald_runtime::telemetry::ErrorKind;
use herald_store::{Claim, ClaimRef};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::context::DispatcherContext;
use crate::deliver::{Outcome, deliver_in_slot};

/// How long shutdown waits for sends in flight.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);
/// Answered sends awaiting their record, per send slot.
const RECORDS_PER_SLOT: usize = 4;
/// How long to wait after the queue could not be read.
const STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Claims held by this replica, for lease renewal: delivery id → the claim's attempt.
type Held = Arc<Mutex<HashMap<Uuid, u32>>>;

/// Sends deliveries from the queue until `shutdown`, then lets the sends in flight finish and
/// gives back the claims not yet started.
pub async fn run_sends(
    ctx: Arc<DispatcherContext>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let slots = Arc::new(Semaphore::new(ctx.policy.concurrency));
    // Sends answered but not yet recorded, at most: a send frees its slot once Telegram has
    // answered, so this bounds the claims held while the database catches up.
    let recording = Arc::new(Semaphore::new(ctx.policy.concurrency * RECORDS_PER_SLOT));
    let min_claim = u32::try_from(
        (ctx.policy.concurrency / 4)
            .min(ctx.policy.claim_batch)
            .max(1),
    )
    .unwrap_or(1);
    let held: Held = Arc::default();
    // Leases are renewed until the sends in flight have drained, not just until shutdown
    // begins: a send finishing during the drain must still hold its claim.
    let sends_done = CancellationToken::new();
    let renewer = tokio::spawn(renew_leases(ctx.clone(), held.clone(), sends_done.clone()));
    let nudges = tokio::spawn(listen_for_nudges(ctx.clone(), shutdown.clone()));
    let mut tasks = JoinSet::new();
    loop {
        // Under load, wait until a quarter of the send slots are free and claim them
        // together: a claim costs a transaction whatever its size. At light load they are
        // all free, so nothing waits.
        let mut permits = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_many_owned(min_claim) => p.expect("semaphore never closed"),
        };
        let more = slots
            .available_permits()
            .min(ctx.policy.claim_batch.saturating_sub(permits.num_permits()));
        if more > 0
            && let Ok(extra) = slots.clone().try_acquire_many_owned(more as u32)
        {
            permits.merge(extra);
        }
        let claims = match ctx
            .store
            .claim_deliveries(
                permits.num_permits(),
                Utc::now(),
                ctx.lease(),
                chrono::TimeDelta::from_std(ctx.policy.order_wait).unwrap_or_default(),
            )
            .await
        {
            Ok(claims) => claims,
            Err(e) => {
                drop(permits);
                crate::meters::count(ErrorKind::Database);
                tracing::warn!(error = %e, "could not claim deliveries; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(STORE_RETRY) => continue,
                }
            }
        };
        // Keep a slot per claimed delivery; the rest go back.
        let mut permits = {
            let mut asked = permits;
            asked
                .split(claims.len())
                .expect("a claim returns at most the deliveries asked for")
        };
        if claims.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ctx.work.notified() => {}
                _ = tokio::time::sleep(ctx.policy.idle_poll) => {}
            }
            continue;
        }
        held.lock()
            .expect("held lock")
            .extend(claims.iter().map(|c| (c.delivery_id, c.attempt)));
        for group in by_chat(claims) {
            let group_permits = permits
                .split(group.len())
                .expect("a slot per claimed delivery");
            tasks.spawn(send_in_order(
                ctx.clone(),
                group,
                group_permits,
                recording.clone(),
                held.clone(),
                shutdown.clone(),
            ));
        }
        while tasks.try_join_next().is_some() {}
    }
    let drained = tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!(
            abandoned = tasks.len(),
            "shutdown: sends still in flight were abandoned; the reconciler will take their claims back"
        );
    }
    sends_done.cancel();
    let _ = renewer.await;
    nudges.abort();
    Ok(())
}

/// Splits claims (grouped by chat, as [`herald_store::Store::claim_deliveries`] returns
/// them) into one run per chat.
fn by_chat(claims: Vec<Claim>) -> Vec<Vec<Claim>> {
    let mut groups: Vec<Vec<Claim>> = Vec::new();
    for claim in claims {
        match groups.last_mut() {
            Some(group) if group[0].chat_id == claim.chat_id => group.push(claim),
            _ => groups.push(vec![claim]),
        }
    }
    groups
}

/// Sends one chat's claims one after another. If one does not go out (it will be retried),
/// the later ones are given back: they must not overtake it.
async fn send_in_order(
    ctx: Arc<DispatcherContext>,
    claims: Vec<Claim>,
    mut permits: OwnedSemaphorePermit,
    recording: Arc<Semaphore>,
    held: Held,
    shutdown: CancellationToken,
) {
    // Whatever happens to this task (a panic included), its claims leave `held`, so the
    // renewer stops extending them and the reconciler can take them back.
    let _unhold = Unhold {
        held: held.clone(),
        ids: claims.iter().map(|c| c.delivery_id).collect(),
    };
    let mut rest = claims.into_iter();
    while let Some(claim) = rest.next() {
        let stop = shutdown.is_cancelled();
        // This delivery's send slot, freed once Telegram has answered; a place among the
        // records pending is taken first, so that freeing it never outruns the database.
        let slot = permits.split(1);
        let outcome = if stop {
            None
        } else {
            let _recording = recording.clone().acquire_owned().await;
            Some(deliver_in_slot(&ctx, &claim, slot).await)
        };
        held.lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&claim.delivery_id);
        let in_order = matches!(outcome, Some(Outcome::Sent { .. } | Outcome::Done(_)));
        if !in_order {
            let mut back: Vec<ClaimRef> = rest.by_ref().map(|c| ClaimRef::from(&c)).collect();
            if stop {
                back.push(ClaimRef::from(&claim));
            }
            if !back.is_empty() {
                let due = ctx.after(ctx.policy.order_wait);
                if let Err(e) = ctx.store.release_claims(&back, due, Utc::now()).await {
                    crate::meters::count(ErrorKind::Database);
                    tracing::warn!(error = %e, "could not give claims back; the reconciler will");
                }
                let mut held = held.lock().unwrap_or_else(|e| e.into_inner());
                for b in &back {
                    held.remove(&b.id);
                }
            }
            return;
        }
    }
}

/// Takes a task's claims out of `held` when the task ends, however it ends.
struct Unhold {
    held: Held,
    ids: Vec<Uuid>,
}

impl Drop for Unhold {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            held.remove(id);
        }
    }
}

/// Renews the leases of the claims in hand every third of a lease, so that no claim of a
/// live replica is taken back however long its sends wait for the budget.
async fn renew_leases(ctx: Arc<DispatcherContext>, held: Held, shutdown: CancellationToken) {
    let every = ctx.policy.lease / 3;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let claims: Vec<ClaimRef> = held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(&id, &attempt)| ClaimRef {
                id,
                attempt: Some(attempt),
            })
            .collect();
        if claims.is_empty() {
            continue;
        }
        let until = ctx.after(ctx.policy.lease);
        if let Err(e) = ctx.store.renew_leases(&claims, until).await {
            crate::meters::count(ErrorKind::Database);
            tracing::warn!(error = %e, claims = claims.len(), "could not renew claim leases");
        }
    }
}

/// Turns nudges from other replicas' fan-outs into wake-ups of this replica's sender.
async fn listen_for_nudges(ctx: Arc<DispatcherContext>, shutdown: CancellationToken) {
    loop {
        let mut nudges = match ctx.bus.delivery_nudges().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for nudges; polling only");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(STORE_RETRY) => continue,
                }
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                n = nudges.next() => match n {
                    Some(_) => ctx.work.notify_one(),
                    None => break,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{SignalFormat, SignalId};

    fn claim(user: u128, n: u128) -> Claim {
        Claim {
            delivery_id: Uuid::from_u128(n),
            job: herald_domain::JobKind::Signal,
            signal_id: Some(SignalId(Uuid::from_u128(n))),
            user_id: Some(Uuid::from_u128(user)),
            destination_id: None,
            chat_id: user as i64,
            thread_id: None,
            report_period: None,
            format: SignalFormat::Compact,
            language: herald_domain::Language::En,
            silent: false,
            hours: None,
            attempt: 1,
            unknown_sends: 0,
            priority: 2,
            signal_generated_at: None,
            deadline: None,
        }
    }

    #[test]
    fn one_run_per_chat_in_the_order_given() {
        let groups = by_chat(vec![claim(1, 1), claim(1, 2), claim(2, 3), claim(3, 4)]);
        let ids: Vec<Vec<u128>> = groups
            .iter()
            .map(|g| g.iter().map(|c| c.delivery_id.as_u128()).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 2], vec![3], vec![4]]);
    }
}
