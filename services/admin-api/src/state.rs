//! What every route shares, and the audit trail they write to.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_auth::{Gate, HasGate};
use herald_bus::Bus;
use herald_store::{AuditEvent, Store};
use herald_telegram::Sender;

/// admin-api's own settings (its section of [`herald_runtime::Settings`]).
#[derive(Debug, Clone, Copy)]
pub struct AdminConfig {
    /// How long a staff token is accepted.
    pub token_lifetime: Duration,
    /// How long a login code works.
    pub code_lifetime: Duration,
}

/// The routes' state: one `Arc`, cheap to clone per request.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The inside of [`AppState`].
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) gate: Gate,
    pub(crate) bus: Bus,
    /// Sends login codes; `None` without a bot token (logins then answer 503).
    pub(crate) telegram: Option<Sender>,
    pub(crate) config: AdminConfig,
}

impl HasGate for AppState {
    fn gate(&self) -> &Gate {
        &self.gate
    }
}

impl Shared {
    /// Records an audit event, in the table and as a log line (target `herald::audit`).
    /// A failure to record is logged and does not fail the request: the change it describes
    /// has been made already.
    pub(crate) async fn audit(&self, event: AuditEvent) {
        tracing::info!(
            target: "herald::audit",
            actor = %event.actor,
            action = %event.action,
            target_id = event.target.as_deref().unwrap_or(""),
            source = event.source.as_deref().unwrap_or(""),
            "audit"
        );
        if let Err(e) = self.store.record_audit(event, Utc::now()).await {
            tracing::error!(error = %e, "could not record an audit event");
        }
    }
}
