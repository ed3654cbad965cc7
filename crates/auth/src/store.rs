//! The store behind the checks: API keys and staff roles looked up in `herald-store`, and
//! keys' use written back to it in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_store::{AuditEvent, Store};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api_key::{KeyInfo, KeyLookup};
use crate::extract::{FailureSink, StaffLookup};
use crate::network::IpAllowList;
use crate::verifier::ApiKeyVerifier;

/// How often keys' `last_used_at` is written: a minute behind at most, one small
/// transaction a minute per process however many requests there were.
pub const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// Looks keys up in `store` (active keys only: a revoked key is not found). A stored key that
/// cannot be read (a scope this build does not know, during a rolling upgrade; an allow-list
/// edited by hand) is refused and logged: it is not an outage of the store, which would make
/// every new key wait.
pub fn key_lookup(store: Store) -> KeyLookup {
    Arc::new(move |hash: String| {
        let store = store.clone();
        Box::pin(async move {
            let k = match store.active_api_key_by_hash(&hash).await {
                Ok(Some(k)) => k,
                Ok(None) => return Ok(None),
                Err(e @ herald_store::StoreError::Corrupt { .. }) => {
                    tracing::error!(error = %e, "an unreadable API key was refused");
                    return Ok(None);
                }
                Err(e) => return Err(e.to_string()),
            };
            match IpAllowList::parse(&k.allowed_ips) {
                Ok(allowed) => Ok(Some(KeyInfo {
                    id: k.id,
                    name: k.name,
                    scopes: k.scopes,
                    allowed,
                    rate_limit: k.rate_limit,
                })),
                Err(e) => {
                    tracing::error!(key = %k.id, error = %e, "an API key with an unreadable allow-list was refused");
                    Ok(None)
                }
            }
        })
    })
}

/// Looks staff roles up in `store`.
pub fn staff_lookup(store: Store) -> StaffLookup {
    Arc::new(move |user_id| {
        let store = store.clone();
        Box::pin(async move { store.staff_role(user_id).await.map_err(|e| e.to_string()) })
    })
}

/// Writes the keys `verifier` accepted to `store` every [`USAGE_FLUSH_INTERVAL`], and once
/// more when `stop` is cancelled.
pub fn spawn_key_usage(
    verifier: ApiKeyVerifier,
    store: Store,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                () = tokio::time::sleep(USAGE_FLUSH_INTERVAL) => false,
            };
            let now = (Utc::now(), Instant::now());
            let uses: Vec<_> = verifier
                .take_usage()
                .into_iter()
                .map(|(id, at)| {
                    let ago = now.1.saturating_duration_since(at);
                    (
                        id,
                        now.0 - chrono::Duration::from_std(ago).unwrap_or_default(),
                    )
                })
                .collect();
            if let Err(e) = store.touch_api_keys(&uses).await {
                tracing::warn!(error = %e, keys = uses.len(), "could not record API key use");
            }
            if stopping {
                return;
            }
        }
    })
}

/// How often refused requests are written to the audit log, coalesced.
pub const FAILURE_FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// The most distinct (actor, reason, address, request) groups held between two writes.
const MAX_FAILURE_GROUPS: usize = 10_000;

/// Authentication failures the sink dropped rather than record.
const UNRECORDED: &str = "herald_auth_failures_unrecorded_total";

/// Refused requests go to the audit log off the request path, coalesced: every
/// [`FAILURE_FLUSH_INTERVAL`] one `auth.failed` row per actor, reason, address and request,
/// with how many there were (its `occurrences`). A flood of bad tokens or keys thus costs a
/// log line each but only as many database writes as there are distinct sources; past
/// [`MAX_FAILURE_GROUPS`] sources in one interval, the rest are counted in the metric
/// `herald_auth_failures_unrecorded_total` and dropped.
pub fn failure_sink(store: Store) -> FailureSink {
    type Group = (String, &'static str, String, String);
    let pending: Arc<std::sync::Mutex<HashMap<Group, u64>>> = Arc::default();
    let writer = pending.clone();
    metrics::describe_counter!(
        UNRECORDED,
        "Authentication failures left out of the audit log because too many kinds of them \
         came at once"
    );
    // Present at 0 from the start, so that an alert on its rate has a series.
    metrics::counter!(UNRECORDED).increment(0);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(FAILURE_FLUSH_INTERVAL).await;
            let groups = std::mem::take(&mut *writer.lock().unwrap_or_else(|p| p.into_inner()));
            for ((actor, reason, source, request), count) in groups {
                let event = AuditEvent {
                    actor,
                    action: "auth.failed".into(),
                    target: Some(request),
                    source: Some(source),
                    details: Some(serde_json::json!({ "reason": reason })),
                };
                if let Err(e) = store.record_audit_times(event, count, Utc::now()).await {
                    tracing::warn!(error = %e, "could not record an authentication failure");
                }
            }
            // The last sink is gone: the service stopped.
            if Arc::strong_count(&writer) == 1 {
                return;
            }
        }
    });
    Arc::new(move |failure| {
        let mut groups = pending.lock().unwrap_or_else(|p| p.into_inner());
        let group = (
            failure.actor,
            failure.reason,
            failure.source.to_string(),
            failure.request,
        );
        if groups.len() >= MAX_FAILURE_GROUPS && !groups.contains_key(&group) {
            metrics::counter!(UNRECORDED).increment(1);
            return;
        }
        *groups.entry(group).or_insert(0) += 1;
    })
}
