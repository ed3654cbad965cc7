//! `herald`: every Herald service in one process (`herald all`, the embedded default), any
//! one of them alone, and the operator's commands.

mod all;
mod api_key;
mod demo;

use clap::{Parser, Subcommand};
use herald_runtime::{Settings, shutdown_on_signals, telemetry};

/// Herald delivers trading signals to traders over Telegram.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Run ingest-api, dispatcher, command-bot and admin-api in this process.
    All,
    /// Run only ingest-api.
    IngestApi,
    /// Run only a dispatcher replica.
    Dispatcher,
    /// Run only the command-bot.
    CommandBot,
    /// Run only admin-api.
    AdminApi,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage the Signal Engine's API keys.
    ApiKey {
        #[command(subcommand)]
        action: api_key::Action,
    },
    /// Run everything on embedded defaults with a Telegram double in-process, subscribe a demo
    /// trader, send a demo signal and show what the trader receives.
    Demo(demo::Args),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    herald_runtime::exit_status(run().await)
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    match cli.command {
        Mode::All => {
            telemetry::init(&settings);
            all::run(settings, shutdown_on_signals()).await
        }
        Mode::IngestApi => {
            telemetry::init(&settings);
            let listener = all::bind("HERALD_INGEST_ADDR", settings.ingest_addr).await?;
            herald_ingest_api::run(settings, listener, shutdown_on_signals()).await
        }
        Mode::Dispatcher => {
            telemetry::init(&settings);
            let listener = all::bind("HERALD_DISPATCHER_ADDR", settings.dispatcher_addr).await?;
            herald_dispatcher::run(settings, listener, shutdown_on_signals()).await
        }
        Mode::CommandBot => {
            telemetry::init(&settings);
            let listener = all::bind("HERALD_COMMAND_BOT_ADDR", settings.command_bot_addr).await?;
            herald_command_bot::run(settings, listener, shutdown_on_signals()).await
        }
        Mode::AdminApi => {
            telemetry::init(&settings);
            let listener = all::bind("HERALD_ADMIN_ADDR", settings.admin_addr).await?;
            herald_admin_api::run(settings, listener, shutdown_on_signals()).await
        }
        Mode::Migrate => {
            telemetry::init(&settings);
            herald_store::Store::open(&settings.database_url).await?;
            eprintln!("migrated {}", settings.database_url_redacted());
            Ok(())
        }
        Mode::ApiKey { action } => api_key::run(&settings, action).await,
        Mode::Demo(args) => demo::run(settings, args).await,
    }
}
