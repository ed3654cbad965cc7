//! Test equipment for Herald, shared by the crates' tests, the end-to-end tests and
//! `herald demo`.
//!
//! - [`telegram`]: a Telegram Bot API double — a real HTTP server speaking the Bot API that
//!   teloxide (pointed at it by its API-URL setting) cannot tell from the real thing, with a
//!   control surface to inject traders' messages, script faults per chat and read back
//!   everything the bot sent.
//! - [`db`]: a fresh, isolated database per test: a new SQLite file, or a new PostgreSQL
//!   schema that is dropped afterwards.
//! - [`nats`]: a unique `HERALD_NATS_PREFIX` per test, with its streams removed afterwards.
//! - [`tcp_proxy`]: a TCP proxy in front of a real server that a test can cut and restore, to
//!   take PostgreSQL or NATS away from one service without disturbing other tests.

pub mod db;
pub mod nats;
pub mod otlp;
pub mod tcp_proxy;
pub mod telegram;
