//! `herald-ingest-api`: the signal intake as its own process.

use herald_runtime::{Settings, shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings);
    let listener = tokio::net::TcpListener::bind(settings.ingest_addr)
        .await
        .map_err(|e| anyhow::anyhow!("HERALD_INGEST_ADDR {}: {e}", settings.ingest_addr))?;
    herald_ingest_api::run(settings, listener, shutdown_on_signals()).await
}
