//! `herald-admin-api`: the administrators' API as its own process.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(
        herald_runtime::run_service("HERALD_ADMIN_ADDR", |s| s.admin_addr, herald_admin_api::run)
            .await,
    )
}
