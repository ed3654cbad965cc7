//! Rendered messages of recent signals: a fan-out to 100,000 traders renders each format and
//! language once and reads the signal from the database once per replica, not once per
//! trader.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use herald_domain::{Language, Signal, SignalFormat, SignalId, render_in};
use herald_store::{Store, StoreError};

const FORMATS: [SignalFormat; 2] = [SignalFormat::Detailed, SignalFormat::Compact];
const TEXTS: usize = FORMATS.len() * Language::ALL.len();

/// One signal and its rendered texts, one per (format, language).
struct Entry {
    signal: Signal,
    texts: [OnceLock<Arc<str>>; TEXTS],
}

fn slot(format: SignalFormat, language: Language) -> usize {
    let f = FORMATS.iter().position(|f| *f == format).unwrap_or(0);
    let l = Language::ALL
        .iter()
        .position(|l| *l == language)
        .unwrap_or(0);
    f * Language::ALL.len() + l
}

/// How many signals are kept; the cache is cleared when it grows past this.
const CAPACITY: usize = 1024;

/// A bounded map from signal id to its rendered messages.
#[derive(Default)]
pub struct MessageCache {
    entries: Mutex<HashMap<SignalId, Arc<Entry>>>,
}

impl MessageCache {
    /// The text of `signal_id` in `format` and `language`, loading the signal from `store`
    /// on a miss. `Ok(None)` if the signal is not stored.
    pub async fn text(
        &self,
        store: &Store,
        signal_id: SignalId,
        format: SignalFormat,
        language: Language,
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
        let cell = &entry.texts[slot(format, language)];
        Ok(Some(
            cell.get_or_init(|| {
                let labels = herald_i18n::catalog().labels(language);
                render_in(&entry.signal, format, &labels).into()
            })
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
                    texts: Default::default(),
                })
            })
            .clone()
    }
}
