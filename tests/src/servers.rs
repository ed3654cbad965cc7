//! Servers of a test's own, for tests that kill, restart or reconfigure them (the shared NATS
//! and PostgreSQL are never touched): `nats-server` processes, alone or as a JetStream
//! cluster, and a PostgreSQL cluster made with `initdb`. Each lives in a temporary directory
//! and is stopped and removed when dropped, also when the test fails.
//!
//! The binaries come from Debian's `nats-server` and `postgresql` packages, which
//! `scripts/ensure-services` installs: a missing one is an error, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

use crate::{WAIT, eventually};

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The nats-server binary: `HERALD_TEST_NATS_SERVER`, else on the PATH, else Debian's
/// `/usr/sbin/nats-server` (off a normal user's PATH).
pub fn nats_server_binary() -> anyhow::Result<PathBuf> {
    if let Ok(path) = std::env::var("HERALD_TEST_NATS_SERVER") {
        return Ok(path.into());
    }
    let on_path = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("nats-server"))
                .find(|f| f.exists())
        })
        .unwrap_or_else(|| "/usr/sbin/nats-server".into());
    if !on_path.exists() {
        bail!("nats-server is not installed: run scripts/ensure-services (Debian: nats-server)");
    }
    Ok(on_path)
}

/// One nats-server process with JetStream, configured by a file in its own directory; the
/// store survives [`NatsNode::kill`] and [`NatsNode::start`] again.
pub struct NatsNode {
    /// `n1`, `n2`, …: the server name JetStream reports as a stream's leader.
    pub name: String,
    /// The client port.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsNode {
    /// A single server on a free port; `extra` is appended to its configuration (e.g. an
    /// `authorization { … }` block). Waits until it answers.
    pub async fn single(extra: &str) -> anyhow::Result<Self> {
        let mut node = Self::configure("n1", free_port()?, extra)?;
        node.start()?;
        node.ready().await?;
        Ok(node)
    }

    fn configure(name: &str, port: u16, extra: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("herald-test-nats-")
            .tempdir()?;
        let store = dir.path().join("store");
        let config = format!(
            "server_name: {name}\nlisten: 127.0.0.1:{port}\n\
             jetstream {{ store_dir: {store:?} }}\n{extra}\n"
        );
        std::fs::write(dir.path().join("nats.conf"), config)?;
        Ok(Self {
            name: name.into(),
            port,
            dir,
            child: None,
        })
    }

    /// Starts the server (again), on the same port and store.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("nats.log"))?;
        let child = Command::new(nats_server_binary()?)
            .arg("-c")
            .arg(self.dir.path().join("nats.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting nats-server")?;
        self.child = Some(child);
        Ok(())
    }

    /// Kills the server with SIGKILL, like a crashed machine's process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Waits until it accepts clients (a connection without credentials counts: a server
    /// that refuses it is up).
    pub async fn ready(&self) -> anyhow::Result<()> {
        let addr = format!("127.0.0.1:{}", self.port);
        eventually(
            &format!("nats-server {} to listen", self.name),
            WAIT,
            || {
                let addr = addr.clone();
                async move { Ok(tokio::net::TcpStream::connect(addr).await.ok().map(|_| ())) }
            },
        )
        .await
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for NatsNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A JetStream cluster of nats-server processes on free ports, routed to each other.
pub struct NatsCluster {
    /// The nodes, `n1` first.
    pub nodes: Vec<NatsNode>,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until JetStream can keep a stream on all of them.
    pub async fn start(size: usize) -> anyhow::Result<Self> {
        let routes: Vec<u16> = (0..size).map(|_| free_port()).collect::<Result<_, _>>()?;
        let route_list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let cluster = format!(
                "cluster {{ name: herald_test\n listen: 127.0.0.1:{route}\n routes: [{route_list}] }}"
            );
            let mut node = NatsNode::configure(&format!("n{}", i + 1), free_port()?, &cluster)?;
            node.start()?;
            nodes.push(node);
        }
        let cluster = Self { nodes };
        for node in &cluster.nodes {
            node.ready().await?;
        }
        cluster.wait_for_jetstream(size).await?;
        Ok(cluster)
    }

    /// Every node's URL, comma-separated, as `HERALD_NATS_URL` takes them.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(NatsNode::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The node named `name`.
    pub fn node_mut(&mut self, name: &str) -> Option<&mut NatsNode> {
        self.nodes.iter_mut().find(|n| n.name == name)
    }

    /// Waits until a stream of `replicas` copies can be created (the meta leader is elected
    /// and enough peers are known), then removes the probe.
    async fn wait_for_jetstream(&self, replicas: usize) -> anyhow::Result<()> {
        let servers: Vec<String> = self.nodes.iter().map(NatsNode::url).collect();
        let client = async_nats::connect(servers).await?;
        let js = async_nats::jetstream::new(client);
        let name = format!("probe_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        eventually("the JetStream cluster to form", WAIT * 2, || {
            let (js, name) = (js.clone(), name.clone());
            async move {
                let config = async_nats::jetstream::stream::Config {
                    name: name.clone(),
                    subjects: vec![format!("{name}.>")],
                    num_replicas: replicas,
                    ..Default::default()
                };
                Ok(js.create_stream(config).await.ok().map(|_| ()))
            }
        })
        .await
        .with_context(|| self.logs())?;
        let _ = js.delete_stream(&name).await;
        Ok(())
    }

    /// Every node's log.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("===== nats-server {} =====\n{}", n.name, n.log()))
            .collect()
    }
}

/// A PostgreSQL cluster of the test's own (Debian's `initdb` and `pg_ctl`), trust auth for
/// `postgres` on 127.0.0.1 and a free port, its data in a temporary directory. When the
/// tests run as root, the server runs as the `postgres` user (`initdb` refuses root).
pub struct PrivatePostgres {
    /// The port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_root: bool,
}

impl PrivatePostgres {
    /// Creates the cluster and starts it.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let as_root = running_as_root()?;
        let dir = tempfile::Builder::new()
            .prefix("herald-test-pg-")
            .tempdir()?;
        let pg = Self {
            port: free_port()?,
            dir,
            bin,
            as_root,
        };
        if as_root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()?;
            anyhow::ensure!(status.success(), "chown to postgres failed: {status}");
        }
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        )?;
        pg.pg_ctl_start()?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one of PostgreSQL's programs, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let path = self.bin.join(program);
        let mut command = if self.as_root {
            // Debian keeps runuser under /usr/sbin, off a normal user's PATH.
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .unwrap_or("runuser");
            let mut c = Command::new(runuser);
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data().display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        )
    }

    /// Stops the server at once (`immediate`: no clean shutdown, like a crash), keeping its
    /// data.
    pub fn stop(&self) -> anyhow::Result<()> {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
    }

    /// Starts it again after [`PrivatePostgres::stop`], on the same port and data.
    pub fn start_again(&self) -> anyhow::Result<()> {
        self.pg_ctl_start()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn running_as_root() -> anyhow::Result<bool> {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .context("running id -u")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Debian's newest `/usr/lib/postgresql/<version>/bin`, or `HERALD_TEST_PG_BIN`.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("HERALD_TEST_PG_BIN") {
        return Ok(dir.into());
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let v = e.file_name().to_str()?.parse().ok()?;
                    Some((v, e.path().join("bin")))
                })
                .filter(|(_, bin)| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).with_context(|| {
        "PostgreSQL's initdb is not installed: run scripts/ensure-services --postgres \
         (Debian: postgresql)"
    })
}
