//! Authentication for Herald's HTTP APIs.
//!
//! - [`api_key`]: the Signal Engine's API keys — generated with 192 bits of randomness, shown
//!   once, stored only as a SHA-256 hash.
//! - [`verifier`]: [`ApiKeyVerifier`], which checks a presented key against the store through
//!   a cache, so the ingest hot path does not query the database on every request and keeps
//!   accepting known keys while the database is unreachable.
//!
//! JWT for admins, second factor and IP allow-lists come with the admin-api.

pub mod api_key;
pub mod verifier;

pub use api_key::{GeneratedKey, KeyInfo, KeyLookup, generate, hash_key, reveal};
pub use verifier::{ApiKeyVerifier, KeyCachePolicy, StoreReach, VerifyError};
