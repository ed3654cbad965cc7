//! `herald-dispatcher`: fan-out and Telegram sending as its own process. Run as many
//! replicas as needed; they share the work through JetStream's durable consumers.

use herald_runtime::{Settings, shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings);
    let listener = tokio::net::TcpListener::bind(settings.dispatcher_addr)
        .await
        .map_err(|e| anyhow::anyhow!("HERALD_DISPATCHER_ADDR {}: {e}", settings.dispatcher_addr))?;
    herald_dispatcher::run(settings, listener, shutdown_on_signals()).await
}
