//! The dispatcher's two hot writes on their own: how long one claim from the delivery queue
//! and one batched "record sent" take, by batch size — the statements a fan-out makes per
//! batch.

use std::time::Instant;

use chrono::Utc;
use herald_store::{Store, TelegramProfile};
use herald_testkit::db::TestDatabase;

use crate::ingest::backend;

/// Options.
#[derive(clap::Args)]
pub struct Args {
    /// Deliveries per batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Batches to time.
    #[arg(long, default_value_t = 20)]
    pub batches: usize,
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    pub db: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let db = TestDatabase::new(backend(&args.db)?).await?;
    let store = Store::open(db.url()).await?;
    let now = Utc::now();
    let total = args.batch * args.batches;
    for id in 0..total as i64 {
        let user = store
            .register_user(
                &TelegramProfile {
                    telegram_id: id + 1,
                    chat_id: id + 1,
                    username: None,
                    first_name: None,
                    last_name: None,
                    language_code: None,
                },
                now,
            )
            .await?;
        store.subscribe(user.user.id, now).await?;
    }
    let body = crate::stack::signal_body(80);
    let signal = herald_domain::parse_signal(body.as_bytes(), now).expect("valid");
    let deadline = now + chrono::TimeDelta::hours(1);
    store.insert_signal(&signal, now, deadline).await?;
    let recipients = store.recipients(&signal, now).await?;
    let queued = herald_store::QueuedSignal::new(&signal, Some(deadline));
    store.create_deliveries(&queued, &recipients, now).await?;
    let (mut begin, mut sent) = (Vec::new(), Vec::new());
    for _ in 0..args.batches {
        let t = Instant::now();
        let claims = store
            .claim_deliveries(
                args.batch,
                Utc::now(),
                chrono::TimeDelta::seconds(30),
                chrono::TimeDelta::seconds(1),
            )
            .await?;
        begin.push(t.elapsed().as_secs_f64() * 1000.0);
        let pairs: Vec<_> = claims.iter().map(|c| (c.delivery_id, 1i64)).collect();
        let t = Instant::now();
        store.record_sent_many(&pairs, Utc::now()).await?;
        sent.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    begin.sort_by(f64::total_cmp);
    sent.sort_by(f64::total_cmp);
    println!(
        "writes ({}, batch {}): claim_deliveries p50 {:.2} ms, record_sent_many p50 {:.2} ms",
        args.db,
        args.batch,
        crate::quantile(&begin, 0.5),
        crate::quantile(&sent, 0.5)
    );
    store.close().await?;
    db.cleanup().await
}
