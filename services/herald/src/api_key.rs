//! `herald api-key create --name NAME`: prints a new key as the only line on stdout; only its
//! hash is stored.

use chrono::Utc;
use clap::Subcommand;
use herald_runtime::Settings;
use herald_store::Store;

/// What to do with API keys.
#[derive(Subcommand)]
pub enum Action {
    /// Create a key for the Signal Engine and print it (shown once; only its hash is kept).
    Create {
        /// A name to recognise the key by, e.g. `signal-engine-prod`.
        #[arg(long)]
        name: String,
    },
}

/// Runs an api-key command.
pub async fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Create { name } => {
            let store = Store::open(&settings.database_url).await?;
            let key = create(&store, &name).await?;
            println!("{key}");
            eprintln!("created API key {name:?}; store it now, it is not shown again");
            Ok(())
        }
    }
}

/// Creates a key named `name` and returns its text.
pub async fn create(store: &Store, name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.chars().count() <= 100,
        "--name must be 1-100 characters"
    );
    let generated = herald_auth::generate();
    store
        .create_api_key(name, &generated.hash, &generated.prefix, Utc::now())
        .await?;
    Ok(herald_auth::reveal(&generated).to_string())
}
