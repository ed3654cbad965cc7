//! `signals.trace_context`: the W3C `traceparent` of the signal's fan-out, when traces are on.
//!
//! Deliveries leave the database queue, not a message, so the trace they belong to is kept
//! with their signal: a delivery's span is a child of its signal's fan-out (see
//! `herald_runtime::traces`). Null when traces were off as the signal was fanned out.

use sea_orm_migration::prelude::*;

/// Adds `signals.trace_context`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Signals::Table)
                    .add_column(ColumnDef::new(Signals::TraceContext).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Signals::Table)
                    .drop_column(Signals::TraceContext)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Signals {
    Table,
    TraceContext,
}
