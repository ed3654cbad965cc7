//! The end-to-end harness: starts Herald's real binaries as child processes against the real
//! NATS server and a real database (a fresh SQLite file or PostgreSQL schema), with Telegram
//! replaced by the in-process Bot API double, and cleans all of it up afterwards.
//!
//! The binaries must be built first (`cargo build --workspace --bins`; `scripts/test` does).
//! Each service's log goes to a file; when a test fails, the logs are printed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use herald_store::Store;
use herald_testkit::db::{Backend, TestDatabase};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{TelegramDouble, TestUser};

pub mod servers;

/// Bot token the stack and the double agree on.
pub const TOKEN: &str = "424242:e2e-secret-token";
/// How long any wait in these tests may take before it is a failure.
pub const WAIT: Duration = Duration::from_secs(30);

/// One of Herald's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `herald all`: the four services in one process.
    All,
    /// `herald-ingest-api`
    IngestApi,
    /// `herald-dispatcher`
    Dispatcher,
    /// `herald-command-bot`
    CommandBot,
    /// `herald-admin-api`
    AdminApi,
    /// Another `herald-dispatcher` replica, numbered (the first is [`Service::Dispatcher`]).
    DispatcherReplica(u8),
}

impl Service {
    fn binary(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::All => ("herald", &["all"]),
            Self::IngestApi => ("herald-ingest-api", &[]),
            Self::Dispatcher => ("herald-dispatcher", &[]),
            Self::CommandBot => ("herald-command-bot", &[]),
            Self::AdminApi => ("herald-admin-api", &[]),
            Self::DispatcherReplica(_) => ("herald-dispatcher", &[]),
        }
    }
}

/// Where `cargo build` put the binaries: next to this test executable's `deps/` folder.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .expect("deps dir")
        .parent()
        .expect("profile dir");
    dir.to_path_buf()
}

fn binary_path(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir().join(name);
    if !path.exists() {
        bail!(
            "{} is missing: build the binaries first (cargo build --workspace --bins)",
            path.display()
        );
    }
    Ok(path)
}

/// Each address setting's name (`HERALD_<name>_ADDR`) and what its service logs once it
/// listens there.
const SERVICES: [(&str, &str); 6] = [
    ("INGEST", "ingest-api listening"),
    ("INGEST_OPS", "ingest-api metrics and probes listening"),
    ("ADMIN", "admin-api listening"),
    ("ADMIN_OPS", "admin-api metrics and probes listening"),
    ("DISPATCHER", "dispatcher health and metrics listening"),
    ("COMMAND_BOT", "command-bot health and metrics listening"),
];

/// A running Herald installation of its own.
pub struct Stack {
    db: Option<TestDatabase>,
    /// Its NATS namespace.
    pub nats: TestNats,
    /// The Telegram it talks to.
    pub telegram: TelegramDouble,
    env: Vec<(String, String)>,
    ports: HashMap<&'static str, u16>,
    children: HashMap<Service, Child>,
    logs: tempfile::TempDir,
    spawned: usize,
    finished: bool,
}

impl Stack {
    /// A new installation on `backend` (nothing started yet), with `extra` settings. An
    /// `HERALD_NATS_URL` among them (a NATS server of the test's own) is where the stack's
    /// namespace lives.
    pub async fn new(backend: Backend, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::on_database(TestDatabase::new(backend).await?, extra).await
    }

    /// [`Stack::new`] on a database the test made (e.g. on a PostgreSQL server of its own).
    pub async fn on_database(db: TestDatabase, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let nats = match extra.iter().find(|(k, _)| *k == "HERALD_NATS_URL") {
            Some((_, url)) => TestNats::on(url),
            None => TestNats::new(),
        };
        let telegram = TelegramDouble::start(TOKEN).await?;
        let mut env: Vec<(String, String)> = vec![
            ("HERALD_DATABASE_URL".into(), db.url().to_string()),
            ("HERALD_NATS_URL".into(), nats.url.clone()),
            ("HERALD_NATS_PREFIX".into(), nats.prefix.clone()),
            ("HERALD_TELEGRAM_TOKEN".into(), TOKEN.into()),
            ("HERALD_TELEGRAM_API_URL".into(), telegram.api_url()),
            ("HERALD_LOG".into(), "info,herald=debug".into()),
            ("HERALD_LOG_FORMAT".into(), "pretty".into()),
        ];
        // Every service binds port 0 and the harness reads the port it got from its log
        // ("… listening addr=127.0.0.1:PORT"): no port is picked in advance, so parallel tests
        // cannot race for one.
        for name in SERVICES.iter().map(|(name, _)| name) {
            env.push((format!("HERALD_{name}_ADDR"), "127.0.0.1:0".into()));
        }
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        Ok(Self {
            db: Some(db),
            nats,
            telegram,
            env,
            ports: HashMap::new(),
            children: HashMap::new(),
            logs: tempfile::tempdir()?,
            spawned: 0,
            finished: false,
        })
    }

    /// Starts `herald all` and waits until every service is healthy and polling.
    pub async fn start_all(backend: Backend, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut stack = Self::new(backend, extra).await?;
        stack.spawn(Service::All).await?;
        Ok(stack)
    }

    /// Starts `herald all` on a database the test made.
    pub async fn start_all_on(db: TestDatabase, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut stack = Self::on_database(db, extra).await?;
        stack.spawn(Service::All).await?;
        Ok(stack)
    }

    /// Starts the four services as separate processes.
    pub async fn start_separate(backend: Backend, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let mut stack = Self::new(backend, extra).await?;
        // Migrate once first, as an operator would, so the services don't race for it.
        stack.herald(&["migrate"]).await?;
        for s in [
            Service::IngestApi,
            Service::Dispatcher,
            Service::CommandBot,
            Service::AdminApi,
        ] {
            stack.spawn(s).await?;
        }
        Ok(stack)
    }

    /// The environment the services run with.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// ingest-api's base URL.
    pub fn ingest_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports["INGEST"])
    }

    /// The base URL of one of the addresses the services listen on: `INGEST`, `ADMIN` (the
    /// public APIs), `INGEST_OPS`, `ADMIN_OPS` (their metrics and probes), `DISPATCHER`,
    /// `COMMAND_BOT` (health and metrics).
    pub fn ops_url(&self, which: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[which])
    }

    /// Where `GET /metrics` of a service (`INGEST`, `ADMIN`, `DISPATCHER`, `COMMAND_BOT`)
    /// is: ingest-api's and admin-api's operational address, the others' one address.
    pub fn metrics_url(&self, which: &str) -> String {
        let address = match which {
            "INGEST" => "INGEST_OPS",
            "ADMIN" => "ADMIN_OPS",
            other => other,
        };
        format!("{}/metrics", self.ops_url(address))
    }

    /// Starts one process and waits for it to be ready.
    pub async fn spawn(&mut self, service: Service) -> anyhow::Result<()> {
        let (name, args) = service.binary();
        self.spawned += 1;
        let log_path = self
            .logs
            .path()
            .join(format!("{:02}-{name}.log", self.spawned));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(binary_path(name)?)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("HERALD_CONFIG")
            .current_dir(self.logs.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.children.insert(service, child);
        let checks: &[&str] = match service {
            Service::All => &[
                "INGEST",
                "INGEST_OPS",
                "ADMIN",
                "ADMIN_OPS",
                "DISPATCHER",
                "COMMAND_BOT",
            ],
            Service::IngestApi => &["INGEST", "INGEST_OPS"],
            Service::Dispatcher | Service::DispatcherReplica(_) => &["DISPATCHER"],
            Service::CommandBot => &["COMMAND_BOT"],
            Service::AdminApi => &["ADMIN", "ADMIN_OPS"],
        };
        for which in checks {
            self.learn_port(service, which, &log_path).await?;
            self.wait_healthy(service, which).await?;
        }
        Ok(())
    }

    /// Waits for `service` to log the address it listens on for `which`, and remembers it.
    async fn learn_port(
        &mut self,
        service: Service,
        which: &'static str,
        log: &Path,
    ) -> anyhow::Result<()> {
        let marker = SERVICES
            .iter()
            .find(|(name, _)| *name == which)
            .map(|(_, marker)| *marker)
            .expect("a known service");
        let deadline = Instant::now() + WAIT;
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let port = text
                .lines()
                .filter(|l| l.contains(marker))
                .filter_map(|l| l.split("addr=").nth(1))
                .filter_map(|a| a.split_whitespace().next())
                .filter_map(|a| a.rsplit(':').next()?.parse::<u16>().ok())
                .next();
            if let Some(port) = port {
                self.ports.insert(which, port);
                return Ok(());
            }
            if let Some(child) = self.children.get_mut(&service)
                && let Some(status) = child.try_wait()?
            {
                bail!("{service:?} exited with {status}:\n{}", self.logs_text());
            }
            if Instant::now() > deadline {
                bail!(
                    "{service:?} did not say where it listens within {WAIT:?}:\n{}",
                    self.logs_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_healthy(&mut self, service: Service, which: &str) -> anyhow::Result<()> {
        let url = format!("{}/api/health", self.ops_url(which));
        let deadline = Instant::now() + WAIT;
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.children.get_mut(&service)
                && let Some(status) = child.try_wait()?
            {
                bail!("{service:?} exited with {status}:\n{}", self.logs_text());
            }
            if let Ok(r) = client.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{service:?} not healthy at {url} within {WAIT:?}:\n{}",
                    self.logs_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills a process with SIGKILL: no shutdown, no draining, like a crash.
    pub fn kill(&mut self, service: Service) -> anyhow::Result<()> {
        let mut child = self
            .children
            .remove(&service)
            .with_context(|| format!("{service:?} is not running"))?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Stops a process with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self, service: Service) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self
            .children
            .remove(&service)
            .with_context(|| format!("{service:?} is not running"))?;
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        Ok(child.wait()?)
    }

    /// The `herald` CLI with `args` and this stack's settings, not started yet: for a test
    /// that reads its exit status and stderr, changes a setting, or runs it beside the
    /// services. Its standard input is empty; stdout and stderr are piped.
    pub fn herald_command(&self, args: &[&str]) -> anyhow::Result<tokio::process::Command> {
        let mut command = tokio::process::Command::new(binary_path("herald")?);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("HERALD_CONFIG")
            .current_dir(self.logs.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(command)
    }

    /// Runs the `herald` CLI with this stack's settings and returns its stdout.
    pub async fn herald(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.herald_command(args)?.output().await?;
        if !out.status.success() {
            bail!(
                "herald {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// A new API key, made with `herald api-key create`.
    pub async fn api_key(&self) -> anyhow::Result<String> {
        let out = self
            .herald(&["api-key", "create", "--name", "e2e-engine"])
            .await?;
        let lines: Vec<&str> = out.lines().collect();
        anyhow::ensure!(lines.len() == 1, "api-key create printed {lines:?}");
        Ok(lines[0].to_string())
    }

    /// This stack's database URL.
    pub fn db_url(&self) -> &str {
        self.db
            .as_ref()
            .expect("database present until shutdown")
            .url()
    }

    /// A connection to this stack's database.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(self.db_url()).await?)
    }

    /// Posts a raw body to `POST /api/signals`; returns the status and the JSON answer.
    pub async fn post_signal(
        &self,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/signals", self.ingest_url()))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Ok((status, json))
    }

    /// Publishes raw bytes straight onto NATS as the Signal Engine may, with an optional
    /// `Nats-Msg-Id`, and waits for JetStream's ack.
    pub async fn publish_raw(
        &self,
        subject_suffix: &str,
        msg_id: Option<&str>,
        payload: Vec<u8>,
    ) -> anyhow::Result<()> {
        let client = self.nats.client().await?;
        let js = async_nats::jetstream::new(client);
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = msg_id {
            headers.insert("Nats-Msg-Id", id);
        }
        let subject = format!("{}.{subject_suffix}", self.nats.prefix);
        js.publish_with_headers(subject, headers, payload.into())
            .await?
            .await
            .context("JetStream did not ack the publish")?;
        Ok(())
    }

    /// Says /start then /subscribe as `user`, waiting for both answers.
    pub async fn subscribe(&self, user: &TestUser) -> anyhow::Result<()> {
        let before = self.telegram.sent_to(user.id).len();
        self.telegram.inject_message(user, "/start");
        self.telegram
            .wait_for_messages(user.id, before + 1, WAIT)
            .await?;
        self.telegram.inject_message(user, "/subscribe");
        self.telegram
            .wait_for_messages(user.id, before + 2, WAIT)
            .await?;
        Ok(())
    }

    /// Registers and subscribes traders with these Telegram ids straight in the database, as
    /// if each had said /start and /subscribe a minute ago (thousands of them would take
    /// minutes through the bot at Telegram's pace).
    pub async fn seed_subscribers(&self, ids: &[i64]) -> anyhow::Result<()> {
        let store = self.store().await?;
        let at = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
        for &id in ids {
            let user = store
                .register_user(
                    &herald_store::TelegramProfile {
                        telegram_id: id,
                        chat_id: id,
                        username: Some(format!("trader{id}")),
                        first_name: Some("Trader".into()),
                        last_name: None,
                        language_code: None,
                    },
                    at,
                )
                .await?
                .user;
            store.subscribe(user.id, at).await?;
        }
        store.close().await?;
        Ok(())
    }

    /// Says /start only.
    pub async fn start_only(&self, user: &TestUser) -> anyhow::Result<()> {
        let before = self.telegram.sent_to(user.id).len();
        self.telegram.inject_message(user, "/start");
        self.telegram
            .wait_for_messages(user.id, before + 1, WAIT)
            .await?;
        Ok(())
    }

    /// Every service's log so far.
    pub fn logs_text(&self) -> String {
        let mut out = String::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.logs.path())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.sort();
        for p in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
        {
            out.push_str(&format!("===== {} =====\n", file_name(p)));
            out.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
        out
    }

    /// Stops everything and removes the database and the NATS streams.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.finished = true;
        self.stop_children();
        self.nats.cleanup().await?;
        if let Some(db) = self.db.take() {
            db.cleanup().await?;
        }
        Ok(())
    }

    /// Like [`Stack::shutdown`], for a test that pointed the stack at a NATS server of its
    /// own and has stopped it.
    pub async fn shutdown_without_nats(mut self) -> anyhow::Result<()> {
        self.finished = true;
        self.stop_children();
        if let Some(db) = self.db.take() {
            db.cleanup().await?;
        }
        Ok(())
    }

    fn stop_children(&mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A stack dropped without [`Stack::shutdown`] belongs to a test that failed (panicked or
/// returned an error): show the services' logs, stop them, and remove the NATS streams (the
/// database removes itself).
impl Drop for Stack {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        eprintln!("{}", self.logs_text());
        self.stop_children();
        let nats = self.nats.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(nats.cleanup());
            }
        })
        .join();
    }
}

/// Waits until `check` returns `Some`, polling every 50 ms, up to `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A trader for tests: id, first name and a username derived from it.
pub fn trader(id: i64, first_name: &str) -> TestUser {
    TestUser {
        id,
        username: Some(format!("{}_{id}", first_name.to_lowercase())),
        first_name: first_name.into(),
        last_name: None,
        language_code: None,
    }
}

/// A valid 1H buy signal for `asset` with this `id`, generated now: what the broadcast tests
/// post.
pub fn buy_signal(id: uuid::Uuid, asset: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "kind": "buy", "asset": asset,
        "entry_price": "150", "target_price": "160", "stop_loss": "145",
        "timeframe": "1H", "confidence": 77, "generated_at": chrono::Utc::now().to_rfc3339(),
    })
}
