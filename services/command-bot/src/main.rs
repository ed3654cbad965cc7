//! `herald-command-bot`: the traders' chat commands as their own process. Run one replica
//! while it long-polls (Telegram allows one poller per bot).

use herald_runtime::{Settings, shutdown_on_signals, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(run().await)
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::load()?;
    telemetry::init(&settings);
    let listener = tokio::net::TcpListener::bind(settings.command_bot_addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!("HERALD_COMMAND_BOT_ADDR {}: {e}", settings.command_bot_addr)
        })?;
    herald_command_bot::run(settings, listener, shutdown_on_signals()).await
}
