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
    telemetry::init(&settings)?;
    let listener = bind(setting, addr(&settings)).await?;
    let result = run(settings, listener, shutdown_on_signals()).await;
    telemetry::shutdown().await;
    result
}

/// The settings of a listening address: the environment variable naming it (for errors),
/// and where it is in the settings, e.g. `("HERALD_INGEST_ADDR", |s| s.ingest_addr)`.
pub type AddrSetting = (&'static str, fn(&Settings) -> SocketAddr);

/// [`run_service`] for a service with a public API and an operational address apart
/// (ingest-api, admin-api): binds both (`public` first, then `ops`) before `run` starts.
pub async fn run_service_with_ops<F, Fut>(
    public: AddrSetting,
    ops: AddrSetting,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Settings, TcpListener, TcpListener, CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let (setting, addr) = public;
    run_service(
        setting,
        addr,
        move |settings, listener, shutdown| async move {
            let (ops_setting, ops_addr) = ops;
            let ops_listener = bind(ops_setting, ops_addr(&settings)).await?;
            run(settings, listener, ops_listener, shutdown).await
        },
    )
    .await
}

/// Binds `addr`, naming `setting` if it cannot.
pub async fn bind(setting: &str, addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("{setting}: cannot listen on {addr}: {e}"))
}
