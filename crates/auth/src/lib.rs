//! Authentication for Herald's HTTP APIs.
//!
//! - [`api_key`]: the Signal Engine's API keys — generated with 192 bits of randomness, shown
//!   once, stored only as a SHA-256 hash.
//! - [`verifier`]: [`ApiKeyVerifier`], which checks a presented key against the store through
//!   a cache, so the ingest hot path does not query the database on every request and keeps
//!   accepting known keys while the database is unreachable.
//! - [`network`]: [`IpAllowList`], the addresses an API key may be used from, and
//!   [`client_ip`], which finds the client's address behind the operator's reverse proxy
//!   without believing what the client wrote into `X-Forwarded-For`.
//! - [`jwt`]: the admin API's session tokens — HS256 only, every claim required and checked,
//!   with [`Role`] saying whether the admin may change things or only read.
//! - [`totp`]: the admins' second factor, RFC 6238 codes from an authenticator app, with
//!   replay protection and a QR code for enrolment on a terminal.
//! - [`codes`]: constant-time comparison, and the 6-digit one-time login codes with the
//!   salted hash they are stored as.
//! - [`extract`]: the axum extractors every route names its callers with ([`Staff`],
//!   [`Admin`], [`ApiKey`], [`Reader`], [`ClientIp`]), checked against one [`Gate`].
//! - [`store`]: the lookups behind them in `herald-store`, and keys' use written back.

pub mod api_key;
pub mod codes;
pub mod extract;
pub mod jwt;
pub mod network;
pub mod store;
pub mod totp;
pub mod verifier;

pub use api_key::{GeneratedKey, KeyInfo, KeyLookup, generate, hash_key, reveal};
pub use codes::{constant_time_eq, hash_one_time_code, one_time_code};
pub use extract::{
    Admin, ApiKey, AuthError, AuthFailure, ClientIp, FailureSink, Gate, GateBuilder, HasGate,
    Reader, RequiredScope, SignalsWrite, Staff, StaffLookup, StatsRead,
};
pub use jwt::{Claims, IssuedToken, JwtError, JwtKeys, Role, generate_secret};
pub use network::{IpAllowList, NetworkError, client_ip};
pub use totp::{TotpError, TotpSecret, qr_for_terminal};
pub use verifier::{ApiKeyVerifier, KeyCachePolicy, StoreReach, VerifyError};
