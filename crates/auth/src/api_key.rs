//! API keys for the Signal Engine.
//!
//! A key looks like `hk_` followed by 48 hex digits. Herald stores its SHA-256 (hex) and the
//! first 8 characters, never the key. A plain, fast hash is right here: the key is 192 random
//! bits, so there is nothing for a slow password hash to protect.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use herald_domain::Scope;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::network::IpAllowList;

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
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The addresses it may be used from.
    pub allowed: IpAllowList,
    /// Requests per second per process; `None` for no limit.
    pub rate_limit: Option<u32>,
}

impl KeyInfo {
    /// A key with every scope, from anywhere, without a limit (for tests).
    pub fn unrestricted(id: Uuid, name: &str) -> Self {
        Self {
            id,
            name: name.to_string(),
            scopes: Scope::ALL.to_vec(),
            allowed: IpAllowList::unrestricted(),
            rate_limit: None,
        }
    }
}

/// Looks a key hash up in the store: `Ok(None)` when no active key has that hash, `Err` when
/// the store could not be asked.
pub type KeyLookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Option<KeyInfo>, String>> + Send>>
        + Send
        + Sync,
>;

/// Exposes a generated key's text, for the one place that prints it.
pub fn reveal(key: &GeneratedKey) -> &str {
    key.key.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
