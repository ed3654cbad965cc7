//! The harness: [`Api`] runs admin-api as production does (`herald_admin_api::run`) and
//! calls it over HTTP; staff are made in the store and log in through the API.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use herald_auth::{JwtKeys, TotpSecret};
use herald_domain::StaffRole;
use herald_runtime::Settings;
use herald_store::{Store, TelegramProfile, User};
use herald_testkit::db::{Backend, TestDatabase};
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::TelegramDouble;
use secrecy::SecretString;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The JWT key the tests configure, so that they can also forge tokens with it.
pub const JWT_SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

const WAIT: Duration = Duration::from_secs(15);

/// Generates one `#[tokio::test]` per backend for each case: `sqlite::<case>` and
/// `postgres::<case>`. A case is `async fn(Api) -> anyhow::Result<()>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::common::run(herald_testkit::db::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::common::run(herald_testkit::db::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Runs `case` against a fresh admin-api on `backend`, then cleans everything up.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Api) -> Fut,
    Fut: Future<Output = anyhow::Result<Api>>,
{
    let api = Api::start(backend).await.expect("admin-api starts");
    match case(api).await {
        Ok(api) => api.stop().await.expect("admin-api stops"),
        Err(e) => panic!("{} case failed: {e:#}", backend.name()),
    }
}

/// admin-api running in this test.
pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The metrics and probes' `http://127.0.0.1:PORT`.
    pub ops_url: String,
    /// The same database.
    pub store: Store,
    /// The Bot API double login codes go to.
    pub telegram: TelegramDouble,
    /// The service's JWT key.
    pub jwt: JwtKeys,
    client: reqwest::Client,
    nats: TestNats,
    db: TestDatabase,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A staff member made for a test.
pub struct StaffMember {
    /// The user.
    pub user: User,
    /// Their authenticator.
    pub totp: TotpSecret,
}

impl Api {
    /// Starts admin-api on `backend` with settings changed by `tweak`.
    pub async fn start_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> anyhow::Result<Self> {
        let db = TestDatabase::new(backend).await?;
        let nats = TestNats::new();
        let telegram = TelegramDouble::start("4242:admin-test").await?;
        let mut settings = Settings {
            database_url: db.url().to_string(),
            nats_url: nats.url.clone(),
            nats_prefix: nats.prefix.clone(),
            telegram_token: Some(SecretString::from(telegram.token().to_string())),
            telegram_api_url: telegram.api_url(),
            telegram_rate_limit: 0,
            ..Settings::default()
        };
        settings.admin.jwt_secret = Some(SecretString::from(JWT_SECRET));
        tweak(&mut settings);
        settings.validate()?;
        // Migrated before the service starts, so the test can write to it at once.
        let store = Store::open(db.url()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let ops_url = format!("http://{}", ops.local_addr()?);
        let task = tokio::spawn(herald_admin_api::run(
            settings,
            listener,
            ops,
            shutdown.clone(),
        ));
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let healthy = client
                .get(format!("{url}/api/health"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if healthy {
                break;
            }
            anyhow::ensure!(!task.is_finished(), "admin-api stopped while starting");
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "admin-api did not become healthy within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            url,
            ops_url,
            store,
            telegram,
            jwt: JwtKeys::new(JWT_SECRET.as_bytes())?,
            client,
            nats,
            db,
            shutdown,
            task,
        })
    }

    /// Starts admin-api on `backend` with the tests' settings.
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, |_| {}).await
    }

    /// Stops the service and removes its database and streams.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task).await???;
        self.store.close().await?;
        self.telegram.shutdown().await;
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }

    /// A trader who sent `/start`.
    pub async fn trader(&self, telegram_id: i64, username: &str) -> anyhow::Result<User> {
        Ok(self
            .store
            .register_user(
                &TelegramProfile {
                    telegram_id,
                    chat_id: telegram_id,
                    username: Some(username.to_string()),
                    first_name: Some(username.to_string()),
                    last_name: None,
                    language_code: None,
                },
                Utc::now(),
            )
            .await?
            .user)
    }

    /// A staff member with `role` and an enrolled authenticator.
    pub async fn staff(&self, telegram_id: i64, role: StaffRole) -> anyhow::Result<StaffMember> {
        self.trader(telegram_id, &format!("staff{telegram_id}"))
            .await?;
        let user = self
            .store
            .set_staff_role(telegram_id, Some(role), chrono::Utc::now())
            .await?
            .expect("registered");
        let totp = TotpSecret::generate();
        self.store
            .set_totp_secret(user.id, &totp.to_base32())
            .await?;
        Ok(StaffMember { user, totp })
    }

    /// A valid token for `member`, signed as admin-api signs them (skipping the login).
    pub fn token(&self, member: &StaffMember) -> String {
        let role = member.user.staff_role.expect("staff");
        self.jwt
            .issue(
                member.user.id,
                role,
                Utc::now(),
                chrono::Duration::minutes(15),
            )
            .expect("issue")
            .token
    }

    /// Logs `member` in through the API: asks for a code, reads it from their chat, and
    /// verifies it with their authenticator's current code. Returns the token.
    pub async fn login(&self, member: &StaffMember) -> anyhow::Result<String> {
        let telegram_id = member.user.telegram_id;
        let before = self.telegram.sent_to(telegram_id).len();
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/login",
                None,
                Some(serde_json::json!({ "telegram_id": telegram_id })),
            )
            .await?;
        anyhow::ensure!(status == 202, "login: {status} {body}");
        let code = self.code_sent(telegram_id, before).await?;
        let (status, body) = self
            .call(
                "POST",
                "/api/auth/verify",
                None,
                Some(serde_json::json!({
                    "telegram_id": telegram_id,
                    "code": code,
                    "totp": member.totp.code_at(Utc::now().timestamp()),
                })),
            )
            .await?;
        anyhow::ensure!(status == 200, "verify: {status} {body}");
        Ok(body["token"].as_str().expect("token").to_string())
    }

    /// The login code in the message after the first `before` ones to `chat_id`.
    pub async fn code_sent(&self, chat_id: i64, before: usize) -> anyhow::Result<String> {
        let sent = self
            .telegram
            .wait_for_messages(chat_id, before + 1, WAIT)
            .await?;
        let text = &sent[before].text;
        let code: String = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 6)
            .ok_or_else(|| anyhow::anyhow!("no code in {text:?}"))?
            .to_string();
        Ok(code)
    }

    /// Calls `method path` with `token` (as a bearer) and `body` (as JSON); returns the
    /// status and the JSON answer (`Null` for an empty one).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method.parse()?, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{method} {path}: {status} not JSON ({e}): {text}"))?
        };
        Ok((status, json))
    }

    /// `GET path` with `token`.
    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<(u16, Value)> {
        self.call("GET", path, Some(token), None).await
    }

    /// A raw request builder, for headers the helpers do not set.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }
}

/// Asserts an error answer: `status`, the stable `code`, and a message containing `says`.
pub fn expect_error(got: &(u16, Value), status: u16, code: &str, says: &str) -> anyhow::Result<()> {
    let (got_status, body) = got;
    anyhow::ensure!(
        *got_status == status
            && body["error"]["code"] == code
            && body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
        "expected {status} {code} saying {says:?}, got {got_status} {body}"
    );
    Ok(())
}
