//! What every Herald service needs around its own work: typed configuration ([`config`]),
//! logs and metrics ([`telemetry`]), a shutdown trigger wired to SIGINT/SIGTERM
//! ([`shutdown`]), and the operational HTTP surface — `GET /api/health` (cached), the probes,
//! `GET /metrics`, the request counter of the public APIs and the shared JSON error body
//! ([`http`]).

pub mod config;
pub mod http;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod traces;

pub use config::{AdminSettings, ConfigError, LogFormat, Settings};
pub use http::{ErrorBody, HealthReport, serve};
pub use service::{AddrSetting, bind, run_service, run_service_with_ops};
pub use shutdown::{exit_status, shutdown_on_signals};
