//! The audit log: what is recorded comes back as recorded, newest first, filtered, in pages
//! that together hold every record once; and the counts the login's rate limit reads.

use anyhow::ensure;
use chrono::{DateTime, Duration, Utc};
use herald_store::{AuditEvent, AuditFilter, AuditRecord, AuditSubject, Store};
use uuid::Uuid;

use crate::common::{noon, on_both_backends};

on_both_backends!(
    events_are_recorded_and_filtered,
    pages_hold_every_record_once,
    counts_by_actor_and_by_source,
);

fn event(actor: &str, action: &str, source: Option<&str>) -> AuditEvent {
    AuditEvent {
        actor: actor.to_string(),
        action: action.to_string(),
        target: None,
        source: source.map(str::to_string),
        details: None,
    }
}

fn ids(records: &[AuditRecord]) -> Vec<Uuid> {
    records.iter().map(|r| r.id).collect()
}

/// The ids of `records` picked by index, newest (highest index) first.
fn newest_first(records: &[AuditRecord], picked: &[usize]) -> Vec<Uuid> {
    let mut picked = picked.to_vec();
    picked.sort_unstable_by(|a, b| b.cmp(a));
    picked.into_iter().map(|i| records[i].id).collect()
}

async fn page(store: &Store, filter: AuditFilter) -> anyhow::Result<Vec<Uuid>> {
    Ok(ids(&store.audit_page(&filter, None, 100).await?))
}

async fn events_are_recorded_and_filtered(store: Store) -> anyhow::Result<()> {
    let base = noon();
    let at = |s: i64| base + Duration::seconds(s);
    let details = serde_json::json!({
        "before": {"format": "compact", "assets": ["BTC/USD"]},
        "after": {"format": "detailed", "assets": []},
        "reason": "asked in chat",
    });
    let events = [
        event("user:a", "auth.login", Some("10.0.0.1")),
        event("telegram:1", "auth.failed", Some("10.0.0.2")),
        AuditEvent {
            target: Some("user:x".into()),
            details: Some(details.clone()),
            ..event("user:a", "preferences.update", Some("10.0.0.1"))
        },
        event("anonymous", "auth.failed", Some("10.0.0.2")),
        event("user:b", "api_key.create", None),
        event("user:b", "apixkey.create", None),
        event("user:a", "authority.grant", None),
        event("cli", "auth", None),
    ];
    let mut records = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let record = store.record_audit(e.clone(), at(i as i64)).await?;
        ensure!(record.at == at(i as i64) && record.actor == e.actor);
        ensure!(record.action == e.action && record.target == e.target);
        ensure!(record.source == e.source && record.details == e.details);
        records.push(record);
    }

    let all = store.audit_page(&AuditFilter::default(), None, 100).await?;
    let mut expected = records.clone();
    expected.reverse();
    ensure!(
        all == expected,
        "everything, newest first, as recorded: {all:#?}"
    );
    ensure!(all[5].details.as_ref() == Some(&details));

    let by_actor = |actor: &str| AuditFilter {
        actor: Some(actor.into()),
        ..AuditFilter::default()
    };
    let by_action = |action: &str| AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    ensure!(page(&store, by_actor("user:a")).await? == newest_first(&records, &[0, 2, 6]));
    ensure!(
        page(&store, by_actor("user:")).await?.is_empty(),
        "actors are exact"
    );
    ensure!(page(&store, by_action("auth.failed")).await? == newest_first(&records, &[1, 3]));
    ensure!(
        page(&store, by_action("auth")).await? == newest_first(&records, &[7]),
        "without a trailing dot an action is exact"
    );
    ensure!(page(&store, by_action("auth.fail")).await?.is_empty());
    ensure!(
        page(&store, by_action("auth.")).await? == newest_first(&records, &[0, 1, 3]),
        "a family: not `auth` itself, nor `authority.`"
    );
    ensure!(
        page(&store, by_action("api_key.")).await? == newest_first(&records, &[4]),
        "`_` in a family is itself, not any character"
    );
    ensure!(
        page(&store, by_action("%.")).await?.is_empty(),
        "`%` is itself"
    );
    ensure!(page(&store, by_action("preferences.")).await? == newest_first(&records, &[2]));

    let window = AuditFilter {
        since: Some(at(2)),
        until: Some(at(5)),
        ..AuditFilter::default()
    };
    ensure!(
        page(&store, window.clone()).await? == newest_first(&records, &[2, 3, 4]),
        "since is inclusive, until exclusive"
    );
    let since = AuditFilter {
        since: Some(at(6)),
        ..AuditFilter::default()
    };
    ensure!(page(&store, since).await? == newest_first(&records, &[6, 7]));
    let until = AuditFilter {
        until: Some(at(1)),
        ..AuditFilter::default()
    };
    ensure!(page(&store, until).await? == newest_first(&records, &[0]));
    let combined = AuditFilter {
        actor: Some("user:a".into()),
        action: Some("auth.".into()),
        ..window
    };
    ensure!(page(&store, combined).await?.is_empty());
    let combined = AuditFilter {
        actor: Some("user:a".into()),
        action: Some("auth.".into()),
        ..AuditFilter::default()
    };
    ensure!(page(&store, combined).await? == newest_first(&records, &[0]));
    ensure!(
        store
            .audit_page(&AuditFilter::default(), None, 0)
            .await?
            .is_empty()
    );
    Ok(())
}

/// Every record matching `filter`, page by page.
async fn all_pages(
    store: &Store,
    filter: &AuditFilter,
    limit: u64,
) -> anyhow::Result<(Vec<Uuid>, Vec<usize>)> {
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut before = None;
    loop {
        let page = store.audit_page(filter, before, limit).await?;
        sizes.push(page.len());
        ensure!(page.len() as u64 <= limit);
        let Some(last) = page.last() else {
            break;
        };
        before = Some(last.id);
        seen.extend(ids(&page));
        ensure!(sizes.len() < 100, "pagination does not end");
    }
    Ok((seen, sizes))
}

async fn pages_hold_every_record_once(store: Store) -> anyhow::Result<()> {
    let base = noon();
    let mut records = Vec::new();
    for i in 0..21 {
        let actor = if i % 3 == 0 { "user:a" } else { "user:b" };
        records.push(
            store
                .record_audit(
                    event(actor, "preferences.update", None),
                    base + Duration::seconds(i),
                )
                .await?,
        );
    }
    let everything: Vec<Uuid> = records.iter().rev().map(|r| r.id).collect();

    let (seen, sizes) = all_pages(&store, &AuditFilter::default(), 7).await?;
    ensure!(seen == everything, "an exact multiple of the page size");
    ensure!(sizes == vec![7, 7, 7, 0], "{sizes:?}");
    let (seen, sizes) = all_pages(&store, &AuditFilter::default(), 5).await?;
    ensure!(seen == everything);
    ensure!(sizes == vec![5, 5, 5, 5, 1, 0], "{sizes:?}");
    let (seen, _) = all_pages(&store, &AuditFilter::default(), 1).await?;
    ensure!(seen == everything);

    let of_a = AuditFilter {
        actor: Some("user:a".into()),
        ..AuditFilter::default()
    };
    let (seen, sizes) = all_pages(&store, &of_a, 2).await?;
    let expected: Vec<Uuid> = records
        .iter()
        .rev()
        .filter(|r| r.actor == "user:a")
        .map(|r| r.id)
        .collect();
    ensure!(expected.len() == 7 && seen == expected, "{seen:?}");
    ensure!(sizes == vec![2, 2, 2, 1, 0], "{sizes:?}");

    // The cursor is the last id of the previous page: after the oldest, nothing.
    ensure!(
        store
            .audit_page(&AuditFilter::default(), Some(records[0].id), 10)
            .await?
            .is_empty()
    );
    Ok(())
}

async fn counts_by_actor_and_by_source(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let ago = |m: i64| -> DateTime<Utc> { now - Duration::minutes(m) };
    let failed = |actor: &str, source: &str| event(actor, "auth.failed", Some(source));
    store
        .record_audit(failed("telegram:1", "10.0.0.1"), ago(20))
        .await?;
    store
        .record_audit(failed("telegram:1", "10.0.0.1"), ago(10))
        .await?;
    store
        .record_audit(failed("telegram:1", "10.0.0.2"), ago(5))
        .await?;
    store
        .record_audit(failed("telegram:2", "10.0.0.1"), ago(1))
        .await?;
    store
        .record_audit(event("telegram:1", "auth.login", Some("10.0.0.1")), ago(1))
        .await?;
    store
        .record_audit(event("telegram:1", "auth.failed", None), now)
        .await?;

    let actor = |a| AuditSubject::Actor(a);
    let source = |s| AuditSubject::Source(s);
    let count = |subject, since| store.count_audit_since("auth.failed", subject, since);
    ensure!(count(actor("telegram:1"), ago(15)).await? == 3);
    ensure!(
        count(actor("telegram:1"), ago(10)).await? == 3,
        "since is inclusive"
    );
    ensure!(count(actor("telegram:1"), ago(30)).await? == 4);
    ensure!(count(actor("telegram:1"), now).await? == 1);
    ensure!(count(actor("telegram:2"), ago(15)).await? == 1);
    ensure!(count(actor("telegram:3"), ago(15)).await? == 0);
    ensure!(count(source("10.0.0.1"), ago(15)).await? == 2);
    ensure!(count(source("10.0.0.1"), ago(30)).await? == 3);
    ensure!(count(source("10.0.0.2"), ago(30)).await? == 1);
    ensure!(count(source("10.0.0.3"), ago(30)).await? == 0);
    ensure!(
        store
            .count_audit_since("auth.login", actor("telegram:1"), ago(30))
            .await?
            == 1,
        "only that action"
    );
    ensure!(
        store
            .count_audit_since("auth.", actor("telegram:1"), ago(30))
            .await?
            == 0,
        "the action is exact"
    );
    Ok(())
}
