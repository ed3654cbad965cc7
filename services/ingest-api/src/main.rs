//! `herald-ingest-api`: the signal intake as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service_with_ops(
            ("HERALD_INGEST_ADDR", |s| s.ingest_addr),
            ("HERALD_INGEST_OPS_ADDR", |s| s.ingest_ops_addr),
            herald_ingest_api::run,
        )
        .await,
    )
}
