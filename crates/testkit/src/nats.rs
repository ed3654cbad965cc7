//! An isolated NATS namespace per test: a unique `HERALD_NATS_PREFIX` on the shared server,
//! and removal of that prefix's streams afterwards.

/// The NATS server tests use: `HERALD_TEST_NATS_URL`, else `nats://127.0.0.1:4222`.
pub fn nats_url() -> String {
    std::env::var("HERALD_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A unique prefix such as `t_1795000000_3f9a1c2b`: the birth time (Unix seconds) lets a
/// later test sweep the streams of a test process that was killed before its cleanup.
pub fn unique_prefix() -> String {
    format!(
        "t_{}_{}",
        unix_now(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// How old another test's streams must be before [`TestNats::cleanup`] removes them too.
const STALE_AFTER_SECS: u64 = 6 * 3600;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Whether `stream` belongs to a test prefix born before `cutoff` (a key-value bucket's
/// stream is named `KV_<bucket>`).
fn is_stale(stream: &str, cutoff: u64) -> bool {
    let stream = stream.strip_prefix("KV_").unwrap_or(stream);
    let mut parts = stream.splitn(3, '_');
    matches!(
        (parts.next(), parts.next().and_then(|t| t.parse::<u64>().ok())),
        (Some("t"), Some(born)) if born < cutoff
    )
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

    /// A fresh prefix on the server(s) at `url` (comma-separated for a cluster), e.g. a
    /// nats-server of the test's own.
    pub fn on(url: &str) -> Self {
        Self {
            url: url.to_string(),
            prefix: unique_prefix(),
        }
    }

    /// Connects a plain client (to publish as the Signal Engine would, or to inspect).
    pub async fn client(&self) -> anyhow::Result<async_nats::Client> {
        let servers: Vec<&str> = self.url.split(',').map(str::trim).collect();
        Ok(async_nats::connect(servers).await?)
    }

    /// Deletes every stream whose name starts with this prefix (key-value buckets too: their
    /// streams are `KV_<prefix>_…`), and those of test prefixes more than 6 hours old (left
    /// by killed test processes).
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        use futures::StreamExt;
        let js = async_nats::jetstream::new(self.client().await?);
        let mut names = js.stream_names();
        let mut mine = Vec::new();
        while let Some(name) = names.next().await {
            let name = name?;
            let bucket = name.strip_prefix("KV_").unwrap_or(&name);
            if bucket.starts_with(&format!("{}_", self.prefix))
                || is_stale(&name, unix_now().saturating_sub(STALE_AFTER_SECS))
            {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_test_streams_are_stale() {
        assert!(is_stale("t_1000_abcd1234_signals", 2000));
        assert!(!is_stale("t_3000_abcd1234_signals", 2000));
        assert!(!is_stale("herald_signals", 2000));
        assert!(!is_stale("t_notatime_signals", 2000));
        assert!(is_stale("KV_t_1000_abcd1234_budget", 2000));
        assert!(!is_stale("KV_herald_budget", 2000));
        let fresh = unique_prefix();
        assert!(!is_stale(&format!("{fresh}_signals"), unix_now() - 10));
    }
}
