//! ingest-api's OpenAPI document is generated from its code
//! (`herald_ingest_api::openapi_document`) and checked in as `proto/ingest-api.openapi.json`:
//! these tests fail when the checked-in file is not what the code generates (drift), or when
//! the running service serves anything else at `GET /api/openapi.json`, or answers a request
//! in a way the document does not list: each status with its error code, and its body valid
//! against the document's schema for that answer. (`scripts/fuzz-api` goes further, with
//! schemathesis; `crates/bus/tests/asyncapi.rs` checks that every error code in the source
//! is documented.)
//!
//! To refresh the file after changing what ingest-api answers or says:
//! `UPDATE_PROTO=1 cargo test -p herald-ingest-api --test openapi`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use chrono::{SecondsFormat, Utc};
use herald_domain::Scope;
use herald_runtime::Settings;
use herald_store::{NewApiKey, Store};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const REFRESH: &str =
    "run `UPDATE_PROTO=1 cargo test -p herald-ingest-api --test openapi` to refresh it";
const WAIT: Duration = Duration::from_secs(15);

fn document_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/ingest-api.openapi.json")
}

/// The text the checked-in file must hold: pretty JSON and a final newline.
fn file_text(document: &Value) -> String {
    serde_json::to_string_pretty(document).expect("a document serialises") + "\n"
}

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let path = document_path();
    let expected = file_text(&herald_ingest_api::openapi_document());
    let committed = std::fs::read_to_string(&path).ok();
    if committed.as_deref() == Some(expected.as_str()) {
        return;
    }
    if std::env::var_os("UPDATE_PROTO").is_some_and(|v| v == "1") {
        std::fs::write(&path, &expected)
            .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("refreshed proto/ingest-api.openapi.json");
        return;
    }
    let why = match committed {
        None => "is missing".to_string(),
        Some(text) => first_difference(&text, &expected),
    };
    panic!(
        "proto/ingest-api.openapi.json {why}: it is not what ingest-api's code generates; {REFRESH}"
    );
}

/// "differs at line N: checked in `…`, generated `…`".
fn first_difference(committed: &str, generated: &str) -> String {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for line in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return "differs only in line endings or the final newline".into(),
            (a, b) => {
                return format!(
                    "differs at line {line}: checked in `{}`, generated `{}`",
                    a.unwrap_or("<end of file>").trim(),
                    b.unwrap_or("<end of file>").trim()
                );
            }
        }
    }
    unreachable!("the loop returns")
}

/// `/` and `~` escaped for a JSON pointer.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Every error code pinned (by `enum` or `const`) under a `code` property in `value`.
fn codes(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "code" {
                    out.extend(v.get("const").and_then(Value::as_str).map(String::from));
                    for c in v
                        .get("enum")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        out.extend(c.as_str().map(String::from));
                    }
                }
                codes(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| codes(v, out)),
        _ => {}
    }
}

/// Holds real answers to the document.
struct Contract {
    document: Value,
}

impl Contract {
    /// Checks that `answer`, from `method path`, is one the document lists: its status (and
    /// error code) among the operation's responses, its body valid against that response's
    /// schema. The document's own references resolve, since the schema is checked as part of
    /// the whole document.
    fn holds(&self, method: &str, path: &str, answer: &Answer) -> anyhow::Result<()> {
        let pointer = format!(
            "/paths/{}/{}/responses/{}",
            escape(path),
            method.to_ascii_lowercase(),
            answer.status
        );
        let response = self.document.pointer(&pointer).with_context(|| {
            format!("{method} {path} answered {answer:?}, a status the document does not list")
        })?;
        let Some(code) = answer.body["error"]["code"].as_str() else {
            return self.valid(
                &format!("{pointer}/content/application~1json/schema"),
                answer,
            );
        };
        let mut listed = BTreeSet::new();
        codes(response, &mut listed);
        ensure!(
            listed.contains(code),
            "{method} {path} answered {} with the code {code:?}, which the document lists only \
             {listed:?} for",
            answer.status
        );
        self.valid(
            &format!("{pointer}/content/application~1json/schema"),
            answer,
        )
    }

    fn valid(&self, schema_pointer: &str, answer: &Answer) -> anyhow::Result<()> {
        let mut root = self.document.clone();
        root["$ref"] = Value::String(format!("#{schema_pointer}"));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .with_context(|| format!("the document's schema at {schema_pointer}"))?;
        let problems: Vec<String> = validator
            .iter_errors(&answer.body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        ensure!(
            problems.is_empty(),
            "{answer:?} does not match {schema_pointer}: {problems:?}"
        );
        Ok(())
    }
}

/// One answer: its status, `Retry-After` and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Answer> {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = response.json().await.context("a JSON answer")?;
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// ingest-api running in this test.
struct Ingest {
    url: String,
    /// The metrics and probes.
    ops_url: String,
    store: Store,
    nats: TestNats,
    db: TestDatabase,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start() -> anyhow::Result<Ingest> {
    let db = TestDatabase::sqlite().await?;
    let nats = TestNats::new();
    let settings = Settings {
        database_url: db.url().to_string(),
        nats_url: nats.url.clone(),
        nats_prefix: nats.prefix.clone(),
        ingest_max_body_bytes: 1024,
        ..Settings::default()
    };
    settings.validate()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let ops_url = format!("http://{}", ops.local_addr()?);
    let task = tokio::spawn(herald_ingest_api::run(
        settings,
        listener,
        ops,
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    while !reqwest::get(format!("{ops_url}/readyz"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "ingest-api did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = Store::connect(db.url()).await?;
    Ok(Ingest {
        url,
        ops_url,
        store,
        nats,
        db,
        shutdown,
        task,
    })
}

impl Ingest {
    async fn key(&self, scopes: &[Scope], rate_limit: Option<u32>) -> anyhow::Result<String> {
        let generated = herald_auth::generate();
        let mut key = NewApiKey::ingest("openapi", &generated.hash, &generated.prefix);
        key.scopes = scopes.to_vec();
        key.rate_limit = rate_limit;
        self.store.create_api_key(key, Utc::now()).await?;
        Ok(herald_auth::reveal(&generated).to_string())
    }

    /// `POST /api/signals` with `key` (if any), `content_type` (if any) and `body`.
    async fn post(
        &self,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<Answer> {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/signals", self.url))
            .body(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        answer(request.send().await?).await
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.store.close().await?;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}

fn signal(id: Uuid) -> Value {
    json!({
        "id": id, "kind": "buy", "asset": "BTC/USD", "entry_price": "45250",
        "target_price": "46500", "stop_loss": "44500", "timeframe": "1H", "confidence": 85,
        "generated_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_api_serves_its_document_and_answers_as_it_says() -> anyhow::Result<()> {
    let ingest = start().await?;
    let result = check_answers(&ingest).await;
    ingest.stop().await?;
    result
}

async fn check_answers(ingest: &Ingest) -> anyhow::Result<()> {
    // Served without a key, and the same as the checked-in file (and the code's).
    let served = answer(reqwest::get(format!("{}/api/openapi.json", ingest.url)).await?).await?;
    ensure!(served.status == 200, "{served:?}");
    let checked_in: Value = serde_json::from_str(&std::fs::read_to_string(document_path())?)?;
    ensure!(
        served.body == checked_in,
        "GET /api/openapi.json is not proto/ingest-api.openapi.json; {REFRESH}"
    );
    ensure!(served.body == herald_ingest_api::openapi_document());
    let contract = Contract {
        document: served.body.clone(),
    };
    contract.holds("GET", "/api/openapi.json", &served)?;
    // The probes on the operational address, as the document's servers say; the public
    // port keeps only /api/health, and answers the others 404.
    for probe in ["/livez", "/readyz", "/api/health"] {
        let got = answer(reqwest::get(format!("{}{probe}", ingest.ops_url)).await?).await?;
        contract.holds("GET", probe, &got)?;
    }
    let health = answer(reqwest::get(format!("{}/api/health", ingest.url)).await?).await?;
    contract.holds("GET", "/api/health", &health)?;
    for path in ["/metrics", "/livez", "/readyz"] {
        let got = answer(reqwest::get(format!("{}{path}", ingest.url)).await?).await?;
        ensure!(
            got.status == 404 && got.body["error"]["code"] == "not_found",
            "GET {path} on the public port: {got:?}"
        );
        let servers = &served.body["paths"][path]["servers"];
        ensure!(
            servers[0]["description"]
                .as_str()
                .is_some_and(|d| d.contains("HERALD_INGEST_OPS_ADDR")),
            "{path} is documented on the operational address: {servers}"
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", ingest.ops_url)).await?;
    ensure!(metrics.status() == 200, "GET /metrics on the ops port");
    let text = metrics.text().await?;
    ensure!(
        text.contains("# TYPE herald_ingest_signals_total counter"),
        "{text}"
    );

    let writer = ingest.key(&[Scope::SignalsWrite], None).await?;
    let reader = ingest.key(&[Scope::StatsRead], None).await?;
    let limited = ingest.key(&[Scope::SignalsWrite], Some(1)).await?;
    let json = Some("application/json");
    let id = Uuid::now_v7();
    let mut invalid = signal(Uuid::now_v7());
    invalid["stop_loss"] = json!("45300");
    invalid["confidence"] = json!(120);
    let cases: Vec<(&str, Answer, u16)> = vec![
        (
            "a new signal",
            ingest
                .post(Some(&writer), json, signal(id).to_string())
                .await?,
            202,
        ),
        (
            "the same again",
            ingest
                .post(Some(&writer), json, signal(id).to_string())
                .await?,
            200,
        ),
        ("no key", ingest.post(None, json, "{}").await?, 401),
        (
            "an unknown key",
            ingest.post(Some("hk_nothing"), json, "{}").await?,
            401,
        ),
        (
            "a key without signals:write",
            ingest.post(Some(&reader), json, "{}").await?,
            403,
        ),
        (
            "text",
            ingest.post(Some(&writer), Some("text/plain"), "{}").await?,
            415,
        ),
        (
            "a body over the limit",
            ingest.post(Some(&writer), json, "x".repeat(2048)).await?,
            413,
        ),
        (
            "broken JSON",
            ingest.post(Some(&writer), json, "{\"kind\":").await?,
            400,
        ),
        (
            "a signal breaking two rules",
            ingest
                .post(Some(&writer), json, invalid.to_string())
                .await?,
            422,
        ),
        (
            "the rate-limited key's first",
            ingest.post(Some(&limited), json, "[]").await?,
            400,
        ),
        (
            "the rate-limited key's second at once",
            ingest.post(Some(&limited), json, "[]").await?,
            429,
        ),
    ];
    for (what, got, status) in &cases {
        ensure!(
            got.status == *status,
            "{what}: expected {status}, got {got:?}"
        );
        contract
            .holds("POST", "/api/signals", got)
            .with_context(|| what.to_string())?;
    }
    let limited_answer = &cases.last().unwrap().1;
    ensure!(
        limited_answer.retry_after.is_some(),
        "429 without Retry-After: {limited_answer:?}"
    );
    let headers =
        &contract.document["paths"]["/api/signals"]["post"]["responses"]["429"]["headers"];
    ensure!(
        headers["Retry-After"].is_object(),
        "Retry-After is undocumented"
    );

    // What no operation answers is in the description.
    let description = contract.document["info"]["description"]
        .as_str()
        .unwrap_or_default();
    let nothing = answer(reqwest::get(format!("{}/api/nothing", ingest.url)).await?).await?;
    let wrong = answer(
        reqwest::Client::new()
            .delete(format!("{}/api/signals", ingest.url))
            .send()
            .await?,
    )
    .await?;
    for (got, status, code) in [
        (nothing, 404, "not_found"),
        (wrong, 405, "method_not_allowed"),
    ] {
        ensure!(
            got.status == status && got.body["error"]["code"] == code,
            "{got:?}"
        );
        ensure!(
            description.contains(&format!("{status} `{code}`")),
            "the document's description does not say {status} `{code}`"
        );
        contract.valid("/components/schemas/ErrorBody", &got)?;
    }
    Ok(())
}
