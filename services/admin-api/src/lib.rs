//! admin-api: the administrators' REST API.
//!
//! For now it answers `GET /api/health` (with the database's state) and `GET /metrics`;
//! users, preferences, stats and the audit trail behind JWT come next.

use std::sync::Arc;

use anyhow::Context as _;
use herald_runtime::http::{HealthProbe, check, ops_router};
use herald_runtime::{HealthReport, Settings, serve};
use herald_store::{Store, heartbeats};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs admin-api on `listener` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = Store::open(&settings.database_url)
        .await
        .context("opening the database")?;
    let beat_store = store.clone();
    let probe: HealthProbe = Arc::new(move || {
        let store = store.clone();
        Box::pin(async move {
            let database = check(store.ping()).await;
            HealthReport::new("admin-api", vec![("database", database)])
        })
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "admin-api listening");
    // Its own token too, so that it also stops when serving fails.
    let beating = shutdown.child_token();
    let heartbeat = heartbeats::spawn(beat_store, heartbeats::ADMIN_API, beating.clone());
    let served = serve(listener, ops_router(probe), shutdown).await;
    beating.cancel();
    if let Err(e) = heartbeat.await {
        tracing::warn!(error = %e, "the heartbeat task failed");
    }
    served
}
