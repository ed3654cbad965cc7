//! Authentication for Herald's HTTP APIs.
//!
//! - [`api_key`]: the Signal Engine's API keys — generated with 192 bits of randomness, shown
//!   once, stored only as a SHA-256 hash — and [`ApiKeyVerifier`], which checks a presented
//!   key against the store with a short-lived cache so the ingest hot path does not query the
//!   database on every request.
//!
//! JWT for admins, second factor and IP allow-lists come with the admin-api.

pub mod api_key;

pub use api_key::{
    ApiKeyVerifier, GeneratedKey, KeyInfo, KeyLookup, VerifyError, generate, hash_key, reveal,
};
