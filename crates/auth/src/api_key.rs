//! API keys for the Signal Engine.
//!
//! A key looks like `hk_` followed by 48 hex digits. Herald stores its SHA-256 (hex) and the
//! first 8 characters, never the key. A plain, fast hash is right here: the key is 192 random
//! bits, so there is nothing for a slow password hash to protect.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What every key starts with, so a leaked key is recognisable (e.g. by secret scanners).
pub const KEY_PREFIX: &str = "hk_";

/// A newly generated key: show `key` once, store `hash` and `prefix`.
pub struct GeneratedKey {
    /// The key itself. Give it to the operator once; never store or log it.
    pub key: SecretString,
    /// SHA-256 of the key, hex.
    pub hash: String,
    /// The key's first 8 characters, to recognise it in listings.
    pub prefix: String,
}

/// Generates a fresh key.
pub fn generate() -> GeneratedKey {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    GeneratedKey {
        hash: hash_key(&key),
        prefix: key[..8].to_string(),
        key: SecretString::from(key),
    }
}

/// SHA-256 of a key, hex-encoded: what the store keeps and looks keys up by.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The stored facts about a valid key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id in the store.
    pub id: Uuid,
    /// The name given at creation (`herald api-key create --name NAME`).
    pub name: String,
}

/// Looks a key hash up in the store: `Ok(None)` when no active key has that hash, `Err` when
/// the store could not be asked.
pub type KeyLookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Option<KeyInfo>, String>> + Send>>
        + Send
        + Sync,
>;

/// Why a request's key was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No key was given.
    #[error("missing X-API-Key header")]
    Missing,
    /// The key is unknown or revoked.
    #[error("invalid API key")]
    Invalid,
    /// The store could not be asked; the caller should answer 503.
    #[error("cannot verify API keys right now: {0}")]
    Unavailable(String),
}

/// Checks presented keys, caching answers for `ttl` (a revoked key stops working within
/// `ttl`). Unknown keys are cached too, so guessing does not hammer the database; the cache
/// is bounded and simply cleared when full.
#[derive(Clone)]
pub struct ApiKeyVerifier {
    lookup: KeyLookup,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, CachedAnswer>>>,
}

/// What the store said about a key hash, and when.
type CachedAnswer = (Option<KeyInfo>, Instant);

const CACHE_CAPACITY: usize = 10_000;

impl ApiKeyVerifier {
    /// A verifier asking `lookup`, remembering answers for `ttl`.
    pub fn new(lookup: KeyLookup, ttl: Duration) -> Self {
        Self {
            lookup,
            ttl,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Verifies a presented key (the `X-API-Key` header value).
    pub async fn verify(&self, presented: Option<&str>) -> Result<KeyInfo, VerifyError> {
        let presented = presented.map(str::trim).filter(|k| !k.is_empty());
        let Some(key) = presented else {
            return Err(VerifyError::Missing);
        };
        let hash = hash_key(key);
        let now = Instant::now();
        if let Some((answer, at)) = self.cache.lock().expect("cache lock").get(&hash)
            && now.duration_since(*at) < self.ttl
        {
            return answer.clone().ok_or(VerifyError::Invalid);
        }
        let answer = (self.lookup)(hash.clone())
            .await
            .map_err(VerifyError::Unavailable)?;
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(hash, (answer.clone(), now));
        answer.ok_or(VerifyError::Invalid)
    }
}

/// Exposes a generated key's text, for the one place that prints it.
pub fn reveal(key: &GeneratedKey) -> &str {
    key.key.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn lookup_for(valid_hash: String, calls: Arc<AtomicUsize>) -> KeyLookup {
        Arc::new(move |hash| {
            calls.fetch_add(1, Ordering::SeqCst);
            let found = (hash == valid_hash).then(|| KeyInfo {
                id: Uuid::nil(),
                name: "engine".into(),
            });
            Box::pin(async move { Ok(found) })
        })
    }

    #[test]
    fn generated_keys_are_unique_and_hash_to_stored_form() {
        let a = generate();
        let b = generate();
        assert_ne!(reveal(&a), reveal(&b));
        assert!(reveal(&a).starts_with(KEY_PREFIX));
        assert_eq!(reveal(&a).len(), 3 + 48);
        assert_eq!(a.hash, hash_key(reveal(&a)));
        assert_eq!(a.hash.len(), 64);
        assert!(reveal(&a).starts_with(&a.prefix));
        assert!(!a.hash.contains(reveal(&a)));
    }

    #[tokio::test]
    async fn verifies_caches_and_rejects() {
        let key = generate();
        let calls = Arc::new(AtomicUsize::new(0));
        let v = ApiKeyVerifier::new(
            lookup_for(key.hash.clone(), calls.clone()),
            Duration::from_secs(60),
        );
        assert_eq!(v.verify(None).await, Err(VerifyError::Missing));
        assert_eq!(v.verify(Some("  ")).await, Err(VerifyError::Missing));
        assert_eq!(v.verify(Some("hk_wrong")).await, Err(VerifyError::Invalid));
        assert_eq!(v.verify(Some(reveal(&key))).await.unwrap().name, "engine");
        assert_eq!(v.verify(Some(reveal(&key))).await.unwrap().name, "engine");
        assert_eq!(v.verify(Some("hk_wrong")).await, Err(VerifyError::Invalid));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "answers are cached");
    }

    #[tokio::test]
    async fn expired_answers_are_asked_again() {
        let key = generate();
        let calls = Arc::new(AtomicUsize::new(0));
        let v = ApiKeyVerifier::new(lookup_for(key.hash.clone(), calls.clone()), Duration::ZERO);
        v.verify(Some(reveal(&key))).await.unwrap();
        v.verify(Some(reveal(&key))).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn store_outage_is_unavailable_not_invalid() {
        let lookup: KeyLookup = Arc::new(|_| Box::pin(async { Err("db down".to_string()) }));
        let v = ApiKeyVerifier::new(lookup, Duration::from_secs(60));
        assert!(matches!(
            v.verify(Some("hk_x")).await,
            Err(VerifyError::Unavailable(_))
        ));
    }
}
