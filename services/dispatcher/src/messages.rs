//! Rendered messages of recent signals: a fan-out to 100,000 traders renders each text once
//! per format and language and reads the signal from the database once per replica, not
//! once per trader.
//!
//! A close has more than one text: a reply to the reader's copy of the signal it closes, a
//! message that stands alone (for a reader who never got that signal), and the outcome edit
//! of the copies (the copy's text with how the position ended).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};

use herald_domain::{
    CloseRef, Language, MAX_MESSAGE_CHARS, PositionOutcome, Signal, SignalFormat, SignalId,
    SignalKind, render_close_in, render_within, visible_len,
};
use herald_store::{Store, StoreError};

const FORMATS: [SignalFormat; 2] = [SignalFormat::Detailed, SignalFormat::Compact];

/// Which text of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// The signal's message (a close names what it closes by id only if that signal is not
    /// stored).
    Signal,
    /// A close sent as a reply to the reader's copy of the signal it closes.
    CloseReply,
    /// A close to a reader who never got the signal it closes: it says what that was.
    CloseStandalone,
    /// The edit of a copy of the closed signal: its text and how the position ended.
    Outcome,
}

const TEXTS: [Text; 4] = [
    Text::Signal,
    Text::CloseReply,
    Text::CloseStandalone,
    Text::Outcome,
];
const SLOTS: usize = FORMATS.len() * Language::ALL.len() * TEXTS.len();

/// One signal, what it closes, and its rendered texts.
struct Entry {
    signal: Signal,
    /// When it was accepted (reached the bus), for the delivery latency.
    received_at: DateTime<Utc>,
    /// For a close: the signal whose position it ends, and how it ended.
    closed: Option<(Signal, Option<PositionOutcome>)>,
    texts: [OnceLock<Option<Arc<str>>>; SLOTS],
}

fn slot(format: SignalFormat, language: Language, text: Text) -> usize {
    let f = FORMATS.iter().position(|f| *f == format).unwrap_or(0);
    let l = Language::ALL
        .iter()
        .position(|l| *l == language)
        .unwrap_or(0);
    let t = TEXTS.iter().position(|t| *t == text).unwrap_or(0);
    (f * Language::ALL.len() + l) * TEXTS.len() + t
}

/// How many signals are kept; the cache is cleared when it grows past this.
const CAPACITY: usize = 1024;

/// A bounded map from signal id to its rendered messages.
#[derive(Default)]
pub struct MessageCache {
    entries: Mutex<HashMap<SignalId, Arc<Entry>>>,
}

impl MessageCache {
    /// The text of `signal_id` in `format` and `language`, loading the signal (and, for a
    /// close, what it closes) from `store` on a miss. `Ok(None)` if the signal is not stored,
    /// or it has no such text (a reply or an outcome for a close that closes nothing).
    pub async fn text(
        &self,
        store: &Store,
        signal_id: SignalId,
        format: SignalFormat,
        language: Language,
        text: Text,
    ) -> Result<Option<Arc<str>>, StoreError> {
        let Some(entry) = self.entry(store, signal_id).await? else {
            return Ok(None);
        };
        let cell = &entry.texts[slot(format, language, text)];
        Ok(cell
            .get_or_init(|| render(&entry, format, language, text).map(Arc::from))
            .clone())
    }

    /// The stored position a close ends (`None` for other signals, or a close whose
    /// position is not stored).
    pub async fn position_closed_by(
        &self,
        store: &Store,
        signal_id: SignalId,
    ) -> Result<Option<SignalId>, StoreError> {
        Ok(self
            .entry(store, signal_id)
            .await?
            .and_then(|entry| entry.closed.as_ref().map(|(position, _)| position.id)))
    }

    /// The cached entry of `signal_id`, loaded from `store` on a miss.
    async fn entry(
        &self,
        store: &Store,
        signal_id: SignalId,
    ) -> Result<Option<Arc<Entry>>, StoreError> {
        let cached = self
            .entries
            .lock()
            .expect("cache lock")
            .get(&signal_id)
            .cloned();
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let Some((signal, received_at)) = store.signal_received(signal_id).await? else {
                    return Ok(None);
                };
                let closed = match signal.closes_signal_id {
                    Some(closed) if signal.kind == SignalKind::Close => {
                        match store.signal(closed).await? {
                            Some(position) => {
                                Some((position, store.outcome_of_close(signal.id).await?))
                            }
                            None => None,
                        }
                    }
                    _ => None,
                };
                self.insert(signal, received_at, closed)
            }
        };
        Ok(Some(entry))
    }

    /// When `signal_id` was accepted, if the signal is in the cache (no query: a delivery
    /// asks right after its text was rendered, which put the signal there).
    pub fn received_at(&self, signal_id: SignalId) -> Option<DateTime<Utc>> {
        self.entries
            .lock()
            .expect("cache lock")
            .get(&signal_id)
            .map(|entry| entry.received_at)
    }

    /// Remembers a signal the caller already holds (the fan-out does, right before its
    /// jobs), accepted at `received_at`, with the position it closes and that position's
    /// outcome for a close.
    pub fn remember(
        &self,
        signal: Signal,
        received_at: DateTime<Utc>,
        closed: Option<(Signal, Option<PositionOutcome>)>,
    ) {
        self.insert(signal, received_at, closed);
    }

    fn insert(
        &self,
        signal: Signal,
        received_at: DateTime<Utc>,
        closed: Option<(Signal, Option<PositionOutcome>)>,
    ) -> Arc<Entry> {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries
            .entry(signal.id)
            .or_insert_with(|| {
                Arc::new(Entry {
                    signal,
                    received_at,
                    closed,
                    texts: std::array::from_fn(|_| OnceLock::new()),
                })
            })
            .clone()
    }
}

fn render(entry: &Entry, format: SignalFormat, language: Language, text: Text) -> Option<String> {
    let labels = herald_i18n::catalog().labels(language);
    let signal = &entry.signal;
    let closed = entry.closed.as_ref();
    Some(match text {
        Text::Signal => render_close_in(signal, CloseRef::Id, format, &labels),
        Text::CloseReply => {
            closed?;
            render_close_in(signal, CloseRef::Reply, format, &labels)
        }
        Text::CloseStandalone => {
            let (position, _) = closed?;
            render_close_in(signal, CloseRef::Position(position), format, &labels)
        }
        Text::Outcome => {
            let (position, outcome) = closed?;
            let outcome = outcome.as_ref()?;
            let line = herald_report::outcome_line(
                outcome.kind,
                outcome.exit_price,
                outcome.return_pct,
                outcome.reason,
                outcome.open_for(),
                language,
            );
            // The copy as it was, cut (notes first) if the line would not fit below it.
            let room = MAX_MESSAGE_CHARS.saturating_sub(visible_len(&line) + 2);
            let copy = render_within(position, CloseRef::Id, format, &labels, room);
            format!("{copy}\n\n{line}")
        }
    })
}
