//! The delivery queue: `signal_deliveries` becomes the dispatcher's work queue, and signals
//! carry their deadline and how far their fan-out has got.
//!
//! - `signals.deadline`: after it, nothing of the signal is sent (one bar of its timeframe
//!   after `generated_at`, or the engine's `valid_until`). Null for signals stored before
//!   this migration: their deadline is computed from the payload when needed.
//! - `signals.fanout_cursor`, `signals.fanout_done_at`: the last user id the fan-out has
//!   recorded deliveries for, and when it finished, so that an interrupted fan-out resumes
//!   where it stopped.
//! - `signal_deliveries.priority` (0 a trader's older message pulled ahead, 1 close and
//!   alert, 2 buy and sell), `signal_generated_at` and `deadline` (copies of the signal's,
//!   for ordering and expiry without a join), `next_attempt_at` (when it may be tried next),
//!   `lease_until` (how long a `sending` claim holds) and `unknown_sends` (sends whose
//!   outcome Telegram never told).
//!
//! Partial indexes (`WHERE status …`) keep the queue's indexes as small as the queue: a sent
//! delivery leaves them. Both PostgreSQL and SQLite support them with the same syntax, so
//! they are written as SQL; the columns go through the schema builder like everything else.

use sea_orm_migration::prelude::*;

/// Adds the queue columns and indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [&str; 4] = [
    // The claim: most urgent first, newest signal first, then creation order.
    "CREATE INDEX ix_signal_deliveries_queue ON signal_deliveries \
     (priority, signal_generated_at DESC, id) WHERE status IN ('pending', 'unknown')",
    // Per-trader order: a trader's open deliveries by signal time.
    "CREATE INDEX ix_signal_deliveries_open_by_user ON signal_deliveries \
     (user_id, signal_generated_at) WHERE status IN ('pending', 'sending', 'unknown')",
    // The reconciler's look for claims whose holder died.
    "CREATE INDEX ix_signal_deliveries_leases ON signal_deliveries (lease_until) \
     WHERE status = 'sending'",
    // The reconciler's look for signals past their deadline.
    "CREATE INDEX ix_signals_deadline ON signals (deadline)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            timestamp_null(Signals::Deadline),
            ColumnDef::new(Signals::FanoutCursor)
                .uuid()
                .null()
                .to_owned(),
            timestamp_null(Signals::FanoutDoneAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Signals::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ColumnDef::new(SignalDeliveries::Priority)
                .small_integer()
                .not_null()
                .default(2)
                .to_owned(),
            timestamp_null(SignalDeliveries::SignalGeneratedAt),
            timestamp_null(SignalDeliveries::Deadline),
            timestamp_null(SignalDeliveries::NextAttemptAt),
            timestamp_null(SignalDeliveries::LeaseUntil),
            ColumnDef::new(SignalDeliveries::UnknownSends)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SignalDeliveries::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // Deliveries recorded before: fan-outs that stored them are complete (they were
        // written whole), and their rows join the queue in their old order.
        db.execute_unprepared(
            "UPDATE signals SET fanout_done_at = received_at WHERE fanout_done_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE signal_deliveries SET \
             signal_generated_at = (SELECT generated_at FROM signals \
                                    WHERE signals.id = signal_deliveries.signal_id), \
             next_attempt_at = updated_at, \
             priority = CASE (SELECT kind FROM signals WHERE signals.id = signal_deliveries.signal_id) \
                        WHEN 'close' THEN 1 WHEN 'alert' THEN 1 ELSE 2 END",
        )
        .await?;
        // Deliveries left open by the version before: the deadline they had (one hour after
        // they were recorded, `HERALD_DELIVERY_MAX_AGE_SECS`'s default), so a backlog is not
        // sent however stale; and an attempt in flight when that version stopped may have
        // reached Telegram: `unknown`, tried once more, like a claim whose replica died.
        let in_an_hour = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                "created_at + interval '1 hour'"
            }
            _ => "strftime('%Y-%m-%dT%H:%M:%f+00:00', created_at, '+1 hour')",
        };
        db.execute_unprepared(&format!(
            "UPDATE signal_deliveries SET deadline = {in_an_hour} \
             WHERE status IN ('pending', 'sending') AND deadline IS NULL"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE signal_deliveries SET status = 'unknown', unknown_sends = 1 \
             WHERE status = 'sending'",
        )
        .await?;
        for index in INDEXES {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "ix_signal_deliveries_queue",
            "ix_signal_deliveries_open_by_user",
            "ix_signal_deliveries_leases",
            "ix_signals_deadline",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        for column in [
            SignalDeliveries::Priority,
            SignalDeliveries::SignalGeneratedAt,
            SignalDeliveries::Deadline,
            SignalDeliveries::NextAttemptAt,
            SignalDeliveries::LeaseUntil,
            SignalDeliveries::UnknownSends,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SignalDeliveries::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Signals::Deadline,
            Signals::FanoutCursor,
            Signals::FanoutDoneAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Signals::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

fn timestamp_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[derive(DeriveIden)]
enum Signals {
    Table,
    Deadline,
    FanoutCursor,
    FanoutDoneAt,
}

#[derive(DeriveIden)]
enum SignalDeliveries {
    Table,
    Priority,
    SignalGeneratedAt,
    Deadline,
    NextAttemptAt,
    LeaseUntil,
    UnknownSends,
}
