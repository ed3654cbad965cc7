//! Performance reports: the scheduler's pass (on the reconciler's replica) turns due
//! reports into `report` jobs, and each job, when claimed, becomes a chart of the period's
//! cumulative return with its figures as the caption — sent like any message, on the same
//! budget, order, retries and records.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{DeliveryStatus, Window, cumulative_returns, figures};
use herald_store::Claim;

use crate::context::DispatcherContext;
use crate::deliver::{Message, Prepared};

/// Reports scheduled per pass at most (the next pass takes the rest).
pub const SCHEDULE_BATCH: u64 = 500;

/// Records the report jobs now due; returns how many.
pub async fn schedule(ctx: &DispatcherContext, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let scheduled = ctx.store.schedule_reports(now, SCHEDULE_BATCH).await?;
    if !scheduled.is_empty() {
        tracing::info!(reports = scheduled.len(), "performance reports scheduled");
        ctx.work.notify_one();
        ctx.bus.nudge_deliveries().await;
    }
    Ok(scheduled.len())
}

/// The report a claimed `report` job sends: the trader's signals over the period before it
/// fell due. A period in which the trader got no signal at all sends nothing (`skipped`).
pub async fn report_message(
    ctx: &DispatcherContext,
    claim: &Claim,
    _now: DateTime<Utc>,
) -> anyhow::Result<Prepared> {
    let (Some(user_id), Some(period), Some(until)) = (
        claim.user_id,
        claim.report_period.as_deref(),
        claim.signal_generated_at,
    ) else {
        return Ok(Err((
            DeliveryStatus::Failed,
            "not a trader's report".into(),
        )));
    };
    let window = if period.starts_with("daily:") {
        Window::Day
    } else {
        Window::Week
    };
    let from = until - window.length().unwrap_or(TimeDelta::weeks(1));
    let rows = ctx
        .store
        .performance_rows(Some(user_id), Some(from), until)
        .await?;
    if rows.is_empty() {
        return Ok(Err((
            DeliveryStatus::Skipped,
            "no signal reached the trader in the report's period".into(),
        )));
    }
    let figures = figures(&rows);
    let caption = herald_report::report_caption(&figures, window, claim.language);
    let png = herald_report::cumulative_return_png(&cumulative_returns(&rows), from, until)?;
    Ok(Ok(Message::Photo { png, caption }))
}
