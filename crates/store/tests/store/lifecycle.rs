//! Positions and their outcomes, the queue's other jobs (edits, destinations, reports), and
//! the reports' schedule.

use anyhow::ensure;
use chrono::{Duration, Timelike, Utc};
use herald_domain::{
    DeliveryStatus, JobKind, Position, Preferences, ReportFrequency, Signal, SignalFormat,
    SignalKind, judge_close, parse_signal,
};
use herald_store::{BotChat, CloseStored, NewDestination, QueuedSignal, Recipient, Store};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, signal, subscriber};

on_both_backends!(
    a_close_and_its_outcome_are_stored_together_once,
    edits_are_queued_once_per_copy_and_ordered_after_it,
    destinations_get_their_jobs_and_stop_when_the_bot_leaves,
    a_report_is_scheduled_once_per_period,
    performance_rows_are_the_traders_own_or_everyones,
);

/// A close of `position` with exit price 46000.1, generated after it.
fn close_of(position: &Signal) -> Signal {
    let json = format!(
        r#"{{"id": "{id}", "kind": "close", "asset": "BTC/USD", "entry_price": "46000.1",
            "confidence": 90, "generated_at": "{at}", "closes_signal_id": "{of}"}}"#,
        id = Uuid::now_v7(),
        at = (position.generated_at + Duration::seconds(30)).to_rfc3339(),
        of = position.id.0,
    );
    parse_signal(
        json.as_bytes(),
        position.generated_at + Duration::minutes(1),
    )
    .expect("a close")
}

async fn stored_close(
    store: &Store,
    close: &Signal,
) -> anyhow::Result<(CloseStored, herald_domain::PositionOutcome)> {
    let position = store
        .position(close.closes_signal_id.expect("names one"))
        .await?;
    let outcome = judge_close(close, &position)?.expect("an outcome");
    let received = close.generated_at + Duration::seconds(1);
    let stored = store
        .insert_close(
            close,
            received,
            received + Duration::hours(1),
            &outcome,
            received,
        )
        .await?;
    Ok((stored, outcome))
}

async fn a_close_and_its_outcome_are_stored_together_once(store: Store) -> anyhow::Result<()> {
    let buy = signal(SignalKind::Buy, 80, noon());
    store
        .insert_signal(&buy, noon(), noon() + Duration::hours(1))
        .await?;
    ensure!(matches!(
        store.position(buy.id).await?,
        Position::Known {
            closed_by: None,
            ..
        }
    ));
    let close = close_of(&buy);
    let (stored, outcome) = stored_close(&store, &close).await?;
    ensure!(stored == CloseStored::Stored { new: true }, "{stored:?}");
    // Exact: (46000.1 - 45250.50) / 45250.50 * 100.
    ensure!(
        outcome.return_pct.map(|r| r.to_string()).as_deref()
            == Some("1.656556281146064684368128529"),
        "{outcome:?}"
    );
    let read = store.outcome_of_close(close.id).await?.expect("stored");
    ensure!(read == outcome, "{read:?} != {outcome:?}");
    // The same close again: stored, not new, not refused.
    let again = store
        .insert_close(
            &close,
            noon(),
            noon() + Duration::hours(1),
            &outcome,
            noon(),
        )
        .await?;
    ensure!(again == CloseStored::Stored { new: false }, "{again:?}");
    // Another close of the same position: refused, and not stored either.
    let other = close_of(&buy);
    let mut other_outcome = outcome.clone();
    other_outcome.close_signal_id = other.id;
    let refused = store
        .insert_close(
            &other,
            noon(),
            noon() + Duration::hours(1),
            &other_outcome,
            noon(),
        )
        .await?;
    ensure!(
        refused == CloseStored::AlreadyClosed { by: close.id },
        "{refused:?}"
    );
    ensure!(
        !store.signal_exists(other.id).await?,
        "the refused close was stored"
    );
    ensure!(
        matches!(store.position(buy.id).await?, Position::Known { closed_by: Some(by), .. } if by == close.id)
    );
    Ok(())
}

async fn edits_are_queued_once_per_copy_and_ordered_after_it(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    let (a, b, c) = (
        subscriber(&store, 1, now).await?,
        subscriber(&store, 2, now).await?,
        subscriber(&store, 3, now).await?,
    );
    let buy = signal(SignalKind::Buy, 80, now);
    store
        .insert_signal(&buy, now, now + Duration::hours(1))
        .await?;
    let queued_buy = QueuedSignal::new(&buy, Some(now + Duration::hours(1)));
    let recipients: Vec<Recipient> = [&a, &b, &c]
        .iter()
        .map(|u| Recipient::new(u.id, u.chat_id, SignalFormat::Compact))
        .collect();
    // The whole fan-out in one page, finished.
    store
        .record_fanout_page(&queued_buy, &recipients, None, true, now)
        .await?;
    let copies = store.deliveries_for_signal(buy.id).await?;
    // A's copy sent; B's failed; C's still waiting.
    let copy_of = |user: Uuid| {
        copies
            .iter()
            .find(|d| d.user_id == Some(user))
            .expect("a copy")
    };
    store.record_sent(copy_of(a.id).id, 501, now).await?;
    store
        .record_final(copy_of(b.id).id, DeliveryStatus::Failed, Some("x"), now)
        .await?;

    let mut close = close_of(&buy);
    close.generated_at = now;
    let (_, outcome) = stored_close(&store, &close).await?;
    let _ = outcome;
    let queued_close = QueuedSignal::new(&close, Some(now + Duration::hours(1)));
    let edits = store
        .record_outcome_edits(&queued_close, buy.id, now)
        .await?;
    ensure!(
        edits == 2,
        "A's sent copy and C's waiting one, not B's failed one: {edits}"
    );
    ensure!(
        store
            .record_outcome_edits(&queued_close, buy.id, now)
            .await?
            == 0,
        "redo"
    );
    let jobs = store.deliveries_for_signal(close.id).await?;
    ensure!(jobs.iter().all(|d| d.job == JobKind::Outcome && d.silent));
    // The copy a close answers: A's, sent as message 501.
    let a_copy = store
        .copy_of(buy.id, Some(a.id), None)
        .await?
        .expect("A's copy");
    ensure!(a_copy.message_id == Some(501) && a_copy.status == DeliveryStatus::Sent);
    ensure!(store.copy_of(buy.id, None, None).await?.is_none());
    // C's edit comes after C's copy (a chat's claims are sent one after another, in order),
    // although edits go ahead of buys in the queue.
    let claims = store
        .claim_deliveries(10, now, Duration::seconds(30), Duration::seconds(1))
        .await?;
    let for_c: Vec<JobKind> = claims
        .iter()
        .filter(|cl| cl.user_id == Some(c.id))
        .map(|cl| cl.job)
        .collect();
    ensure!(
        for_c == [JobKind::Signal, JobKind::Outcome],
        "C's copy goes before its edit: {for_c:?}"
    );
    ensure!(
        claims
            .iter()
            .any(|cl| cl.user_id == Some(a.id) && cl.job == JobKind::Outcome)
    );
    Ok(())
}

async fn destinations_get_their_jobs_and_stop_when_the_bot_leaves(
    store: Store,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let new =
        |chat_id: i64, thread_id: Option<i32>, kinds: &[SignalKind], min: u8| NewDestination {
            chat_id,
            thread_id,
            name: format!("chat {chat_id}"),
            kinds: kinds.iter().copied().collect(),
            assets: Default::default(),
            min_confidence: min,
            format: SignalFormat::Detailed,
            language: herald_domain::Language::Es,
            created_by: "test".into(),
        };
    let channel = store
        .add_destination(&new(-1001, None, &SignalKind::ALL, 70), now)
        .await?;
    let topic = store
        .add_destination(&new(-1002, Some(7), &[SignalKind::Alert], 0), now)
        .await?;
    // The same chat and topic twice: refused; another topic of it: fine.
    ensure!(
        store
            .add_destination(&new(-1002, Some(7), &[SignalKind::Buy], 0), now)
            .await
            .is_err()
    );
    store
        .add_destination(&new(-1002, Some(8), &[SignalKind::Buy], 0), now)
        .await?;

    let buy = signal(SignalKind::Buy, 80, now);
    let wanted = store.destinations_for(&buy).await?;
    let ids: Vec<Uuid> = wanted.iter().map(|d| d.id).collect();
    ensure!(
        ids.len() == 2 && ids.contains(&channel.id) && !ids.contains(&topic.id),
        "{wanted:?}"
    );
    store
        .insert_signal(&buy, now, now + Duration::hours(1))
        .await?;
    let queued = QueuedSignal::new(&buy, Some(now + Duration::hours(1)));
    ensure!(store.record_destination_jobs(&queued, &wanted, now).await? == 2);
    ensure!(
        store.record_destination_jobs(&queued, &wanted, now).await? == 0,
        "redo"
    );
    let jobs = store.deliveries_for_signal(buy.id).await?;
    ensure!(
        jobs.iter()
            .all(|d| d.user_id.is_none() && d.destination_id.is_some())
    );

    // The bot is removed from the channel: it stops, its waiting job is skipped; back, it
    // resumes.
    let mut chat = BotChat {
        chat_id: -1001,
        kind: "channel".into(),
        title: Some("Signals".into()),
        is_forum: false,
        status: "kicked".into(),
        changed_by: Some(42),
        updated_at: now,
    };
    ensure!(store.record_bot_chat(&chat).await? == 1);
    let stopped = store.destination(channel.id).await?.expect("kept");
    ensure!(
        !stopped.active && stopped.inactive_reason.as_deref() == Some(herald_store::BOT_REMOVED)
    );
    ensure!(
        !store
            .destinations_for(&buy)
            .await?
            .iter()
            .any(|d| d.id == channel.id)
    );
    chat.status = "administrator".into();
    ensure!(store.record_bot_chat(&chat).await? == 1);
    ensure!(
        store
            .destination(channel.id)
            .await?
            .is_some_and(|d| d.active)
    );
    ensure!(store.bot_chats().await?.len() == 1);
    // Removed: gone from the list, kept on record.
    ensure!(store.remove_destination(channel.id, now).await?);
    ensure!(!store.remove_destination(channel.id, now).await?);
    ensure!(
        !store
            .destinations(false)
            .await?
            .iter()
            .any(|d| d.id == channel.id)
    );
    ensure!(
        store
            .destinations(true)
            .await?
            .iter()
            .any(|d| d.id == channel.id && d.removed_at.is_some())
    );
    Ok(())
}

async fn a_report_is_scheduled_once_per_period(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    let alice = subscriber(&store, 1, now).await?;
    let bob = subscriber(&store, 2, now).await?;
    // An hour well ahead of now (UTC, the default zone).
    let hour = u8::try_from((now + Duration::hours(3)).hour())?;
    let daily = Preferences {
        reports: ReportFrequency::Daily,
        report_hour: hour,
        ..Preferences::default()
    };
    store.set_preferences(alice.id, &daily, now).await?;
    store
        .set_preferences(
            bob.id,
            &Preferences {
                reports: ReportFrequency::Off,
                ..Preferences::default()
            },
            now,
        )
        .await?;
    let next = store.next_report_at(alice.id).await?.expect("scheduled");
    ensure!(next > now && next <= now + Duration::days(1), "{next}");
    ensure!(store.next_report_at(bob.id).await?.is_none());
    // Nothing due before the slot.
    ensure!(store.schedule_reports(now, 100).await?.is_empty());
    // At the slot, two schedulers at once: one report.
    let (first, second) = tokio::join!(
        store.schedule_reports(next, 100),
        store.schedule_reports(next, 100)
    );
    let scheduled: Vec<_> = first?.into_iter().chain(second?).collect();
    ensure!(scheduled.len() == 1, "{scheduled:?}");
    ensure!(scheduled[0].user_id == alice.id && scheduled[0].due_at == next);
    ensure!(scheduled[0].period == format!("daily:{}", next.date_naive()));
    ensure!(store.next_report_at(alice.id).await? == Some(next + Duration::days(1)));
    let jobs = store.report_jobs(alice.id).await?;
    ensure!(jobs.len() == 1 && jobs[0].signal_id.is_none() && jobs[0].job == JobKind::Report);
    ensure!(
        store.schedule_reports(next, 100).await?.is_empty(),
        "not again"
    );
    // An unsubscribed trader's report falls due and is not sent; the schedule moves on.
    store.unsubscribe(alice.id, next).await?;
    let later = next + Duration::days(1);
    ensure!(store.schedule_reports(later, 100).await?.is_empty());
    ensure!(store.next_report_at(alice.id).await? == Some(later + Duration::days(1)));
    Ok(())
}

async fn performance_rows_are_the_traders_own_or_everyones(store: Store) -> anyhow::Result<()> {
    let now = Utc::now();
    let alice = subscriber(&store, 1, now).await?;
    let buy = signal(SignalKind::Buy, 80, now);
    let sell = signal(SignalKind::Sell, 80, now);
    for s in [&buy, &sell] {
        store
            .insert_signal(s, now, now + Duration::hours(1))
            .await?;
    }
    let queued = QueuedSignal::new(&buy, Some(now + Duration::hours(1)));
    store
        .create_deliveries(
            &queued,
            &[Recipient::new(
                alice.id,
                alice.chat_id,
                SignalFormat::Compact,
            )],
            now,
        )
        .await?;
    let mine = store.deliveries_for_signal(buy.id).await?;
    store.record_sent(mine[0].id, 9, now).await?;
    let mut close = close_of(&buy);
    close.generated_at = now;
    stored_close(&store, &close).await?;

    let all = store
        .performance_rows(None, None, now + Duration::minutes(1))
        .await?;
    ensure!(all.len() == 3, "buy, sell and close: {all:?}");
    let alices = store
        .performance_rows(Some(alice.id), None, now + Duration::minutes(1))
        .await?;
    ensure!(
        alices.len() == 1 && alices[0].kind == SignalKind::Buy,
        "{alices:?}"
    );
    ensure!(
        alices[0]
            .outcome
            .as_ref()
            .is_some_and(|o| o.return_pct.is_some())
    );
    let figures = herald_domain::figures(&alices);
    ensure!(figures.closed == 1 && figures.has_enough_data());
    // Nothing before the window's start.
    let since = store
        .performance_rows(
            None,
            Some(now + Duration::minutes(1)),
            now + Duration::hours(1),
        )
        .await?;
    ensure!(since.is_empty());
    Ok(())
}
