//! `herald-command-bot`: the traders' chat commands as their own process. Run one replica
//! while it long-polls (Telegram allows one poller per bot).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service(
            "HERALD_COMMAND_BOT_ADDR",
            |s| s.command_bot_addr,
            herald_command_bot::run,
        )
        .await,
    )
}
