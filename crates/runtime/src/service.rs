//! The body every service's `main` shares.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{Settings, shutdown_on_signals, telemetry};

/// Loads the settings, starts telemetry, binds the service's address (an error names
/// `setting`), and runs `run` until SIGINT or SIGTERM. `addr` picks the address from the
/// settings, e.g. `|s| s.ingest_addr`.
pub async fn run_service<F, Fut>(
    setting: &'static str,
    addr: impl FnOnce(&Settings) -> SocketAddr,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Settings, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings = Settings::load()?;
    telemetry::init(&settings);
    let listener = bind(setting, addr(&settings)).await?;
    run(settings, listener, shutdown_on_signals()).await
}

/// Binds `addr`, naming `setting` if it cannot.
pub async fn bind(setting: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("{setting}: cannot listen on {addr}: {e}"))
}
