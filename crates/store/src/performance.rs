//! How signals performed, as rows for [`herald_domain::figures`]; and the performance
//! reports' schedule: each trader's next report is due at `user_preferences.next_report_at`
//! (computed from their frequency, hour and time zone whenever those change), and the
//! scheduler turns due ones into `report` jobs of the delivery queue.

use chrono::{DateTime, TimeDelta, Utc};
use herald_domain::{
    CloseReason, DeliveryStatus, JobKind, PerfRow, ReportFrequency, RowOutcome, next_report,
};
use rust_decimal::Decimal;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Alias, Cond, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use crate::entity::{
    signal_deliveries, signal_outcomes, signals, user_preferences as prefs,
    user_subscriptions as subs, users,
};
use crate::lifecycle::insert_jobs;
use crate::preferences::{PREFERENCE_COLUMNS, PreferencesRow};
use crate::queue::BEHIND_SIGNALS;
use crate::subscriptions::SIGNALS_SUBSCRIPTION;
use crate::{Store, StoreError};

/// How long after it falls due a report may still go out (a backlog, an outage): after
/// that it is stale and expires.
pub const REPORT_GRACE: TimeDelta = TimeDelta::hours(6);

/// The most signals one set of figures reads (the newest of the window): about 100 bytes
/// each in memory.
pub const MAX_PERFORMANCE_ROWS: u64 = 200_000;

/// A report job recorded by [`Store::schedule_reports`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledReport {
    /// The trader.
    pub user_id: Uuid,
    /// Which report (`daily:2026-11-30`).
    pub period: String,
    /// When it fell due.
    pub due_at: DateTime<Utc>,
}

impl Store {
    /// One row per signal generated in `[since, until)` (`since` `None`: from the first),
    /// with the outcome of its position when it has ended; only the signals `user_id`
    /// received (sent to them) when given, else every signal. Rows are small (indexed
    /// columns, no payload read); at most [`MAX_PERFORMANCE_ROWS`], the newest.
    pub async fn performance_rows(
        &self,
        user_id: Option<Uuid>,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<Vec<PerfRow>, StoreError> {
        let s = Alias::new("s");
        let o = Alias::new("o");
        let mut stmt = Query::select();
        stmt.expr_as(Expr::col((s.clone(), signals::Column::Id)), "id")
            .expr_as(Expr::col((s.clone(), signals::Column::Kind)), "kind")
            .expr_as(Expr::col((s.clone(), signals::Column::Asset)), "asset")
            .expr_as(
                Expr::col((s.clone(), signals::Column::SourceModel)),
                "source_model",
            )
            .expr_as(
                Expr::col((s.clone(), signals::Column::GeneratedAt)),
                "generated_at",
            )
            .expr_as(
                Expr::col((o.clone(), signal_outcomes::Column::ReturnPct)),
                "return_pct",
            )
            .expr_as(
                Expr::col((o.clone(), signal_outcomes::Column::ClosedAt)),
                "closed_at",
            )
            .expr_as(
                Expr::col((o.clone(), signal_outcomes::Column::Reason)),
                "reason",
            )
            .from_as(signals::Entity, s.clone())
            .join_as(
                JoinType::LeftJoin,
                signal_outcomes::Entity,
                o.clone(),
                Expr::col((o.clone(), signal_outcomes::Column::SignalId))
                    .equals((s.clone(), signals::Column::Id)),
            )
            .and_where(Expr::col((s.clone(), signals::Column::GeneratedAt)).lt(until))
            .order_by((s.clone(), signals::Column::GeneratedAt), Order::Desc)
            .limit(MAX_PERFORMANCE_ROWS);
        if let Some(since) = since {
            stmt.and_where(Expr::col((s.clone(), signals::Column::GeneratedAt)).gte(since));
        }
        if let Some(user) = user_id {
            use signal_deliveries::Column as D;
            stmt.and_where(
                Expr::col((s.clone(), signals::Column::Id)).in_subquery(
                    Query::select()
                        .column(D::SignalId)
                        .from(signal_deliveries::Entity)
                        .and_where(Expr::col(D::UserId).eq(user))
                        .and_where(Expr::col(D::Job).eq(JobKind::Signal.as_str()))
                        .and_where(Expr::col(D::Status).eq(DeliveryStatus::Sent.as_str()))
                        .to_owned(),
                ),
            );
        }
        let mut rows = Vec::new();
        for row in self.db.query_all(&stmt).await? {
            let id: Uuid = row.try_get("", "id")?;
            let corrupt = |why: String| StoreError::corrupt("signals", id, why);
            let kind: String = row.try_get("", "kind")?;
            let closed_at: Option<DateTime<Utc>> = row.try_get("", "closed_at")?;
            let return_pct: Option<String> = row.try_get("", "return_pct")?;
            let reason: Option<String> = row.try_get("", "reason")?;
            let outcome = match closed_at {
                Some(closed_at) => Some(RowOutcome {
                    return_pct: return_pct
                        .as_deref()
                        .map(str::parse::<Decimal>)
                        .transpose()
                        .map_err(|e| corrupt(format!("return_pct: {e}")))?,
                    closed_at,
                    reason: reason
                        .as_deref()
                        .map(str::parse::<CloseReason>)
                        .transpose()
                        .map_err(corrupt)?,
                }),
                None => None,
            };
            rows.push(PerfRow {
                kind: kind.parse().map_err(corrupt)?,
                asset: row.try_get("", "asset")?,
                source_model: row.try_get("", "source_model")?,
                generated_at: row.try_get("", "generated_at")?,
                outcome,
            });
        }
        rows.reverse();
        Ok(rows)
    }

    /// Records a `report` job for up to `limit` traders whose report is due at `now`
    /// (active, subscribed, reports on), due at once, and moves each one's next report to
    /// its next slot — both in one transaction per trader, so a report is scheduled once
    /// whoever runs this. Traders whose next report was never computed (stored before
    /// reports were scheduled) get it computed, not sent. Returns the reports recorded.
    pub async fn schedule_reports(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ScheduledReport>, StoreError> {
        let mut stmt = Query::select();
        stmt.expr_as(Expr::col((users::Entity, users::Column::Id)), "user_id")
            .expr_as(Expr::col((users::Entity, users::Column::ChatId)), "chat_id")
            .expr_as(
                Expr::col((prefs::Entity, prefs::Column::NextReportAt)),
                "next_report_at",
            )
            .columns(PREFERENCE_COLUMNS.map(|c| (prefs::Entity, c)))
            .from(prefs::Entity)
            .join(
                JoinType::InnerJoin,
                users::Entity,
                Expr::col((users::Entity, users::Column::Id))
                    .equals((prefs::Entity, prefs::Column::UserId)),
            )
            .cond_where(
                Cond::any()
                    .add(Expr::col((prefs::Entity, prefs::Column::NextReportAt)).lte(now))
                    .add(
                        Cond::all()
                            .add(Expr::col((prefs::Entity, prefs::Column::NextReportAt)).is_null())
                            .add(
                                Expr::col((
                                    prefs::Entity,
                                    prefs::Column::PerformanceUpdateFrequency,
                                ))
                                .ne(ReportFrequency::Off.as_str()),
                            ),
                    ),
            )
            .order_by((prefs::Entity, prefs::Column::NextReportAt), Order::Asc)
            .limit(limit);
        let mut scheduled = Vec::new();
        for row in self.db.query_all(&stmt).await? {
            let user_id: Uuid = row.try_get("", "user_id")?;
            let chat_id: i64 = row.try_get("", "chat_id")?;
            let due: Option<DateTime<Utc>> = row.try_get("", "next_report_at")?;
            let prefs_row = PreferencesRow::read(&row)?;
            let preferences = match prefs_row.into_domain(user_id) {
                Ok(p) => p,
                Err(e) => {
                    // Out of the way until tomorrow, so that it does not hold the head of
                    // every pass.
                    tracing::error!(%user_id, error = %e, "unreadable preferences; no report");
                    prefs::Entity::update_many()
                        .col_expr(
                            prefs::Column::NextReportAt,
                            Expr::value(now + TimeDelta::days(1)),
                        )
                        .filter(prefs::Column::UserId.eq(user_id))
                        .exec(&self.db)
                        .await?;
                    continue;
                }
            };
            let next = next_report(
                preferences.reports,
                preferences.report_hour,
                preferences.time_zone,
                now,
            )
            .map(|slot| slot.at);
            let txn = self.db.begin().await?;
            // Only the run that moves the schedule from `due` records the report.
            let moved = prefs::Entity::update_many()
                .col_expr(prefs::Column::NextReportAt, Expr::value(next))
                .filter(prefs::Column::UserId.eq(user_id))
                .filter(match due {
                    Some(due) => prefs::Column::NextReportAt.eq(due),
                    None => prefs::Column::NextReportAt.is_null(),
                })
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            let report = due.and_then(|due| {
                // The slot that fell due: the first one after just before it.
                next_report(
                    preferences.reports,
                    preferences.report_hour,
                    preferences.time_zone,
                    due - TimeDelta::seconds(1),
                )
                .filter(|slot| slot.at == due)
            });
            if moved
                && let Some(slot) = report
                && self.subscribed(&txn, user_id, now).await?
            {
                let job = signal_deliveries::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    job: Set(JobKind::Report.as_str().to_string()),
                    signal_id: Set(None),
                    user_id: Set(Some(user_id)),
                    chat_id: Set(chat_id),
                    format: Set(preferences.format.as_str().to_string()),
                    language: Set(preferences.language.code().to_string()),
                    status: Set(DeliveryStatus::Pending.as_str().to_string()),
                    attempts: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    priority: Set(BEHIND_SIGNALS),
                    signal_generated_at: Set(Some(slot.at)),
                    deadline: Set(Some(slot.at + REPORT_GRACE)),
                    next_attempt_at: Set(Some(now)),
                    unknown_sends: Set(0),
                    silent: Set(preferences.reports_silent),
                    hours: Set(None),
                    report_period: Set(Some(slot.period.clone())),
                    ..Default::default()
                };
                if insert_jobs(&txn, [job]).await? == 1 {
                    scheduled.push(ScheduledReport {
                        user_id,
                        period: slot.period,
                        due_at: slot.at,
                    });
                }
            }
            txn.commit().await?;
        }
        Ok(scheduled)
    }

    /// A trader's report jobs, newest first.
    pub async fn report_jobs(&self, user_id: Uuid) -> Result<Vec<crate::Delivery>, StoreError> {
        use sea_orm::QueryOrder;
        use signal_deliveries::Column as D;
        signal_deliveries::Entity::find()
            .filter(D::UserId.eq(user_id))
            .filter(D::Job.eq(JobKind::Report.as_str()))
            .order_by_desc(D::SignalGeneratedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(crate::Delivery::try_from)
            .collect()
    }

    /// When the trader's next report is due, if they want reports.
    pub async fn next_report_at(&self, user_id: Uuid) -> Result<Option<DateTime<Utc>>, StoreError> {
        use sea_orm::QuerySelect;
        let at: Option<Option<DateTime<Utc>>> = prefs::Entity::find_by_id(user_id)
            .select_only()
            .column(prefs::Column::NextReportAt)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(at.flatten())
    }

    /// Whether the trader is active with a current signals subscription.
    async fn subscribed(
        &self,
        db: &impl ConnectionTrait,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let active = users::Entity::find_by_id(user_id)
            .filter(users::Column::IsActive.eq(true))
            .one(db)
            .await?
            .is_some();
        let current = subs::Entity::find()
            .filter(subs::Column::UserId.eq(user_id))
            .filter(subs::Column::SubscriptionType.eq(SIGNALS_SUBSCRIPTION))
            .filter(subs::Column::IsActive.eq(true))
            .filter(
                Cond::any()
                    .add(subs::Column::ExpiresAt.is_null())
                    .add(subs::Column::ExpiresAt.gt(now)),
            )
            .one(db)
            .await?
            .is_some();
        Ok(active && current)
    }
}
