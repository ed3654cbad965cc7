//! `herald_telegram_requests_total` and `herald_telegram_request_duration_seconds` are
//! recorded per outcome, and the send budget's use and rate. (Its own test binary: it
//! installs a global recorder.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_telegram::{Limiter, LimiterConfig, Priority, Sender, bot};
use herald_testkit::telegram::{Fault, TelegramDouble};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// Counts counter increments and histogram samples by `name{label=value,…}`.
#[derive(Default)]
struct Counts(Mutex<HashMap<String, u64>>);

struct Handle {
    counts: Arc<Counts>,
    key: String,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        *self
            .counts
            .0
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.counts
            .0
            .lock()
            .unwrap()
            .insert(self.key.clone(), value);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, value: f64) {
        self.counts
            .0
            .lock()
            .unwrap()
            .insert(self.key.clone(), value as u64);
    }
}

impl HistogramFn for Handle {
    fn record(&self, _value: f64) {
        *self
            .counts
            .0
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += 1;
    }
}

struct TestRecorder(Arc<Counts>);

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        Arc::new(Handle {
            counts: self.0.clone(),
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
        })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

#[tokio::test]
async fn requests_are_counted_by_outcome_and_timed() {
    let counts = Arc::new(Counts::default());
    metrics::set_global_recorder(TestRecorder(counts.clone())).unwrap();

    let token = "31337:METRICS";
    let double = TelegramDouble::start(token).await.unwrap();
    let sender = Sender::new(
        bot(token, &double.api_url()).unwrap(),
        Arc::new(Limiter::new(LimiterConfig::unlimited())),
    );
    double.script_faults(
        5,
        [
            Fault::BotBlocked,
            Fault::ChatNotFound,
            Fault::TooManyRequests { retry_after: 1 },
        ],
    );
    for _ in 0..3 {
        sender.send_html(5, "x", Priority::Bulk).await.unwrap_err();
    }
    sender.send_html(6, "ok", Priority::Bulk).await.unwrap();
    sender.send_html(6, "", Priority::Bulk).await.unwrap_err();
    sender.reply_html(7, "hi").await.unwrap();
    {
        let counts = counts.0.lock().unwrap();
        // Unlimited: no overall rate.
        assert_eq!(counts.get("herald_telegram_budget_rate_limit{}"), Some(&0));
    }
    // The rate of the budget a sender is made with.
    let _paced = Sender::new(
        bot(token, &double.api_url()).unwrap(),
        Arc::new(Limiter::new(LimiterConfig::with_rate(30))),
    );

    let counts = counts.0.lock().unwrap();
    assert_eq!(counts.get("herald_telegram_budget_rate_limit{}"), Some(&30));
    // Every slot taken, by priority, and every wait timed.
    let budget = |name: &str, priority: &str| {
        counts
            .get(&format!(
                "herald_telegram_budget_{name}{{priority={priority}}}"
            ))
            .copied()
    };
    assert_eq!(budget("acquired_total", "bulk"), Some(5));
    assert_eq!(budget("acquired_total", "interactive"), Some(1));
    assert_eq!(budget("wait_seconds", "bulk"), Some(5));
    assert_eq!(budget("wait_seconds", "interactive"), Some(1));
    let total = |outcome: &str| {
        counts
            .get(&format!(
                "herald_telegram_requests_total{{method=sendMessage,outcome={outcome}}}"
            ))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(
        [
            total("ok"),
            total("blocked"),
            total("chat_not_found"),
            total("retry_after"),
            total("permanent"),
            total("transient"),
            total("unknown"),
        ],
        // The reply is the second ok.
        [2, 1, 1, 1, 1, 0, 0]
    );
    assert_eq!(
        counts.get("herald_telegram_request_duration_seconds{method=sendMessage}"),
        Some(&6)
    );
}
