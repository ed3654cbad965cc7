//! Each delivery's span, a child of its signal's fan-out span (see `herald_runtime::traces`).
//!
//! Deliveries leave the database queue, not a message, so their parent is the trace context
//! stored with the signal. It is looked up only for the deliveries whose spans are kept (1 %
//! by default), and remembered for the last signals, so a fan-out with `always_on` sampling
//! reads each signal's context once, not once per trader.

use std::collections::HashMap;
use std::sync::Mutex;

use herald_domain::SignalId;
use herald_store::Claim;

use crate::context::DispatcherContext;

/// Signals whose trace context is remembered.
const REMEMBERED: usize = 1024;
/// How long a delivery waits for its signal's trace context.
const LOOKUP: std::time::Duration = std::time::Duration::from_millis(50);

/// The last signals' trace contexts (`None`: stored without one).
#[derive(Default)]
pub struct SignalTraces {
    known: Mutex<HashMap<SignalId, Option<String>>>,
}

impl SignalTraces {
    async fn of(&self, ctx: &DispatcherContext, signal: SignalId) -> Option<String> {
        if let Some(known) = self.known.lock().expect("not poisoned").get(&signal) {
            return known.clone();
        }
        // A lookup that fails or is slow only costs the span its parent, never the send its
        // time: it is given a moment, and its failure is remembered like an answer.
        let found = tokio::time::timeout(LOOKUP, ctx.store.signal_trace(signal))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        let mut known = self.known.lock().expect("not poisoned");
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(signal, found.clone());
        found
    }
}

/// The span a delivery runs in: `deliver`, with the delivery's id (by which the default
/// sampler keeps or drops it), job and attempt; a child of its signal's fan-out when kept.
/// While traces are off there is none: a span per delivery would cost every delivery for
/// nothing.
pub async fn delivery_span(ctx: &DispatcherContext, claim: &Claim) -> tracing::Span {
    if !herald_runtime::traces::is_on() {
        return tracing::Span::none();
    }
    let span = tracing::debug_span!(
        "deliver",
        delivery_id = %claim.delivery_id,
        chat_id = claim.chat_id,
        herald.delivery.id = %claim.delivery_id,
        herald.job = claim.job.as_str(),
        herald.attempt = claim.attempt,
        herald.signal.id = claim.signal_id.map(|s| tracing::field::display(s.0)),
        herald.delivery.outcome = tracing::field::Empty,
    );
    if herald_runtime::traces::keeps_delivery(claim.delivery_id.as_u128())
        && let Some(signal) = claim.signal_id
        && let Some(parent) = ctx.traces.of(ctx, signal).await
    {
        herald_runtime::traces::set_parent(&span, |name| {
            (name == "traceparent").then_some(parent.as_str())
        });
    }
    span
}
