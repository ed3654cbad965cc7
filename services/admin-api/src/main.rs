//! `herald-admin-api`: the administrators' API as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service_with_ops(
            ("HERALD_ADMIN_ADDR", |s| s.admin_addr),
            ("HERALD_ADMIN_OPS_ADDR", |s| s.admin_ops_addr),
            herald_admin_api::run,
        )
        .await,
    )
}
