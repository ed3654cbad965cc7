//! `deliver()` called directly on claims from the real queue, against a real database, real
//! NATS and the Telegram double: every answer Telegram can give ends in the right recorded
//! state, and a retried delivery comes back from the queue when it is due.

use std::time::Duration;

use chrono::Utc;
use herald_dispatcher::Policy;
use herald_dispatcher::deliver::{Outcome, deliver};
use herald_domain::DeliveryStatus;
use herald_testkit::telegram::Fault;

mod common;

use common::setup;

#[tokio::test]
async fn a_send_is_recorded_with_telegrams_message_id() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s.claim(10).await?;
    let outcome = deliver(&s.ctx, &job).await;
    let sent = s.double.sent_to(10);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        outcome,
        Outcome::Sent {
            message_id: sent[0].message_id
        }
    );
    // The trader's format comes from their delivery row: the default, detailed.
    assert!(
        sent[0].text.starts_with("🚨 TRADING SIGNAL: BUY BTC/USD"),
        "{}",
        sent[0].text
    );
    let d = s.ctx.store.delivery(job.delivery_id).await?.expect("row");
    assert_eq!(d.status, DeliveryStatus::Sent);
    assert_eq!(d.telegram_message_id, Some(i64::from(sent[0].message_id)));

    // Nothing is left to claim.
    assert!(
        s.next(Utc::now() + chrono::TimeDelta::hours(1))
            .await?
            .is_none()
    );
    assert_eq!(s.double.sent_to(10).len(), 1);
    s.finish().await
}

#[tokio::test]
async fn too_many_requests_is_retried_after_telegrams_delay_and_pauses_sending()
-> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s.claim(11).await?;
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
        let job = s.claim(chat).await?;
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
    let job = s.claim(15).await?;
    s.double.set_fault(15, Fault::ServerError(502));
    match deliver(&s.ctx, &job).await {
        Outcome::Retry(delay) => assert!(delay >= Duration::from_secs(1)),
        other => panic!("expected a retry, got {other:?}"),
    }
    assert_eq!(s.status(&job).await?, (DeliveryStatus::Pending, 1));
    let job = s
        .next(Utc::now() + chrono::TimeDelta::minutes(1))
        .await?
        .expect("due again");
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
async fn a_delivery_past_its_signals_deadline_expires_instead_of_sending() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let job = s
        .claim_with_deadline(16, Utc::now() - chrono::TimeDelta::seconds(1))
        .await?;
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Done(DeliveryStatus::Expired)
    );
    assert_eq!(s.status(&job).await?.0, DeliveryStatus::Expired);
    assert_eq!(s.double.attempts_to(16), 0);
    s.finish().await
}

#[tokio::test]
async fn repeated_429s_do_not_use_up_the_attempts() -> anyhow::Result<()> {
    let s = setup(Policy {
        max_attempts: 1,
        ..Policy::default()
    })
    .await?;
    let mut job = s.claim(18).await?;
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
        job = s.next(Utc::now()).await?.expect("due again at once");
    }
    assert!(matches!(deliver(&s.ctx, &job).await, Outcome::Sent { .. }));
    assert_eq!(s.status(&job).await?, (DeliveryStatus::Sent, 1));
    s.finish().await
}

#[tokio::test]
async fn a_send_that_times_out_is_unknown_retried_once_then_failed() -> anyhow::Result<()> {
    let mut s = setup(Policy::default()).await?;
    // A client that gives up after 300 ms, against a double that answers after 1 s: the
    // message may well have arrived, nobody can tell.
    let client = herald_telegram::teloxide::net::default_reqwest_settings()
        .timeout(Duration::from_millis(300))
        .build()?;
    let bot = herald_telegram::teloxide::Bot::with_client(common::TOKEN, client)
        .set_api_url(s.double.api_url().parse()?);
    s.ctx.sender = herald_telegram::Sender::new(
        bot,
        std::sync::Arc::new(herald_telegram::Limiter::new(
            herald_telegram::LimiterConfig::unlimited(),
        )),
    );
    s.double.set_fault(20, Fault::Delay(Duration::from_secs(1)));
    let job = s.claim(20).await?;
    assert_eq!(
        deliver(&s.ctx, &job).await,
        Outcome::Retry(s.ctx.policy.unknown_retry)
    );
    let d = s.ctx.store.delivery(job.delivery_id).await?.expect("row");
    assert_eq!((d.status, d.unknown_sends), (DeliveryStatus::Unknown, 1));
    assert!(s.next(Utc::now()).await?.is_none(), "not before its delay");

    let again = s
        .next(Utc::now() + chrono::TimeDelta::from_std(s.ctx.policy.unknown_retry)?)
        .await?
        .expect("due after the delay");
    assert_eq!(again.unknown_sends, 1);
    assert_eq!(
        deliver(&s.ctx, &again).await,
        Outcome::Done(DeliveryStatus::Failed)
    );
    let d = s.ctx.store.delivery(job.delivery_id).await?.expect("row");
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert!(
        d.last_error
            .unwrap_or_default()
            .starts_with(herald_store::UNKNOWN_TWICE)
    );
    assert_eq!(
        s.double.attempts_to(20),
        2,
        "sent twice at most, never a third time"
    );
    s.finish().await
}
