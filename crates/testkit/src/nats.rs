//! An isolated NATS namespace per test: a unique `HERALD_NATS_PREFIX` on the shared server,
//! and removal of that prefix's streams afterwards.

/// The NATS server tests use: `HERALD_TEST_NATS_URL`, else `nats://127.0.0.1:4222`.
pub fn nats_url() -> String {
    std::env::var("HERALD_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A unique prefix such as `t_3f9a1c2b7d4e`.
pub fn unique_prefix() -> String {
    format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A test's own NATS namespace.
#[derive(Debug, Clone)]
pub struct TestNats {
    /// The server URL.
    pub url: String,
    /// The unique prefix.
    pub prefix: String,
}

impl TestNats {
    /// A fresh prefix on the test server.
    pub fn new() -> Self {
        Self {
            url: nats_url(),
            prefix: unique_prefix(),
        }
    }

    /// Connects a plain client (to publish as the Signal Engine would, or to inspect).
    pub async fn client(&self) -> anyhow::Result<async_nats::Client> {
        Ok(async_nats::connect(&self.url).await?)
    }

    /// Deletes every stream whose name starts with this prefix.
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        use futures::StreamExt;
        let js = async_nats::jetstream::new(self.client().await?);
        let mut names = js.stream_names();
        let mut mine = Vec::new();
        while let Some(name) = names.next().await {
            let name = name?;
            if name.starts_with(&format!("{}_", self.prefix)) {
                mine.push(name);
            }
        }
        for name in mine {
            let _ = js.delete_stream(&name).await;
        }
        Ok(())
    }
}

impl Default for TestNats {
    fn default() -> Self {
        Self::new()
    }
}
