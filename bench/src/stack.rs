//! Herald's services in this process, on a private NATS prefix and a fresh database, with the
//! Telegram double.

use std::time::Duration;

use herald_runtime::Settings;
use herald_testkit::db::{Backend, TestDatabase};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::TelegramDouble;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "777:bench";

/// A running in-process installation.
pub struct Stack {
    pub settings: Settings,
    pub telegram: TelegramDouble,
    pub ingest_url: String,
    pub db: TestDatabase,
    pub nats: TestNats,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Which services to run.
pub struct Services {
    pub ingest: bool,
    pub dispatcher: bool,
    pub command_bot: bool,
}

impl Stack {
    pub async fn start(
        backend: Backend,
        services: Services,
        tweak: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let db = TestDatabase::new(backend).await?;
        let nats = TestNats::new();
        let telegram = TelegramDouble::start(TOKEN).await?;
        let mut settings = Settings {
            database_url: db.url().to_string(),
            nats_url: nats.url.clone(),
            nats_prefix: nats.prefix.clone(),
            telegram_token: Some(SecretString::from(TOKEN)),
            telegram_api_url: telegram.api_url(),
            log: "warn".into(),
            ..Settings::default()
        };
        tweak(&mut settings);
        herald_runtime::telemetry::init(&settings)?;
        let store = herald_store::Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        let ingest = TcpListener::bind("127.0.0.1:0").await?;
        let ingest_url = format!("http://{}", ingest.local_addr()?);
        if services.ingest {
            let ops = TcpListener::bind("127.0.0.1:0").await?;
            tasks.push(tokio::spawn(herald_ingest_api::run(
                settings.clone(),
                ingest,
                ops,
                shutdown.clone(),
            )));
        }
        if services.dispatcher {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            tasks.push(tokio::spawn(herald_dispatcher::run(
                settings.clone(),
                l,
                shutdown.clone(),
            )));
        }
        if services.command_bot {
            let l = TcpListener::bind("127.0.0.1:0").await?;
            tasks.push(tokio::spawn(herald_command_bot::run(
                settings.clone(),
                l,
                shutdown.clone(),
            )));
        }
        let stack = Self {
            settings,
            telegram,
            ingest_url,
            db,
            nats,
            shutdown,
            tasks,
        };
        if services.ingest {
            stack.wait_ready().await?;
        }
        Ok(stack)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(r) = client
                .get(format!("{}/api/health", self.ingest_url))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::bail!("ingest-api did not become healthy")
    }

    pub async fn api_key(&self) -> anyhow::Result<String> {
        let store = herald_store::Store::connect(&self.settings.database_url).await?;
        let key = herald_auth::generate();
        store
            .create_api_key(
                herald_store::NewApiKey::ingest("bench", &key.hash, &key.prefix),
                chrono::Utc::now(),
            )
            .await?;
        Ok(herald_auth::reveal(&key).to_string())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
        }
        self.nats.cleanup().await?;
        self.db.cleanup().await?;
        Ok(())
    }
}

/// A signal body with a fresh id.
/// POSTs a fresh signal (confidence 85) to ingest-api at `base_url` with `key`, and checks
/// that it was accepted (202).
pub async fn post_signal(
    client: &reqwest::Client,
    base_url: &str,
    key: &str,
) -> anyhow::Result<()> {
    let r = client
        .post(format!("{base_url}/api/signals"))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(signal_body(85))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "POST answered {}", r.status());
    Ok(())
}

pub fn signal_body(confidence: u8) -> String {
    serde_json::json!({
        "id": uuid::Uuid::new_v4(),
        "kind": "buy", "asset": "BTC/USD",
        "entry_price": "45250", "target_price": "46500", "stop_loss": "44500",
        "timeframe": "1H", "confidence": confidence,
        "generated_at": chrono::Utc::now().to_rfc3339(),
        "source_model": "bench",
        "notes": ["Strong bullish momentum detected", "Breaking above key resistance level"]
    })
    .to_string()
}
