//! `herald-dispatcher`: fan-out and Telegram sending as its own process. Run as many
//! replicas as needed; they share the work through JetStream's durable consumers.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service(
            "HERALD_DISPATCHER_ADDR",
            |s| s.dispatcher_addr,
            herald_dispatcher::run,
        )
        .await,
    )
}
