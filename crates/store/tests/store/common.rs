//! Shared test equipment: a migrated store per test on either backend, and signals.

use std::future::Future;

use chrono::{DateTime, Duration, TimeZone, Utc};
use herald_domain::{Signal, SignalKind, parse_signal};
use herald_store::{Recipient, Store, TelegramProfile, User};
use herald_testkit::db::{Backend, TestDatabase};
use uuid::Uuid;

/// Generates one `#[tokio::test]` per backend for each case: `sqlite::<case>` and
/// `postgres::<case>`. A case is `async fn(Store) -> anyhow::Result<()>` in the enclosing
/// module.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(herald_testkit::db::Backend::Sqlite, super::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    crate::common::run(herald_testkit::db::Backend::Postgres, super::$case).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Runs `case` against a fresh, migrated database on `backend`, then removes the database.
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let db = TestDatabase::new(backend).await.expect("test database");
    let store = Store::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    let outcome = case(store.clone()).await;
    store.close().await.expect("close pool");
    db.cleanup().await.expect("cleanup");
    if let Err(e) = outcome {
        panic!("{} case failed: {e:#}", backend.name());
    }
}

/// A fixed, whole-hour instant (12:00 UTC) so notification-hour windows are predictable.
pub fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 14, 12, 0, 0).unwrap()
}

/// A valid signal of `kind` with `confidence`, generated a minute before `now`.
pub fn signal(kind: SignalKind, confidence: u8, now: DateTime<Utc>) -> Signal {
    let prices = match kind {
        SignalKind::Buy => {
            r#""entry_price": "45250.50", "target_price": "47000", "stop_loss": "44000.125", "timeframe": "4H","#
        }
        SignalKind::Sell => {
            r#""entry_price": "45250.50", "target_price": "44000", "stop_loss": "47000", "timeframe": "1H","#
        }
        SignalKind::Close => r#""entry_price": "46000.1","#,
        SignalKind::Alert => "",
    };
    let json = format!(
        r#"{{"id": "{id}", "kind": "{kind}", "asset": "BTC/USD", {prices}
            "confidence": {confidence}, "generated_at": "{at}",
            "source_model": "momentum-v3", "notes": ["first", "second"]}}"#,
        id = Uuid::now_v7(),
        at = (now - Duration::minutes(1)).to_rfc3339(),
    );
    parse_signal(json.as_bytes(), now).unwrap_or_else(|e| panic!("test signal rejected: {e}"))
}

/// A Telegram profile for user number `n`.
pub fn profile(n: i64) -> TelegramProfile {
    TelegramProfile {
        telegram_id: 1_000_000 + n,
        chat_id: 2_000_000 + n,
        username: Some(format!("trader{n}")),
        first_name: Some(format!("First{n}")),
        last_name: None,
        language_code: None,
    }
}

/// Registers user `n` and subscribes them to signals.
pub async fn subscriber(store: &Store, n: i64, now: DateTime<Utc>) -> anyhow::Result<User> {
    let user = store.register_user(&profile(n), now).await?.user;
    store.subscribe(user.id, now).await?;
    Ok(user)
}

/// The user ids of `recipients`, sorted.
pub fn ids(recipients: &[Recipient]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = recipients.iter().map(|r| r.user_id).collect();
    ids.sort();
    ids
}
