//! `herald`: every Herald service in one process (`herald all`, the embedded default), any
//! one of them alone, and the operator's commands.

mod admin;
mod all;
mod api_key;
mod args;
mod deliveries;
mod demo;
mod destinations;
mod tiers;
mod users;

use clap::{Parser, Subcommand};
use herald_runtime::{Settings, run_service, run_service_with_ops, shutdown_on_signals, telemetry};

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
    /// Manage who may use the admin API: grant, revoke, enrol an authenticator.
    Admin {
        #[command(subcommand)]
        action: admin::Action,
    },
    /// Manage API keys: create (with scopes, networks, a rate limit), list, revoke.
    ApiKey {
        #[command(subcommand)]
        action: api_key::Action,
    },
    /// Watch and re-drive one signal's deliveries.
    Deliveries {
        #[command(subcommand)]
        action: deliveries::Action,
    },
    /// Manage the channels, groups and forum topics signals go to besides traders' chats.
    Destinations {
        #[command(subcommand)]
        action: destinations::Action,
    },
    /// List the subscription tiers (`herald tiers` alone), or create and change one.
    Tiers {
        #[command(subcommand)]
        action: Option<tiers::Action>,
    },
    /// Manage traders: which subscription tier each is on.
    Users {
        #[command(subcommand)]
        action: users::Action,
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
    match Cli::parse().command {
        Mode::IngestApi => {
            run_service_with_ops(
                ("HERALD_INGEST_ADDR", |s| s.ingest_addr),
                ("HERALD_INGEST_OPS_ADDR", |s| s.ingest_ops_addr),
                herald_ingest_api::run,
            )
            .await
        }
        Mode::Dispatcher => {
            run_service(
                "HERALD_DISPATCHER_ADDR",
                |s| s.dispatcher_addr,
                herald_dispatcher::run,
            )
            .await
        }
        Mode::CommandBot => {
            run_service(
                "HERALD_COMMAND_BOT_ADDR",
                |s| s.command_bot_addr,
                herald_command_bot::run,
            )
            .await
        }
        Mode::AdminApi => {
            run_service_with_ops(
                ("HERALD_ADMIN_ADDR", |s| s.admin_addr),
                ("HERALD_ADMIN_OPS_ADDR", |s| s.admin_ops_addr),
                herald_admin_api::run,
            )
            .await
        }
        Mode::All => {
            let settings = Settings::load()?;
            telemetry::init(&settings)?;
            let result = all::run(settings, shutdown_on_signals()).await;
            telemetry::shutdown().await;
            result
        }
        Mode::Migrate => {
            let settings = Settings::load()?;
            telemetry::init(&settings)?;
            herald_store::Store::open(&settings.database_url).await?;
            eprintln!(
                "migrated {}",
                herald_store::redact_url(&settings.database_url)
            );
            Ok(())
        }
        Mode::Admin { action } => admin::run(&Settings::load()?, action).await,
        Mode::ApiKey { action } => api_key::run(&Settings::load()?, action).await,
        Mode::Deliveries { action } => deliveries::run(&Settings::load()?, action).await,
        Mode::Destinations { action } => destinations::run(&Settings::load()?, action).await,
        Mode::Tiers { action } => tiers::run(&Settings::load()?, action).await,
        Mode::Users { action } => users::run(&Settings::load()?, action).await,
        Mode::Demo(args) => demo::run(Settings::load()?, args).await,
    }
}
