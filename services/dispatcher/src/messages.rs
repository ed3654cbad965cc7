//! Rendered messages of recent signals: a fan-out to 100,000 traders renders each format once
//! and reads the signal from the database once per replica, not once per trader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use herald_domain::{Signal, SignalFormat, SignalId, render};
use herald_store::{Store, StoreError};

/// One signal and its rendered texts.
struct Entry {
    signal: Signal,
    detailed: OnceLock<Arc<str>>,
    compact: OnceLock<Arc<str>>,
}

/// How many signals are kept; the cache is cleared when it grows past this.
const CAPACITY: usize = 1024;

/// A bounded map from signal id to its rendered messages.
#[derive(Default)]
pub struct MessageCache {
    entries: Mutex<HashMap<SignalId, Arc<Entry>>>,
}

impl MessageCache {
    /// The text of `signal_id` in `format`, loading the signal from `store` on a miss.
    /// `Ok(None)` if the signal is not stored.
    pub async fn text(
        &self,
        store: &Store,
        signal_id: SignalId,
        format: SignalFormat,
    ) -> Result<Option<Arc<str>>, StoreError> {
        let cached = self
            .entries
            .lock()
            .expect("cache lock")
            .get(&signal_id)
            .cloned();
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let Some(signal) = store.signal(signal_id).await? else {
                    return Ok(None);
                };
                self.insert(signal)
            }
        };
        let cell = match format {
            SignalFormat::Detailed => &entry.detailed,
            SignalFormat::Compact => &entry.compact,
        };
        Ok(Some(
            cell.get_or_init(|| render(&entry.signal, format).into())
                .clone(),
        ))
    }

    /// Remembers a signal the caller already holds (the fan-out does, right before its jobs).
    pub fn remember(&self, signal: Signal) {
        self.insert(signal);
    }

    fn insert(&self, signal: Signal) -> Arc<Entry> {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries
            .entry(signal.id)
            .or_insert_with(|| {
                Arc::new(Entry {
                    signal,
                    detailed: OnceLock::new(),
                    compact: OnceLock::new(),
                })
            })
            .clone()
    }
}
