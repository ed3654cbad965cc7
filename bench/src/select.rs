//! Recipient selection at scale: how long the first page of a fan-out takes to read with a
//! million traders (TARGETS.md: ≤ 300 ms on PostgreSQL), how long the whole walk takes, and
//! whether memory stays flat through it (it holds one page at a time).

use std::time::Instant;

use chrono::Utc;
use herald_store::{QueuedSignal, Store};
use herald_testkit::db::TestDatabase;

use crate::ingest::backend;

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Subscribed traders.
    #[arg(long, default_value_t = 1_000_000)]
    pub traders: i64,
    /// Recipients per page (the dispatcher's default).
    #[arg(long, default_value_t = 1000)]
    pub page: u64,
    /// Also record every page's deliveries, as the fan-out does.
    #[arg(long)]
    pub record: bool,
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub db: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = TestDatabase::new(backend(&args.db)?).await?;
    let store = Store::open(db.url()).await?;
    let now = Utc::now() - chrono::TimeDelta::minutes(1);
    let seeding = Instant::now();
    crate::seed::traders(&store, 1, args.traders, now).await?;
    eprintln!(
        "seeded {} traders in {:.1?}",
        args.traders,
        seeding.elapsed()
    );
    if store.backend_name() == "postgres" {
        use sea_orm::ConnectionTrait;
        store.connection().execute_unprepared("ANALYZE").await?;
    }
    let body = crate::stack::signal_body(80);
    let signal = herald_domain::parse_signal(body.as_bytes(), Utc::now()).expect("valid");
    let deadline = Utc::now() + chrono::TimeDelta::hours(1);
    store.insert_signal(&signal, Utc::now(), deadline).await?;
    let queued = QueuedSignal::new(&signal, Some(deadline));
    let at = Utc::now();

    let rss_before = rss_kb();
    let started = Instant::now();
    let (mut first, mut pages, mut recipients, mut after) = (None, 0u64, 0usize, None);
    let mut rss_max = rss_before;
    loop {
        let page = store.recipients_page(&signal, at, after, args.page).await?;
        first.get_or_insert_with(|| started.elapsed());
        pages += 1;
        recipients += page.recipients.len();
        if args.record {
            store
                .record_fanout_page(
                    &queued,
                    &page.recipients,
                    page.last_scanned,
                    page.exhausted,
                    Utc::now(),
                )
                .await?;
        }
        rss_max = rss_max.max(rss_kb());
        if page.exhausted {
            break;
        }
        after = page.last_scanned;
    }
    let total = started.elapsed();
    let first = first.unwrap_or_default();
    println!(
        "recipient selection ({}, {} traders, pages of {}{}): first page {:.1} ms (target <= 300 ms); \
         all {} recipients in {} pages in {:.1} s ({:.0} recipients/s); RSS {} MB before, {} MB at most",
        args.db,
        args.traders,
        args.page,
        if args.record {
            ", deliveries recorded"
        } else {
            ""
        },
        first.as_secs_f64() * 1000.0,
        recipients,
        pages,
        total.as_secs_f64(),
        recipients as f64 / total.as_secs_f64(),
        rss_before / 1024,
        rss_max / 1024,
    );
    store.close().await?;
    db.cleanup().await
}

/// This process's resident memory in kB (Linux), 0 elsewhere.
pub fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}
