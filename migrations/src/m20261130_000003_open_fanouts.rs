//! An index of the signals whose fan-out is not finished.
//!
//! Every claim from the delivery queue asks which signals are still fanning out (a trader's
//! newer message must wait for an older signal that may yet reach them), and the reconciler
//! asks for the oldest of them. Without an index each claim read the whole `signals` table,
//! which only grows; the partial index holds just the few fan-outs in progress.

use sea_orm_migration::prelude::*;

/// Adds `ix_signals_open_fanouts`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_signals_open_fanouts ON signals (received_at) \
                 WHERE fanout_done_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_signals_open_fanouts")
            .await?;
        Ok(())
    }
}
