//! `herald-ingest-api`: the signal intake as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service(
            "HERALD_INGEST_ADDR",
            |s| s.ingest_addr,
            herald_ingest_api::run,
        )
        .await,
    )
}
