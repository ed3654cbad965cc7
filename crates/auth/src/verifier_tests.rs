//! The verifier against a key store stand-in that can be emptied, refilled and taken away, on a
//! clock the tests step themselves (no test waits on the wall clock).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use uuid::Uuid;

use super::*;
use crate::api_key::{generate, hash_key, reveal};

/// What the stand-in store does when asked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Answers,
    Fails,
    Hangs,
}

/// A key store the test controls: which hashes are active, and whether it answers.
#[derive(Clone)]
struct FakeStore {
    active: Arc<Mutex<HashSet<String>>>,
    mode: Arc<Mutex<Mode>>,
    calls: Arc<AtomicUsize>,
}

impl FakeStore {
    fn with(keys: &[&str]) -> Self {
        Self {
            active: Arc::new(Mutex::new(keys.iter().map(|k| hash_key(k)).collect())),
            mode: Arc::new(Mutex::new(Mode::Answers)),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn lookup(&self) -> KeyLookup {
        let store = self.clone();
        Arc::new(move |hash| {
            store.calls.fetch_add(1, Ordering::SeqCst);
            let mode = *store.mode.lock().unwrap();
            let found = store
                .active
                .lock()
                .unwrap()
                .contains(&hash)
                .then(|| KeyInfo::unrestricted(Uuid::nil(), "engine"));
            Box::pin(async move {
                match mode {
                    Mode::Answers => Ok(found),
                    Mode::Fails => Err("connection refused".to_string()),
                    Mode::Hangs => std::future::pending().await,
                }
            })
        })
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn revoke(&self, key: &str) {
        self.active.lock().unwrap().remove(&hash_key(key));
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

const TTL: Duration = Duration::from_secs(30);
const RETRY: Duration = Duration::from_secs(1);
const MAX_STALE: Duration = Duration::from_secs(3600);
/// An outage counts from when a failed lookup was noticed: the real time the stand-in took to
/// fail (microseconds) after the test's clock. Steps past a retry add this much.
const NOTICED: Duration = Duration::from_millis(100);

fn policy() -> KeyCachePolicy {
    KeyCachePolicy {
        ttl: TTL,
        max_stale: MAX_STALE,
        lookup_timeout: Duration::from_secs(1),
        retry_after: RETRY,
        capacity: 100,
        negative_capacity: 100,
    }
}

/// Lets a retry running in the background (the stand-in answers at once) finish.
async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

fn key() -> String {
    reveal(&generate()).to_string()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn verifies_caches_and_rejects() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    assert_eq!(v.verify_at(None, t0).await, Err(VerifyError::Missing));
    assert_eq!(v.verify_at(Some("  "), t0).await, Err(VerifyError::Missing));
    assert_eq!(
        v.verify_at(Some("hk_wrong"), t0).await,
        Err(VerifyError::Invalid)
    );
    assert_eq!(v.verify_at(Some(&good), t0).await.unwrap().name, "engine");
    assert_eq!(v.verify_at(Some(&good), t0).await.unwrap().name, "engine");
    assert_eq!(
        v.verify_at(Some("hk_wrong"), t0).await,
        Err(VerifyError::Invalid)
    );
    assert_eq!(store.calls(), 2, "answers are cached");
}

#[tokio::test]
async fn answers_are_asked_again_after_ttl() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    v.verify_at(Some(&good), t0 + TTL - Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(store.calls(), 1);
    v.verify_at(Some(&good), t0 + TTL).await.unwrap();
    assert_eq!(store.calls(), 2);
}

#[tokio::test]
async fn a_revoked_key_is_refused_once_its_answer_expires() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.revoke(&good);
    // Within ttl of the store's last answer the cache still says yes: that is the bound.
    assert!(v.verify_at(Some(&good), t0 + TTL - secs(1)).await.is_ok());
    assert_eq!(
        v.verify_at(Some(&good), t0 + TTL).await,
        Err(VerifyError::Invalid)
    );
}

#[tokio::test]
async fn store_outage_with_an_unknown_key_is_unavailable_not_invalid() {
    let store = FakeStore::with(&[]);
    store.set(Mode::Fails);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    assert!(matches!(
        v.verify_at(Some("hk_x"), Instant::now()).await,
        Err(VerifyError::Unavailable(_))
    ));
    assert!(matches!(v.store_reach(), StoreReach::Unreachable { .. }));
}

#[tokio::test]
async fn known_keys_are_served_stale_while_the_store_is_unreachable() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.set(Mode::Fails);

    // Past ttl: the store is asked, fails, and the known key is accepted anyway.
    let t1 = t0 + TTL + secs(5);
    assert!(v.verify_at(Some(&good), t1).await.is_ok());
    assert_eq!(store.calls(), 2);
    // Until retry_after has passed nobody waits on the store: known keys pass, unknown ones
    // are unavailable, and the store is not asked.
    assert!(v.verify_at(Some(&good), t1).await.is_ok());
    for _ in 0..50 {
        assert!(matches!(
            v.verify_at(Some(&key()), t1).await,
            Err(VerifyError::Unavailable(_))
        ));
    }
    assert_eq!(store.calls(), 2, "no lookups between retries");
    // After retry_after, exactly one request tries again, without waiting for the answer.
    assert!(v.verify_at(Some(&good), t1 + RETRY + NOTICED).await.is_ok());
    assert!(v.verify_at(Some(&good), t1 + RETRY + NOTICED).await.is_ok());
    settle().await;
    assert_eq!(store.calls(), 3);
    assert_eq!(v.servable_keys(), 1);
}

#[tokio::test]
async fn a_lookup_that_hangs_counts_as_an_outage() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(
        store.lookup(),
        KeyCachePolicy {
            lookup_timeout: Duration::from_millis(10),
            ..policy()
        },
    );
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.set(Mode::Hangs);
    assert!(v.verify_at(Some(&good), t0 + TTL).await.is_ok());
    assert!(matches!(
        v.verify_at(Some(&key()), t0 + TTL).await,
        Err(VerifyError::Unavailable(_))
    ));
}

#[tokio::test]
async fn stale_keys_stop_after_max_stale() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.set(Mode::Fails);
    assert!(
        v.verify_at(Some(&good), t0 + MAX_STALE - secs(1))
            .await
            .is_ok()
    );
    assert!(matches!(
        v.verify_at(Some(&good), t0 + MAX_STALE).await,
        Err(VerifyError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_key_revoked_during_an_outage_is_refused_within_retry_after_of_the_return() {
    let good = key();
    let other = key();
    let store = FakeStore::with(&[&good, &other]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.set(Mode::Fails);
    let down = t0 + TTL + secs(1);
    assert!(v.verify_at(Some(&good), down).await.is_ok());

    store.revoke(&good);
    store.set(Mode::Answers);
    // The store is back at `down + 1/2 s`, but this process has not tried it yet: the revoked
    // key is still served from the cache until the next try, at most retry_after later.
    let back = down + RETRY / 2;
    assert!(v.verify_at(Some(&good), back).await.is_ok());
    // The request that tries again is still served from the cache (its key is known); the
    // store's answer refuses every request after it.
    assert!(
        v.verify_at(Some(&good), down + RETRY + NOTICED)
            .await
            .is_ok()
    );
    settle().await;
    assert_eq!(
        v.verify_at(Some(&good), down + RETRY + NOTICED).await,
        Err(VerifyError::Invalid)
    );
    assert_eq!(v.store_reach(), StoreReach::Reachable);
    assert!(
        v.verify_at(Some(&other), down + RETRY + NOTICED)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn another_keys_answer_ends_the_outage_for_every_key() {
    let good = key();
    let other = key();
    let store = FakeStore::with(&[&good, &other]);
    let v = ApiKeyVerifier::new(store.lookup(), policy());
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    store.set(Mode::Fails);
    let down = t0 + TTL + secs(1);
    assert!(v.verify_at(Some(&good), down).await.is_ok());
    store.revoke(&good);
    store.set(Mode::Answers);
    // The retry is made with another key; the revoked one is asked about on its next use.
    assert!(
        v.verify_at(Some(&other), down + RETRY + NOTICED)
            .await
            .is_ok()
    );
    assert_eq!(
        v.verify_at(Some(&good), down + RETRY + NOTICED).await,
        Err(VerifyError::Invalid)
    );
}

#[tokio::test]
async fn a_flood_of_unknown_keys_never_evicts_a_known_one() {
    let good = key();
    let store = FakeStore::with(&[&good]);
    let v = ApiKeyVerifier::new(
        store.lookup(),
        KeyCachePolicy {
            capacity: 4,
            negative_capacity: 8,
            ..policy()
        },
    );
    let t0 = Instant::now();
    v.verify_at(Some(&good), t0).await.unwrap();
    for i in 0..1_000u64 {
        let at = t0 + Duration::from_millis(i);
        assert_eq!(
            v.verify_at(Some(&key()), at).await,
            Err(VerifyError::Invalid)
        );
    }
    assert!(v.lock().unknown.len() <= 8, "the unknown keys are bounded");
    store.set(Mode::Fails);
    let later = t0 + TTL + secs(1);
    for _ in 0..1_000 {
        assert!(matches!(
            v.verify_at(Some(&key()), later).await,
            Err(VerifyError::Unavailable(_))
        ));
    }
    assert!(v.verify_at(Some(&good), later).await.is_ok());
    assert_eq!(v.servable_keys(), 1);
}

#[tokio::test]
async fn known_keys_are_bounded_and_the_longest_unconfirmed_goes_first() {
    let keys: Vec<String> = (0..3).map(|_| key()).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let store = FakeStore::with(&refs);
    let v = ApiKeyVerifier::new(
        store.lookup(),
        KeyCachePolicy {
            capacity: 2,
            ..policy()
        },
    );
    let t0 = Instant::now();
    for (i, k) in keys.iter().enumerate() {
        v.verify_at(Some(k), t0 + secs(i as u64)).await.unwrap();
    }
    let known = &v.lock().known;
    assert_eq!(known.len(), 2);
    let digest = |k: &str| -> Digest32 { Sha256::digest(k.as_bytes()).into() };
    assert!(!known.contains_key(&digest(&keys[0])));
    assert!(known.contains_key(&digest(&keys[2])));
}
