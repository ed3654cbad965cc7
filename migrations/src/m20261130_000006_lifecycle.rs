//! The signal lifecycle: how positions end, destinations besides private chats, and jobs
//! other than a signal's first message in the delivery queue.
//!
//! - `signal_outcomes`: one row per position (a buy or sell) that a close ended: the close
//!   that ended it, the exit price, the return in percent and the reason. Prices and the
//!   return are exact decimals written as text (the same canonical form as the prices in
//!   `signals.payload`), identical on both backends.
//! - `destinations`: channels, groups and forum topics an operator registered, each with
//!   its own filters and format. `bot_chats`: the groups and channels the bot was added to
//!   or removed from (`my_chat_member`), as Telegram last told.
//! - `signal_deliveries` becomes the queue of every message job:
//!   - `job`: `signal` (a signal's message), `outcome` (the edit of a trader's copy of a
//!     position's signal when it ends; `signal_id` is the close) or `report` (a performance
//!     report; no signal).
//!   - `destination_id`, `thread_id`: a destination's delivery (`user_id` is null then).
//!   - `report_period`: which report (`daily:2026-11-30`, `weekly:2026-W48`).
//!   - `signal_id` and `user_id` become nullable; on SQLite that means rebuilding the table
//!     (it cannot drop a NOT NULL), done here with the rows and indexes kept.
//!   - One job per (signal, trader, job), per (signal, destination, job) and per (trader,
//!     report): re-running a fan-out records nothing twice.
//!   - A chat's open jobs are ordered by chat (`ix_signal_deliveries_open_by_chat`), so that
//!     a destination's messages keep their order as a trader's do.
//! - `signals.source_model`: a copy of the payload's model, for the performance figures
//!   (filled in from the payloads for the signals already stored).
//! - `user_preferences.report_hour` (the local hour reports come at, default 8) and
//!   `next_report_at` (when the next one is due, UTC; null until the scheduler first
//!   computes it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// Adds the lifecycle tables and generalises the delivery queue.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes of `signal_deliveries` after this migration (SQL: partial and expression indexes
/// are written alike on both backends).
const DELIVERY_INDEXES: [&str; 8] = [
    "CREATE UNIQUE INDEX ux_signal_deliveries_signal_user_job ON signal_deliveries \
     (signal_id, user_id, job)",
    "CREATE UNIQUE INDEX ux_signal_deliveries_signal_destination_job ON signal_deliveries \
     (signal_id, destination_id, job)",
    "CREATE UNIQUE INDEX ux_signal_deliveries_report ON signal_deliveries \
     (user_id, report_period)",
    "CREATE INDEX ix_signal_deliveries_signal_status ON signal_deliveries (signal_id, status)",
    "CREATE INDEX ix_signal_deliveries_user ON signal_deliveries (user_id)",
    "CREATE INDEX ix_signal_deliveries_queue ON signal_deliveries \
     (priority, signal_generated_at DESC, id) WHERE status IN ('pending', 'unknown')",
    "CREATE INDEX ix_signal_deliveries_open_by_chat ON signal_deliveries \
     (chat_id, signal_generated_at) WHERE status IN ('pending', 'sending', 'unknown')",
    "CREATE INDEX ix_signal_deliveries_leases ON signal_deliveries (lease_until) \
     WHERE status = 'sending'",
];

/// Indexes of `signal_deliveries` before this migration.
const OLD_DELIVERY_INDEXES: [&str; 6] = [
    "ux_signal_deliveries_signal_user",
    "ix_signal_deliveries_signal_status",
    "ix_signal_deliveries_user",
    "ix_signal_deliveries_queue",
    "ix_signal_deliveries_open_by_user",
    "ix_signal_deliveries_leases",
];

/// The indexes of `signal_deliveries` before this migration, for going back.
const OLD_DELIVERY_INDEX_SQL: [&str; 6] = [
    "CREATE UNIQUE INDEX ux_signal_deliveries_signal_user ON signal_deliveries \
     (signal_id, user_id)",
    "CREATE INDEX ix_signal_deliveries_signal_status ON signal_deliveries (signal_id, status)",
    "CREATE INDEX ix_signal_deliveries_user ON signal_deliveries (user_id)",
    "CREATE INDEX ix_signal_deliveries_queue ON signal_deliveries \
     (priority, signal_generated_at DESC, id) WHERE status IN ('pending', 'unknown')",
    "CREATE INDEX ix_signal_deliveries_open_by_user ON signal_deliveries \
     (user_id, signal_generated_at) WHERE status IN ('pending', 'sending', 'unknown')",
    "CREATE INDEX ix_signal_deliveries_leases ON signal_deliveries (lease_until) \
     WHERE status = 'sending'",
];

/// The columns of `signal_deliveries` before this migration, in order.
const OLD_COLUMNS: &str = "id, signal_id, user_id, chat_id, format, status, attempts, last_error, \
     telegram_message_id, created_at, updated_at, delivered_at, read_at, priority, \
     signal_generated_at, deadline, next_attempt_at, lease_until, unknown_sends, silent, \
     language, hours";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // One transaction on every backend: SQLite's rebuild of `signal_deliveries` must not be
    // seen half-done, nor be spread over the pool's connections.
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let txn = manager.begin().await?;
        up(&txn).await?;
        txn.commit().await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let txn = manager.begin().await?;
        down(&txn).await?;
        txn.commit().await
    }
}

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    {
        manager.create_table(destinations()).await?;
        manager.create_table(bot_chats()).await?;
        manager.create_table(signal_outcomes()).await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_destinations_chat_thread ON destinations \
             (chat_id, COALESCE(thread_id, 0)) WHERE removed_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_signal_outcomes_closed_at ON signal_outcomes (closed_at)",
        )
        .await?;
        for column in [
            ColumnDef::new(UserPreferences::ReportHour)
                .small_integer()
                .not_null()
                .default(8)
                .to_owned(),
            ColumnDef::new(UserPreferences::NextReportAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UserPreferences::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        db.execute_unprepared(
            "CREATE INDEX ix_user_preferences_next_report ON user_preferences (next_report_at)",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Signals::Table)
                    .add_column(ColumnDef::new(Signals::SourceModel).string().null())
                    .to_owned(),
            )
            .await?;
        let model = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "payload::jsonb ->> 'source_model'",
            _ => "json_extract(payload, '$.source_model')",
        };
        db.execute_unprepared(&format!("UPDATE signals SET source_model = {model}"))
            .await?;

        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE signal_deliveries ALTER COLUMN signal_id DROP NOT NULL, \
                     ALTER COLUMN user_id DROP NOT NULL",
                )
                .await?;
                for column in new_delivery_columns() {
                    manager
                        .alter_table(
                            Table::alter()
                                .table(SignalDeliveries::Table)
                                .add_column(column)
                                .to_owned(),
                        )
                        .await?;
                }
                manager
                    .create_foreign_key(
                        ForeignKey::create()
                            .name("fk_signal_deliveries_destination")
                            .from(SignalDeliveries::Table, SignalDeliveries::DestinationId)
                            .to(Destinations::Table, Destinations::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .await?;
                for index in OLD_DELIVERY_INDEXES {
                    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                        .await?;
                }
            }
            _ => {
                // SQLite: a new table with the new shape, the rows copied, the old one gone.
                manager
                    .create_table(sqlite_signal_deliveries(Shape::After))
                    .await?;
                db.execute_unprepared(&format!(
                    "INSERT INTO signal_deliveries_new ({OLD_COLUMNS}) \
                     SELECT {OLD_COLUMNS} FROM signal_deliveries"
                ))
                .await?;
                for index in OLD_DELIVERY_INDEXES {
                    db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                        .await?;
                }
                db.execute_unprepared("DROP TABLE signal_deliveries")
                    .await?;
                db.execute_unprepared(
                    "ALTER TABLE signal_deliveries_new RENAME TO signal_deliveries",
                )
                .await?;
            }
        }
        for index in DELIVERY_INDEXES {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    {
        // Jobs other than a signal to a trader (destinations' deliveries, edits, reports)
        // have no place in the old shape: going back drops them.
        let db = manager.get_connection();
        for index in DELIVERY_INDEXES {
            let name = index
                .split_whitespace()
                .skip_while(|w| *w != "INDEX")
                .nth(1)
                .unwrap_or_default();
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        db.execute_unprepared(
            "DELETE FROM signal_deliveries WHERE job <> 'signal' \
             OR signal_id IS NULL OR user_id IS NULL",
        )
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                manager
                    .drop_foreign_key(
                        ForeignKey::drop()
                            .name("fk_signal_deliveries_destination")
                            .table(SignalDeliveries::Table)
                            .to_owned(),
                    )
                    .await?;
                for column in [
                    SignalDeliveries::Job,
                    SignalDeliveries::DestinationId,
                    SignalDeliveries::ThreadId,
                    SignalDeliveries::ReportPeriod,
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
                db.execute_unprepared(
                    "ALTER TABLE signal_deliveries ALTER COLUMN signal_id SET NOT NULL, \
                     ALTER COLUMN user_id SET NOT NULL",
                )
                .await?;
            }
            _ => {
                manager
                    .create_table(sqlite_signal_deliveries(Shape::Before))
                    .await?;
                db.execute_unprepared(&format!(
                    "INSERT INTO signal_deliveries_new ({OLD_COLUMNS}) \
                     SELECT {OLD_COLUMNS} FROM signal_deliveries"
                ))
                .await?;
                db.execute_unprepared("DROP TABLE signal_deliveries")
                    .await?;
                db.execute_unprepared(
                    "ALTER TABLE signal_deliveries_new RENAME TO signal_deliveries",
                )
                .await?;
            }
        }
        for index in OLD_DELIVERY_INDEX_SQL {
            db.execute_unprepared(index).await?;
        }
        db.execute_unprepared("DROP INDEX IF EXISTS ix_user_preferences_next_report")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Signals::Table)
                    .drop_column(Signals::SourceModel)
                    .to_owned(),
            )
            .await?;
        for column in [UserPreferences::ReportHour, UserPreferences::NextReportAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UserPreferences::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            SignalOutcomes::Table.into_iden(),
            BotChats::Table.into_iden(),
            Destinations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn new_delivery_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(SignalDeliveries::Job)
            .string()
            .not_null()
            .default("signal")
            .to_owned(),
        ColumnDef::new(SignalDeliveries::DestinationId)
            .uuid()
            .null()
            .to_owned(),
        ColumnDef::new(SignalDeliveries::ThreadId)
            .big_integer()
            .null()
            .to_owned(),
        ColumnDef::new(SignalDeliveries::ReportPeriod)
            .string()
            .null()
            .to_owned(),
    ]
}

/// Which shape of `signal_deliveries` SQLite's rebuild makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Before,
    After,
}

/// `signal_deliveries` as it is before or after this migration, for SQLite's rebuild (named
/// `signal_deliveries_new` until it replaces the old table).
fn sqlite_signal_deliveries(shape: Shape) -> TableCreateStatement {
    use SignalDeliveries as D;
    let required = |mut column: ColumnDef| {
        if shape == Shape::Before {
            column.not_null();
        } else {
            column.null();
        }
        column
    };
    let mut table = Table::create();
    table
        .table(Alias::new("signal_deliveries_new"))
        .col(
            ColumnDef::new(D::Id)
                .uuid()
                .not_null()
                .primary_key()
                .to_owned(),
        )
        .col(required(ColumnDef::new(D::SignalId).uuid().to_owned()))
        .col(required(ColumnDef::new(D::UserId).uuid().to_owned()))
        .col(ColumnDef::new(D::ChatId).big_integer().not_null())
        .col(ColumnDef::new(D::Format).string().not_null())
        .col(
            ColumnDef::new(D::Status)
                .string()
                .not_null()
                .default("pending"),
        )
        .col(ColumnDef::new(D::Attempts).integer().not_null().default(0))
        .col(ColumnDef::new(D::LastError).text().null())
        .col(ColumnDef::new(D::TelegramMessageId).big_integer().null())
        .col(timestamp(D::CreatedAt).not_null())
        .col(timestamp(D::UpdatedAt).not_null())
        .col(timestamp(D::DeliveredAt).null())
        .col(timestamp(D::ReadAt).null())
        .col(
            ColumnDef::new(D::Priority)
                .small_integer()
                .not_null()
                .default(2),
        )
        .col(timestamp(D::SignalGeneratedAt).null())
        .col(timestamp(D::Deadline).null())
        .col(timestamp(D::NextAttemptAt).null())
        .col(timestamp(D::LeaseUntil).null())
        .col(
            ColumnDef::new(D::UnknownSends)
                .integer()
                .not_null()
                .default(0),
        )
        .col(
            ColumnDef::new(D::Silent)
                .boolean()
                .not_null()
                .default(false),
        )
        .col(
            ColumnDef::new(D::Language)
                .string()
                .not_null()
                .default("en"),
        )
        .col(ColumnDef::new(D::Hours).string().null());
    if shape == Shape::After {
        for column in new_delivery_columns() {
            table.col(column);
        }
    }
    table
        .foreign_key(
            ForeignKey::create()
                .name("fk_signal_deliveries_signal")
                .from(Alias::new("signal_deliveries_new"), D::SignalId)
                .to(Signals::Table, Signals::Id)
                .on_delete(ForeignKeyAction::Restrict),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_signal_deliveries_user")
                .from(Alias::new("signal_deliveries_new"), D::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    if shape == Shape::After {
        table.foreign_key(
            ForeignKey::create()
                .name("fk_signal_deliveries_destination")
                .from(Alias::new("signal_deliveries_new"), D::DestinationId)
                .to(Destinations::Table, Destinations::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    }
    table.to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().to_owned()
}

fn destinations() -> TableCreateStatement {
    use Destinations as T;
    Table::create()
        .table(T::Table)
        .col(
            ColumnDef::new(T::Id)
                .uuid()
                .not_null()
                .primary_key()
                .to_owned(),
        )
        .col(ColumnDef::new(T::ChatId).big_integer().not_null())
        .col(ColumnDef::new(T::ThreadId).big_integer().null())
        .col(ColumnDef::new(T::Name).string().not_null())
        .col(ColumnDef::new(T::SignalTypes).json().not_null())
        .col(ColumnDef::new(T::Assets).json().not_null())
        .col(
            ColumnDef::new(T::MinConfidence)
                .integer()
                .not_null()
                .default(0),
        )
        .col(
            ColumnDef::new(T::SignalFormat)
                .string()
                .not_null()
                .default("detailed"),
        )
        .col(
            ColumnDef::new(T::Language)
                .string()
                .not_null()
                .default("en"),
        )
        .col(
            ColumnDef::new(T::IsActive)
                .boolean()
                .not_null()
                .default(true),
        )
        .col(ColumnDef::new(T::InactiveReason).string().null())
        .col(ColumnDef::new(T::CreatedBy).string().not_null())
        .col(timestamp(T::CreatedAt).not_null())
        .col(timestamp(T::UpdatedAt).not_null())
        .col(timestamp(T::RemovedAt).null())
        .to_owned()
}

fn bot_chats() -> TableCreateStatement {
    use BotChats as T;
    Table::create()
        .table(T::Table)
        .col(
            ColumnDef::new(T::ChatId)
                .big_integer()
                .not_null()
                .primary_key()
                .to_owned(),
        )
        .col(ColumnDef::new(T::Kind).string().not_null())
        .col(ColumnDef::new(T::Title).string().null())
        .col(
            ColumnDef::new(T::IsForum)
                .boolean()
                .not_null()
                .default(false),
        )
        .col(ColumnDef::new(T::Status).string().not_null())
        .col(ColumnDef::new(T::ChangedBy).big_integer().null())
        .col(timestamp(T::UpdatedAt).not_null())
        .to_owned()
}

fn signal_outcomes() -> TableCreateStatement {
    use SignalOutcomes as T;
    Table::create()
        .table(T::Table)
        .col(
            ColumnDef::new(T::SignalId)
                .uuid()
                .not_null()
                .primary_key()
                .to_owned(),
        )
        .col(
            ColumnDef::new(T::CloseSignalId)
                .uuid()
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(T::Kind).string().not_null())
        .col(ColumnDef::new(T::Asset).string().not_null())
        .col(ColumnDef::new(T::SourceModel).string().null())
        .col(ColumnDef::new(T::EntryPrice).string().null())
        .col(ColumnDef::new(T::ExitPrice).string().null())
        .col(ColumnDef::new(T::ReturnPct).string().null())
        .col(ColumnDef::new(T::Reason).string().null())
        .col(timestamp(T::OpenedAt).not_null())
        .col(timestamp(T::ClosedAt).not_null())
        .col(timestamp(T::RecordedAt).not_null())
        .foreign_key(
            ForeignKey::create()
                .name("fk_signal_outcomes_signal")
                .from(T::Table, T::SignalId)
                .to(Signals::Table, Signals::Id)
                .on_delete(ForeignKeyAction::Restrict),
        )
        .foreign_key(
            ForeignKey::create()
                .name("fk_signal_outcomes_close")
                .from(T::Table, T::CloseSignalId)
                .to(Signals::Table, Signals::Id)
                .on_delete(ForeignKeyAction::Restrict),
        )
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Signals {
    Table,
    Id,
    SourceModel,
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    ReportHour,
    NextReportAt,
}

#[derive(DeriveIden)]
enum SignalDeliveries {
    Table,
    Id,
    SignalId,
    UserId,
    ChatId,
    Format,
    Status,
    Attempts,
    LastError,
    TelegramMessageId,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
    ReadAt,
    Priority,
    SignalGeneratedAt,
    Deadline,
    NextAttemptAt,
    LeaseUntil,
    UnknownSends,
    Silent,
    Language,
    Hours,
    Job,
    DestinationId,
    ThreadId,
    ReportPeriod,
}

#[derive(DeriveIden)]
enum Destinations {
    Table,
    Id,
    ChatId,
    ThreadId,
    Name,
    SignalTypes,
    Assets,
    MinConfidence,
    SignalFormat,
    Language,
    IsActive,
    InactiveReason,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    RemovedAt,
}

#[derive(DeriveIden)]
enum BotChats {
    Table,
    ChatId,
    Kind,
    Title,
    IsForum,
    Status,
    ChangedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SignalOutcomes {
    Table,
    SignalId,
    CloseSignalId,
    Kind,
    Asset,
    SourceModel,
    EntryPrice,
    ExitPrice,
    ReturnPct,
    Reason,
    OpenedAt,
    ClosedAt,
    RecordedAt,
}
