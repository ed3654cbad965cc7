//! `deliver()` called directly, against a real database, real NATS and the Telegram double:
//! every answer Telegram can give ends in the right recorded state and the right instruction
//! for the consumer loop.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_bus::{Bus, StreamSettings, Subjects};
use herald_dispatcher::deliver::{Outcome, deliver};
use herald_dispatcher::{DispatcherContext, Policy};
use herald_domain::{DeliveryJobV1, DeliveryStatus, SignalFormat, parse_signal};
use herald_store::{Store, TelegramProfile};
use herald_telegram::{Limiter, LimiterConfig, Sender};
use herald_testkit::db::TestDatabase;
use herald_testkit::nats::TestNats;
use herald_testkit::telegram::{Fault, TelegramDouble};

const TOKEN: &str = "5555:dispatcher-test";

struct Setup {
    ctx: DispatcherContext,
    double: TelegramDouble,
    db: TestDatabase,
    nats: TestNats,
}

async fn setup(policy: Policy) -> anyhow::Result<Setup> {
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

impl Setup {
    /// A stored signal, a registered trader and one pending delivery; returns its job.
    async fn job(&self, chat_id: i64) -> anyhow::Result<DeliveryJobV1> {
        let store = &self.ctx.store;
        let now = Utc::now();
        let body = serde_json::json!({
            "kind": "buy", "asset": "BTC/USD", "entry_price": "100", "target_price": "110",
            "stop_loss": "95", "timeframe": "5m", "confidence": 80,
            "generated_at": now.to_rfc3339(),
        });
        let signal = parse_signal(body.to_string().as_bytes(), now).expect("valid");
        store.insert_signal(&signal, now).await?;
        let user = store
            .register_user(
                &TelegramProfile {
                    telegram_id: chat_id,
                    chat_id,
                    username: None,
                    first_name: Some("T".into()),
                    last_name: None,
                },
                now,
            )
            .await?
            .user;
        store.subscribe(user.id, now).await?;
        let recipients = store.recipients(&signal, now).await?;
        store.create_deliveries(signal.id, &recipients, now).await?;
        let pending = store.unsent_deliveries(signal.id).await?;
        Ok(DeliveryJobV1 {
            delivery_id: pending[0].delivery_id,
            signal_id: signal.id.0,
            user_id: user.id,
            chat_id,
            format: SignalFormat::Compact,
        })
    }

    async fn status(&self, job: &DeliveryJobV1) -> anyhow::Result<(DeliveryStatus, u32)> {
        let d = self
            .ctx
            .store
            .delivery(job.delivery_id)
            .await?
            .expect("row");
        Ok((d.status, d.attempts))
    }

    async fn finish(self) -> anyhow::Result<()> {
        self.nats.cleanup().await?;
        self.db.cleanup().await
    }
}

#[tokio::test]
async fn a_send_is_recorded_with_telegrams_message_id() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s.job(10).await?;
    let outcome = deliver(&s.ctx, &job).await;
    let sent = s.double.sent_to(10);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        outcome,
        Outcome::Sent {
            message_id: sent[0].message_id
        }
    );
    assert!(
        sent[0].text.starts_with("🟢 BUY BTC/USD @ $100"),
        "{}",
        sent[0].text
    );
    let d = s.ctx.store.delivery(job.delivery_id).await?.expect("row");
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert_eq!(d.telegram_message_id, Some(i64::from(sent[0].message_id)));

    // The same job again (a redelivery after the ack was lost) sends nothing.
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Done(DeliveryStatus::Sent)
    );
    assert_eq!(s.double.sent_to(10).len(), 1);
    s.finish().await
}

#[tokio::test]
async fn too_many_requests_is_retried_after_telegrams_delay_and_pauses_sending()
-> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s.job(11).await?;
    s.double
        .script_faults(11, [Fault::TooManyRequests { retry_after: 3 }]);
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Retry(Duration::from_secs(3))
    );
    assert_eq!(
        s.status(&job).await?,
        (DeliveryStatus::Pending, 0),
        "a 429 does not use up an attempt"
    );
    assert!(
        s.ctx.sender.budget().paused_until().is_some(),
        "every send pauses"
    );
    s.finish().await
}

#[tokio::test]
async fn a_blocked_bot_marks_the_trader_inactive() -> anyhow::Result<()> {
    for (chat, fault) in [
        (12, Fault::BotBlocked),
        (13, Fault::UserDeactivated),
        (14, Fault::ChatNotFound),
    ] {
        let s = setup(Policy::default()).await?;
        let job = s.job(chat).await?;
        s.double.script_faults(chat, [fault]);
        assert_eq!(
            deliver(&s.ctx, &job).await,
            Outcome::Done(DeliveryStatus::Blocked),
            "{fault:?}"
        );
        assert_eq!(s.status(&job).await?.0, DeliveryStatus::Blocked);
        let user = s.ctx.store.user_by_telegram_id(chat).await?.expect("user");
        assert!(!user.is_active, "{fault:?}");
        s.finish().await?;
    }
    Ok(())
}

#[tokio::test]
async fn server_errors_retry_with_backoff_then_fail() -> anyhow::Result<()> {
    // teloxide sleeps 10 s after any 5xx; one attempt of two keeps this test short.
    let policy = Policy {
        max_attempts: 2,
        ..Policy::default()
    };
    let s = setup(policy).await?;
    let job = s.job(15).await?;
    s.double.set_fault(15, Fault::ServerError(502));
    match deliver(&s.ctx, &job).await {
        Outcome::Retry(delay) => assert!(delay >= Duration::from_secs(1)),
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(s.status(&job).await?, (DeliveryStatus::Pending, 1));
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Done(DeliveryStatus::Failed)
    );
    let d = s.ctx.store.delivery(job.delivery_id).await?.expect("row");
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Failed, 2));
    assert!(d.last_error.unwrap_or_default().contains("Bad Gateway"));
    s.finish().await
}

#[tokio::test]
async fn an_old_delivery_expires_instead_of_sending() -> anyhow::Result<()> {
    let s = setup(Policy {
        max_age: Duration::ZERO,
        ..Policy::default()
    })
    .await?;
    let job = s.job(16).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Done(DeliveryStatus::Expired)
    );
    assert_eq!(s.status(&job).await?.0, DeliveryStatus::Expired);
    assert_eq!(s.double.attempts_to(16), 0);
    s.finish().await
}

#[tokio::test]
async fn a_job_for_an_unknown_delivery_is_dropped_without_sending() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let mut job = s.job(17).await?;
    job.delivery_id = uuid::Uuid::new_v4();
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Done(DeliveryStatus::Failed)
    );
    assert_eq!(s.double.attempts_to(17), 0);
    s.finish().await
}

#[tokio::test]
async fn repeated_429s_do_not_use_up_the_attempts() -> anyhow::Result<()> {
    let s = setup(Policy {
        max_attempts: 1,
        ..Policy::default()
    })
    .await?;
    let job = s.job(18).await?;
    s.double.script_faults(
        18,
        [
            Fault::TooManyRequests { retry_after: 0 },
            Fault::TooManyRequests { retry_after: 0 },
            Fault::TooManyRequests { retry_after: 0 },
        ],
    );
    for _ in 0..3 {
        assert!(matches!(deliver(&s.ctx, &job).await, Outcome::Retry(_)));
    }
    assert!(matches!(deliver(&s.ctx, &job).await, Outcome::Sent { .. }));
    assert_eq!(s.status(&job).await?, (DeliveryStatus::Sent, 1));
    s.finish().await
}

#[tokio::test]
async fn a_second_copy_of_a_job_in_flight_does_not_send() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s.job(19).await?;
    // The first copy holds the delivery (as if mid-send).
    s.ctx
        .store
        .begin_attempts(&[job.delivery_id], Utc::now(), chrono::TimeDelta::zero())
        .await?;
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Retry(s.ctx.policy.ack_wait)
    );
    assert_eq!(s.double.attempts_to(19), 0);
    s.finish().await
}
