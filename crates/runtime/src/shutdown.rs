//! The shutdown trigger: a [`CancellationToken`] cancelled on SIGINT or SIGTERM.

use tokio_util::sync::CancellationToken;

/// Returns a token that is cancelled when the process receives SIGINT (Ctrl-C) or SIGTERM
/// (`docker stop`, Kubernetes). Services stop intake first, then drain what is in flight.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
            _ = term => tracing::info!("SIGTERM received, shutting down"),
        }
        trigger.cancel();
    });
    token
}

/// Turns a service's result into the process's exit status, printing an error as one line
/// with its causes (`error: opening the database: cannot connect to …`) rather than a
/// backtrace: what an operator reads when a service refuses to start.
pub fn exit_status(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
