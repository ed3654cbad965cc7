//! NATS with authentication: against a nats-server of the test's own whose configuration
//! requires a user and password or an nkey, the right credentials connect and publish, and
//! wrong or missing ones stop the service at start with a message naming the setting to fix,
//! never the secret.

use std::time::Duration;

use chrono::Utc;
use herald_bus::{Bus, NatsOptions, StreamSettings, Subjects};
use herald_testkit::db::Backend;
use herald_tests::servers::NatsNode;
use herald_tests::{Service, Stack, WAIT, bin_dir};
use secrecy::SecretString;
use serde_json::json;

const PASSWORD: &str = "s3cret-Pa55word";

/// A server that knows the user `herald` by `PASSWORD` and another by `nkey`'s public key.
async fn nats_with_auth(nkey: &nkeys::KeyPair) -> anyhow::Result<NatsNode> {
    NatsNode::single(&format!(
        "authorization {{ users = [\n  {{ user: herald, password: \"{PASSWORD}\" }}\n  \
         {{ nkey: {} }}\n] }}",
        nkey.public_key()
    ))
    .await
}

/// Runs `herald ingest-api` with the stack's settings changed by `env`, expects it to fail at
/// start, and returns what it said.
async fn fails_at_start(stack: &Stack, env: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(bin_dir().join("herald"));
    command
        .arg("ingest-api")
        .envs(stack.env().iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("HERALD_CONFIG")
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let out = tokio::time::timeout(WAIT, command.output()).await??;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(!out.status.success(), "it started:\n{said}");
    Ok(said)
}

#[tokio::test(flavor = "multi_thread")]
async fn services_authenticate_and_wrong_credentials_stop_them_at_start() -> anyhow::Result<()> {
    let nkey = nkeys::KeyPair::new_user();
    let nats = nats_with_auth(&nkey).await?;
    let port = nats.port;
    let good = format!("nats://herald:{PASSWORD}@127.0.0.1:{port}");
    let mut stack = Stack::new(Backend::Sqlite, &[("HERALD_NATS_URL", &good)]).await?;
    stack.herald(&["migrate"]).await?;

    // The right user and password: ingest-api starts and JetStream stores a signal.
    stack.spawn(Service::IngestApi).await?;
    let key = stack.api_key().await?;
    let signal = json!({
        "kind": "alert", "asset": "BTC/USD", "confidence": 60,
        "generated_at": Utc::now().to_rfc3339(), "notes": ["authenticated"]
    });
    let (status, body) = stack.post_signal(Some(&key), signal.to_string()).await?;
    assert_eq!(status, 202, "{body}");
    stack.kill(Service::IngestApi)?;

    // A wrong password names the setting it came from, and not the password.
    let wrong = format!("nats://herald:not-{PASSWORD}@127.0.0.1:{port}");
    let said = fails_at_start(&stack, &[("HERALD_NATS_URL", &wrong)]).await?;
    assert!(
        said.contains("refused the credentials from HERALD_NATS_URL"),
        "{said}"
    );
    assert!(said.contains("nats://***@127.0.0.1"), "{said}");
    assert!(!said.contains(PASSWORD), "the password leaked:\n{said}");

    // No credentials at all: it says where to give them.
    let bare = format!("nats://127.0.0.1:{port}");
    let said = fails_at_start(&stack, &[("HERALD_NATS_URL", &bare)]).await?;
    assert!(
        said.contains("the server wants credentials and Herald gave none"),
        "{said}"
    );
    assert!(said.contains("HERALD_NATS_NKEY_SEED"), "{said}");

    // An nkey seed the server does not know.
    let stranger = nkeys::KeyPair::new_user().seed()?;
    let said = fails_at_start(
        &stack,
        &[
            ("HERALD_NATS_URL", &bare),
            ("HERALD_NATS_NKEY_SEED", &stranger),
        ],
    )
    .await?;
    assert!(
        said.contains("refused the credentials from HERALD_NATS_NKEY_SEED"),
        "{said}"
    );
    assert!(!said.contains(&stranger), "the seed leaked:\n{said}");

    // Nothing the services logged holds the password.
    assert!(!stack.logs_text().contains(PASSWORD));
    drop(nats);
    stack.shutdown_without_nats().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_nkey_seed_connects_and_publishes() -> anyhow::Result<()> {
    let nkey = nkeys::KeyPair::new_user();
    let nats = nats_with_auth(&nkey).await?;
    let subjects = Subjects::new(herald_testkit::nats::unique_prefix());
    let options = NatsOptions {
        url: nats.url(),
        nkey_seed: Some(SecretString::from(nkey.seed()?)),
        ..NatsOptions::default()
    };
    let bus = Bus::connect(options, subjects, StreamSettings::default()).await?;
    let signal = herald_domain::parse_signal(
        json!({
            "kind": "alert", "asset": "ETH/USD", "confidence": 60,
            "generated_at": Utc::now().to_rfc3339(),
        })
        .to_string()
        .as_bytes(),
        Utc::now(),
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // The streams of this prefix go with the server.
    let stored =
        tokio::time::timeout(Duration::from_secs(10), bus.publish_signal(&signal)).await??;
    assert!(!stored.duplicate);
    assert!(bus.is_connected());
    Ok(())
}
