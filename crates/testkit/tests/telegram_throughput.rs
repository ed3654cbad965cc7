//! How many `sendMessage` calls per second the double absorbs (for benchmarks that use it).
//! Ignored by default; run with
//! `cargo test --release -p herald-testkit --test telegram_throughput -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use herald_testkit::telegram::TelegramDouble;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check; run in release mode"]
async fn send_message_throughput() {
    const TOTAL: usize = 40_000;
    const CONCURRENCY: usize = 64;
    let double = TelegramDouble::start("1:BENCH").await.unwrap();
    let url = Arc::new(format!("{}/bot1:BENCH/sendMessage", double.api_url()));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|w| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                for i in (w..TOTAL).step_by(CONCURRENCY) {
                    let body = serde_json::json!({
                        "chat_id": i % 5000,
                        "text": "<b>BTC/USD</b> LONG entry 64,000 &amp; up",
                        "parse_mode": "HTML",
                    });
                    let res = http.post(url.as_str()).json(&body).send().await.unwrap();
                    assert!(res.status().is_success());
                    res.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(double.sent().len(), TOTAL);
    println!(
        "{TOTAL} sendMessage in {elapsed:?}: {:.0}/s (client and double share the process)",
        TOTAL as f64 / elapsed.as_secs_f64()
    );
}
