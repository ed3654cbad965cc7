//! A dispatcher context on a fresh SQLite database, a private NATS prefix and the Telegram
//! double, with helpers to queue and claim deliveries.

#![allow(dead_code)] // each test file uses its own part

use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_bus::{Bus, StreamSettings, Subjects};
use herald_dispatcher::{DispatcherContext, Policy};
use herald_domain::{DeliveryStatus, Signal, parse_signal};
use herald_store::{Claim, QueuedSignal, Store, TelegramProfile, User};
use herald_telegram::{Limiter, LimiterConfig, Sender};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::TelegramDouble;

pub const TOKEN: &str = "5555:dispatcher-test";

pub struct Setup {
    pub ctx: DispatcherContext,
    pub double: TelegramDouble,
    pub db: TestDatabase,
    pub nats: TestNats,
}

pub async fn setup(policy: Policy) -> anyhow::Result<Setup> {
    let db = TestDatabase::sqlite().await?;
    let nats = TestNats::new();
    let double = TelegramDouble::start(TOKEN).await?;
    let store = Store::connect(db.url()).await?;
    store.migrate().await?;
    let bus = Bus::connect(
        &nats.url,
        Subjects::new(&nats.prefix),
        StreamSettings::default(),
    )
    .await?;
    let bot = herald_telegram::bot(TOKEN, &double.api_url())?;
    let sender = Sender::new(bot, Arc::new(Limiter::new(LimiterConfig::unlimited())));
    Ok(Setup {
        ctx: DispatcherContext::new(store, bus, sender, policy),
        double,
        db,
        nats,
    })
}

/// The JSON of a valid signal of `kind` generated at `at`.
pub fn signal_json(kind: &str, at: DateTime<Utc>) -> serde_json::Value {
    match kind {
        "buy" => serde_json::json!({
            "kind": "buy", "asset": "BTC/USD", "entry_price": "100", "target_price": "110",
            "stop_loss": "95", "timeframe": "5m", "confidence": 80,
            "generated_at": at.to_rfc3339(),
        }),
        _ => serde_json::json!({
            "kind": kind, "asset": "BTC/USD", "confidence": 80,
            "generated_at": at.to_rfc3339(),
        }),
    }
}

impl Setup {
    /// A trader registered and subscribed a second ago, with chat id `chat_id`.
    pub async fn trader(&self, chat_id: i64) -> anyhow::Result<User> {
        self.trader_since(chat_id, Utc::now() - chrono::TimeDelta::seconds(1))
            .await
    }

    /// A trader registered and subscribed at `now`, with chat id `chat_id`.
    pub async fn trader_since(&self, chat_id: i64, now: DateTime<Utc>) -> anyhow::Result<User> {
        let store = &self.ctx.store;
        let user = store
            .register_user(
                &TelegramProfile {
                    telegram_id: chat_id,
                    chat_id,
                    username: None,
                    first_name: Some("T".into()),
                    last_name: None,
                    language_code: None,
                },
                now,
            )
            .await?
            .user;
        store.subscribe(user.id, now).await?;
        Ok(user)
    }

    /// A stored signal (due by `deadline`), a registered trader and one queued delivery,
    /// claimed; returns the claim.
    pub async fn claim_with_deadline(
        &self,
        chat_id: i64,
        deadline: DateTime<Utc>,
    ) -> anyhow::Result<Claim> {
        let store = &self.ctx.store;
        let now = Utc::now();
        let body = signal_json("buy", now);
        let signal: Signal = parse_signal(body.to_string().as_bytes(), now).expect("valid");
        store.insert_signal(&signal, now, deadline).await?;
        self.trader(chat_id).await?;
        let recipients = store.recipients(&signal, now).await?;
        let queued = QueuedSignal::new(&signal, Some(deadline));
        store.create_deliveries(&queued, &recipients, now).await?;
        Ok(self.next(now).await?.expect("a due delivery"))
    }

    pub async fn claim(&self, chat_id: i64) -> anyhow::Result<Claim> {
        self.claim_with_deadline(chat_id, Utc::now() + chrono::TimeDelta::hours(1))
            .await
    }

    /// The next due delivery at `at`, claimed.
    pub async fn next(&self, at: DateTime<Utc>) -> anyhow::Result<Option<Claim>> {
        Ok(self
            .ctx
            .store
            .claim_deliveries(1, at, self.ctx.lease(), chrono::TimeDelta::zero())
            .await?
            .pop())
    }

    pub async fn status(&self, claim: &Claim) -> anyhow::Result<(DeliveryStatus, u32)> {
        let d = self
            .ctx
            .store
            .delivery(claim.delivery_id)
            .await?
            .expect("row");
        Ok((d.status, d.attempts))
    }

    pub async fn finish(self) -> anyhow::Result<()> {
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}
