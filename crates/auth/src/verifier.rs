//! [`ApiKeyVerifier`]: checks presented API keys against the store through a cache that keeps
//! ingest working while the store is unreachable.
//!
//! Three rules shape it:
//!
//! - **Known keys and unknown keys live apart.** A key the store confirmed goes into the
//!   *known* map; a key the store said no to goes into a separate, bounded *unknown* map. A
//!   flood of made-up keys can only churn the unknown map: it never evicts a verified key.
//! - **Fresh answers are trusted for `ttl`.** Within `ttl` of the store's last answer for a
//!   key, that answer is used without asking again.
//! - **When the store cannot be asked, known keys are served stale.** A lookup that errs or
//!   takes longer than `lookup_timeout` marks the store unreachable. From then on a request
//!   with a key confirmed within `max_stale` is accepted from the cache at once, an unknown
//!   key gets [`VerifyError::Unavailable`] (the store could not be asked: 503, not 401), and
//!   one request every `retry_after` asks the store again — in the background when its key is
//!   known, so no known key waits on an unreachable store. The first answer marks the store
//!   reachable.
//!
//! # How long a revoked key keeps working
//!
//! A key revoked at time `R` (`api_keys.revoked_at`) is refused by every request that arrives
//! after `max(R + ttl, B + lookup_timeout + retry_after)`, where `B` is when the store became
//! reachable again for this process (drop the second term if it never went away): a lookup
//! that started before `B` may still fail up to `lookup_timeout` later, and the next try comes
//! `retry_after` after that. With the services' settings (`HERALD_INGEST_KEY_CACHE_TTL_SECS`,
//! 5 s by default) that is 5 s after the revocation, or 2 s after the store's return,
//! whichever is later. While the store stays unreachable, a key confirmed
//! at time `C` is accepted until at most `C + max_stale`, revoked or not: revoking is a write
//! to that same store, and nobody can tell this process about it.
//!
//! Memory is bounded: at most `capacity` known keys (the one confirmed longest ago makes
//! room) and `negative_capacity` unknown ones (expired ones go first, then all of them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::api_key::{KeyInfo, KeyLookup};

/// Why a request's key was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No key was given.
    #[error("missing X-API-Key header")]
    Missing,
    /// The key is unknown or revoked.
    #[error("invalid API key")]
    Invalid,
    /// The store could not be asked and the key is not known from before; the caller should
    /// answer 503.
    #[error("cannot verify API keys right now: {0}")]
    Unavailable(String),
}

/// How [`ApiKeyVerifier`] caches the store's answers. See the module documentation for what
/// each bound means for a revoked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCachePolicy {
    /// How long an answer from the store is used without asking again.
    pub ttl: Duration,
    /// How long after its last confirmation a known key is still accepted while the store
    /// cannot be reached.
    pub max_stale: Duration,
    /// How long one lookup may take before the store counts as unreachable.
    pub lookup_timeout: Duration,
    /// While the store is unreachable, how long between two attempts to reach it; the
    /// requests in between are answered from the cache without waiting.
    pub retry_after: Duration,
    /// Most known (store-confirmed) keys remembered.
    pub capacity: usize,
    /// Most unknown keys remembered.
    pub negative_capacity: usize,
}

impl Default for KeyCachePolicy {
    /// `ttl` 30 s, `max_stale` 24 h, `lookup_timeout` 1 s, `retry_after` 1 s, 10,000 known
    /// and 10,000 unknown keys (about 2 MB at most).
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            lookup_timeout: Duration::from_secs(1),
            retry_after: Duration::from_secs(1),
            capacity: 10_000,
            negative_capacity: 10_000,
        }
    }
}

impl KeyCachePolicy {
    /// The bounds the settings give (`HERALD_INGEST_KEY_CACHE_TTL_SECS`,
    /// `HERALD_INGEST_KEY_MAX_STALE_SECS`), the rest the defaults: what every service that
    /// takes API keys caches by.
    pub fn from_settings(settings: &herald_runtime::Settings) -> Self {
        Self {
            ttl: Duration::from_secs(settings.ingest_key_cache_ttl_secs),
            max_stale: Duration::from_secs(settings.ingest_key_max_stale_secs),
            ..Self::default()
        }
    }
}

/// Whether the key store answered the last time it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreReach {
    /// It answered (or has not been asked yet).
    Reachable,
    /// It did not answer; known keys are served from the cache.
    Unreachable {
        /// When the first failed lookup of this outage started.
        since: Instant,
        /// The last failure.
        reason: String,
    },
}

/// Checks presented keys against the store, through the cache described in the module
/// documentation. Clones share one cache.
#[derive(Clone)]
pub struct ApiKeyVerifier {
    lookup: KeyLookup,
    policy: KeyCachePolicy,
    state: Arc<Mutex<State>>,
}

/// SHA-256 of a key: what the cache is keyed by.
type Digest32 = [u8; 32];

#[derive(Default)]
struct State {
    /// Keys the store confirmed, and when it last did.
    known: HashMap<Digest32, (Arc<KeyInfo>, Instant)>,
    /// Keys the store said no to, and when.
    unknown: HashMap<Digest32, Instant>,
    /// Set while the store is unreachable.
    outage: Option<Outage>,
    /// Keys accepted since [`ApiKeyVerifier::take_usage`] last ran, and when last.
    used: HashMap<uuid::Uuid, Instant>,
}

struct Outage {
    since: Instant,
    reason: String,
    /// No request asks the store before this.
    next_try: Instant,
}

/// What the cache says before the store is asked.
enum Cached {
    /// A fresh answer: use it.
    Answer(Result<Arc<KeyInfo>, VerifyError>),
    /// Ask the store; fall back to this known key if it cannot answer.
    Ask(Option<Arc<KeyInfo>>),
    /// The store was unreachable and it is time to try it again; this known key (if any) is
    /// the answer for the request that tries.
    Retry(Option<Arc<KeyInfo>>),
}

impl ApiKeyVerifier {
    /// A verifier asking `lookup`, caching by `policy`.
    pub fn new(lookup: KeyLookup, policy: KeyCachePolicy) -> Self {
        Self {
            lookup,
            policy,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The policy this verifier caches by.
    pub fn policy(&self) -> &KeyCachePolicy {
        &self.policy
    }

    /// Verifies a presented key (the `X-API-Key` header value).
    pub async fn verify(&self, presented: Option<&str>) -> Result<Arc<KeyInfo>, VerifyError> {
        self.verify_at(presented, Instant::now()).await
    }

    /// Notes that a request with key `id` was let through (its scope, address and rate were
    /// fine too), for [`Self::take_usage`].
    pub fn note_use(&self, id: uuid::Uuid) {
        self.lock().used.insert(id, Instant::now());
    }

    /// The keys let through since the last call, each with when it last was: what
    /// `api_keys.last_used_at` is kept from, in batches, off the request path.
    pub fn take_usage(&self) -> Vec<(uuid::Uuid, Instant)> {
        self.lock().used.drain().collect()
    }

    /// [`Self::verify`] as if the time were `now` (tests step a clock of their own).
    async fn verify_at(
        &self,
        presented: Option<&str>,
        now: Instant,
    ) -> Result<Arc<KeyInfo>, VerifyError> {
        let Some(key) = presented.map(str::trim).filter(|k| !k.is_empty()) else {
            return Err(VerifyError::Missing);
        };
        let digest: Digest32 = Sha256::digest(key.as_bytes()).into();
        let cached = self.lock().consult(&digest, now, &self.policy);
        match cached {
            Cached::Answer(answer) => answer,
            Cached::Retry(Some(known)) => {
                // A known key does not wait for the store to come back: it is served from the
                // cache now, and the retry's answer is there for the requests after it.
                let verifier = self.clone();
                tokio::spawn(async move { verifier.ask(digest, None, now).await });
                Ok(known)
            }
            Cached::Retry(None) => self.ask(digest, None, now).await,
            Cached::Ask(fallback) => self.ask(digest, fallback, now).await,
        }
    }

    /// Asks the store about `digest` at `now`, remembers the answer, and falls back to
    /// `fallback` if the store cannot answer.
    async fn ask(
        &self,
        digest: Digest32,
        fallback: Option<Arc<KeyInfo>>,
        now: Instant,
    ) -> Result<Arc<KeyInfo>, VerifyError> {
        let started = Instant::now();
        let asked = tokio::time::timeout(
            self.policy.lookup_timeout,
            (self.lookup)(hex::encode(digest)),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer within {} ms",
                self.policy.lookup_timeout.as_millis()
            ))
        });
        // Answers count from when the question was asked (the store may have changed while
        // it answered); an outage counts from when it was noticed.
        let noticed = now + started.elapsed();
        self.lock()
            .remember(digest, asked, fallback, (now, noticed), &self.policy)
    }

    /// Whether the store answered the last time it was asked.
    pub fn store_reach(&self) -> StoreReach {
        match &self.lock().outage {
            None => StoreReach::Reachable,
            Some(o) => StoreReach::Unreachable {
                since: o.since,
                reason: o.reason.clone(),
            },
        }
    }

    /// How many known keys would be accepted now if the store could not be asked.
    pub fn servable_keys(&self) -> usize {
        let now = Instant::now();
        let max_stale = self.policy.max_stale;
        self.lock()
            .known
            .values()
            .filter(|(_, at)| now.saturating_duration_since(*at) < max_stale)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent at every await-free step; a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn consult(&mut self, digest: &Digest32, now: Instant, policy: &KeyCachePolicy) -> Cached {
        let age = |at: Instant| now.saturating_duration_since(at);
        let known = self.known.get(digest);
        if let Some((info, at)) = known
            && age(*at) < policy.ttl
        {
            return Cached::Answer(Ok(info.clone()));
        }
        if let Some(at) = self.unknown.get(digest)
            && age(*at) < policy.ttl
        {
            return Cached::Answer(Err(VerifyError::Invalid));
        }
        let fallback = known
            .filter(|(_, at)| age(*at) < policy.max_stale)
            .map(|(info, _)| info.clone());
        if let Some(outage) = &mut self.outage {
            if now < outage.next_try {
                return Cached::Answer(
                    fallback.ok_or_else(|| VerifyError::Unavailable(outage.reason.clone())),
                );
            }
            // This request tries the store; the others keep answering from the cache.
            outage.next_try = now + policy.retry_after;
            return Cached::Retry(fallback);
        }
        Cached::Ask(fallback)
    }

    fn remember(
        &mut self,
        digest: Digest32,
        asked: Result<Option<KeyInfo>, String>,
        fallback: Option<Arc<KeyInfo>>,
        (now, noticed): (Instant, Instant),
        policy: &KeyCachePolicy,
    ) -> Result<Arc<KeyInfo>, VerifyError> {
        let found = match asked {
            Ok(found) => found,
            Err(reason) => {
                self.store_unreachable(reason.clone(), noticed, policy);
                return fallback.ok_or(VerifyError::Unavailable(reason));
            }
        };
        if let Some(outage) = self.outage.take() {
            tracing::info!(
                down_ms = now.saturating_duration_since(outage.since).as_millis() as u64,
                "API key store reachable again"
            );
        }
        match found {
            Some(info) => {
                let info = Arc::new(info);
                self.unknown.remove(&digest);
                if self.known.len() >= policy.capacity && !self.known.contains_key(&digest) {
                    let oldest = self.known.iter().min_by_key(|(_, (_, at))| *at);
                    if let Some(oldest) = oldest.map(|(d, _)| *d) {
                        self.known.remove(&oldest);
                    }
                }
                if policy.capacity > 0 {
                    self.known.insert(digest, (info.clone(), now));
                }
                Ok(info)
            }
            None => {
                self.known.remove(&digest);
                if self.unknown.len() >= policy.negative_capacity {
                    self.unknown
                        .retain(|_, at| now.saturating_duration_since(*at) < policy.ttl);
                    if self.unknown.len() >= policy.negative_capacity {
                        self.unknown.clear();
                    }
                }
                if policy.negative_capacity > 0 {
                    self.unknown.insert(digest, now);
                }
                Err(VerifyError::Invalid)
            }
        }
    }

    fn store_unreachable(&mut self, reason: String, now: Instant, policy: &KeyCachePolicy) {
        match &mut self.outage {
            Some(outage) => {
                outage.reason = reason;
                outage.next_try = outage.next_try.max(now + policy.retry_after);
            }
            None => {
                tracing::warn!(
                    error = %reason,
                    max_stale_secs = policy.max_stale.as_secs(),
                    "API key store unreachable: accepting keys confirmed within max_stale, \
                     answering 503 for others"
                );
                self.outage = Some(Outage {
                    since: now,
                    reason,
                    next_try: now + policy.retry_after,
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
