//! The dispatcher's parts together, in process, against the real database queue, real NATS
//! and the Telegram double: a fan-out that resumes after a crash, stale signals on the NATS
//! path, one trader's messages in order through the send loop, and the reconciler's sweeps.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use herald_bus::Raw;
use herald_dispatcher::Policy;
use herald_dispatcher::fanout::{SignalOutcome, handle_signal};
use herald_dispatcher::reconciler::{FanoutWatch, sweep};
use herald_dispatcher::send_loop::run_sends;
use herald_domain::{DeliveryStatus, parse_signal};
use herald_store::QueuedSignal;
use herald_testkit::telegram::Fault;
use tokio_util::sync::CancellationToken;

mod common;

use common::{setup, signal_json};

const WAIT: Duration = Duration::from_secs(30);

fn raw(body: &serde_json::Value) -> Raw {
    Raw {
        subject: "test.signals.v1.BTC-USD".into(),
        payload: Bytes::from(body.to_string()),
    }
}

#[tokio::test]
async fn an_interrupted_fan_out_resumes_where_it_stopped() -> anyhow::Result<()> {
    let s = setup(Policy {
        fanout_page: 3,
        ..Policy::default()
    })
    .await?;
    let mut traders = Vec::new();
    for chat in 100..110 {
        traders.push(s.trader(chat).await?);
    }
    let now = Utc::now();
    let mut body = signal_json("buy", now);
    body["id"] = serde_json::json!(uuid::Uuid::now_v7());
    let signal = parse_signal(body.to_string().as_bytes(), now).expect("valid");
    // A dispatcher stored the signal and committed one page, then died.
    let store = &s.ctx.store;
    let deadline = signal.deadline(s.ctx.policy.signal_ttl);
    store.insert_signal(&signal, now, deadline).await?;
    let page = store.recipients_page(&signal, now, None, 3).await?;
    let queued = QueuedSignal::new(&signal, Some(deadline));
    store
        .record_fanout_page(&queued, &page.recipients, page.last_scanned, false, now)
        .await?;

    // The signal comes back: the fan-out picks up after the first page.
    match handle_signal(&s.ctx, &raw(&body), now).await {
        SignalOutcome::Dispatched { queued, pages } => {
            assert_eq!((queued, pages), (7, 3), "the rest, in pages of 3");
        }
        other => panic!("expected a dispatch, got {other:?}"),
    }
    let deliveries = store.deliveries_for_signal(signal.id).await?;
    let mut users: Vec<_> = deliveries.iter().map(|d| d.user_id).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), 10, "every trader once");
    assert!(store.fanout(signal.id).await?.unwrap().done);
    // Once more (a redelivery after the ack was lost): nothing new.
    assert!(matches!(
        handle_signal(&s.ctx, &raw(&body), now).await,
        SignalOutcome::AlreadyDispatched
    ));
    assert_eq!(store.deliveries_for_signal(signal.id).await?.len(), 10);
    s.finish().await
}

#[tokio::test]
async fn a_stale_signal_on_nats_is_dead_lettered_unless_it_was_accepted_fresh() -> anyhow::Result<()>
{
    let s = setup(Policy::default()).await?;
    let now = Utc::now();
    s.trader_since(200, now - TimeDelta::hours(1)).await?;
    let stale = signal_json("buy", now - TimeDelta::minutes(6)); // 5m bar: stale
    match handle_signal(&s.ctx, &raw(&stale), now).await {
        SignalOutcome::DeadLettered(rejection) => {
            let reason = rejection.to_string();
            assert!(
                reason.contains("expired at") && reason.contains("5m"),
                "{reason}"
            );
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    let js = jetstream::new(s.nats.client().await?);
    let mut dlq = js
        .get_stream(s.ctx.bus.subjects().dead_letter_stream())
        .await?;
    assert_eq!(dlq.info().await?.state.messages, 1);

    // Arrived fresh (its JetStream publish time), handled late: stored, its deliveries expire
    // at the deadline instead.
    let late = signal_json("buy", now - TimeDelta::minutes(6));
    match handle_signal(&s.ctx, &raw(&late), now - TimeDelta::minutes(3)).await {
        SignalOutcome::Dispatched { queued, .. } => assert_eq!(queued, 1),
        other => panic!("expected a dispatch, got {other:?}"),
    }
    let claim = s.next(Utc::now()).await?.expect("queued");
    assert_eq!(
        herald_dispatcher::deliver::deliver(&s.ctx, &claim).await,
        herald_dispatcher::deliver::Outcome::Done(DeliveryStatus::Expired)
    );
    assert_eq!(s.double.attempts_to(200), 0);
    s.finish().await
}

#[tokio::test]
async fn one_traders_buy_then_close_arrive_in_order_even_when_the_buy_first_fails()
-> anyhow::Result<()> {
    let s = setup(Policy {
        base_backoff: Duration::from_millis(100),
        order_wait: Duration::from_millis(200),
        ..Policy::default()
    })
    .await?;
    let (slow, quick) = (300, 301);
    s.trader(slow).await?;
    s.trader(quick).await?;
    // The slow trader's first send meets a 502 (teloxide then waits 10 s before giving up).
    s.double.script_faults(slow, [Fault::ServerError(502)]);
    let common::Setup {
        ctx,
        double,
        db,
        nats,
    } = s;
    let ctx = Arc::new(ctx);
    let stop = CancellationToken::new();
    let sends = tokio::spawn(run_sends(ctx.clone(), stop.clone()));

    let now = Utc::now();
    let buy = signal_json("buy", now - TimeDelta::seconds(2));
    assert!(matches!(
        handle_signal(&ctx, &raw(&buy), now).await,
        SignalOutcome::Dispatched { .. }
    ));
    // Once the buy's first send is under way, the close follows.
    double
        .wait_until(|d| d.attempts_to(slow) >= 1, WAIT)
        .await?;
    let close = signal_json("close", now - TimeDelta::seconds(1));
    assert!(matches!(
        handle_signal(&ctx, &raw(&close), Utc::now()).await,
        SignalOutcome::Dispatched { .. }
    ));
    // The other trader is not held up by the slow one.
    let quick_got = double.wait_for_messages(quick, 2, WAIT).await?;
    assert!(quick_got[0].text.contains("BUY") && quick_got[1].text.contains("CLOSE"));
    let slow_got = double.wait_for_messages(slow, 2, WAIT).await?;
    assert!(slow_got[0].text.contains("BUY"), "{}", slow_got[0].text);
    assert!(slow_got[1].text.contains("CLOSE"), "{}", slow_got[1].text);
    assert_eq!(
        double.attempts_to(slow),
        3,
        "one failed send, then one each"
    );

    stop.cancel();
    sends.await??;
    nats.cleanup().await?;
    db.cleanup().await
}

#[tokio::test]
async fn the_reconciler_ends_what_died_on_the_way() -> anyhow::Result<()> {
    let s = setup(Policy::default()).await?;
    let store = &s.ctx.store;
    // A claim whose replica died: its lease ran out.
    let claim = s.claim(400).await?;
    let later = Utc::now() + TimeDelta::minutes(5);
    // A signal past its deadline with a delivery still waiting.
    let now = Utc::now();
    let body = signal_json("alert", now);
    let alert = parse_signal(body.to_string().as_bytes(), now).expect("valid");
    store
        .insert_signal(&alert, now, now + TimeDelta::minutes(1))
        .await?;
    let recipients = store.recipients(&alert, now).await?;
    store
        .create_deliveries(
            &QueuedSignal::new(&alert, Some(now + TimeDelta::minutes(1))),
            &recipients,
            now,
        )
        .await?;
    // A signal whose fan-out never finished and whose message is gone.
    let orphan_body = signal_json("close", now);
    let orphan = parse_signal(orphan_body.to_string().as_bytes(), now).expect("valid");
    store
        .insert_signal(&orphan, now, now + TimeDelta::hours(1))
        .await?;

    let swept = sweep(&s.ctx, &mut FanoutWatch::default(), now, later).await?;
    assert_eq!(swept.reclaimed, 1);
    assert_eq!(swept.expired, 1);
    assert!(swept.republished >= 1, "{swept:?}");
    let d = store.delivery(claim.delivery_id).await?.unwrap();
    assert_eq!((d.status, d.unknown_sends), (DeliveryStatus::Unknown, 1));
    let counts = store.signal_delivery_counts(alert.id).await?;
    assert_eq!(counts.expired, 1);
    // The orphan is back on the bus, under its own id (a copy still there would be dropped).
    let js = jetstream::new(s.nats.client().await?);
    let mut signals = js.get_stream(s.ctx.bus.subjects().signals_stream()).await?;
    assert!(signals.info().await?.state.messages >= 1);
    s.finish().await
}
