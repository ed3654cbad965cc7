//! `herald-admin-api`: the administrators' API as its own process.

use herald_runtime::{Settings, shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings);
    let listener = tokio::net::TcpListener::bind(settings.admin_addr)
        .await
        .map_err(|e| anyhow::anyhow!("HERALD_ADMIN_ADDR {}: {e}", settings.admin_addr))?;
    herald_admin_api::run(settings, listener, shutdown_on_signals()).await
}
