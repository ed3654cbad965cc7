//! The initial schema: every table Herald needs.

use sea_orm_migration::prelude::*;

/// Creates (and, going down, drops) the initial tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(users()).await?;
        manager.create_table(user_preferences()).await?;
        manager.create_table(user_subscriptions()).await?;
        manager.create_table(signals()).await?;
        manager.create_table(signal_deliveries()).await?;
        manager.create_table(api_keys()).await?;
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never dangle.
        for table in [
            Table::drop().table(ApiKeys::Table).to_owned(),
            Table::drop().table(SignalDeliveries::Table).to_owned(),
            Table::drop().table(Signals::Table).to_owned(),
            Table::drop().table(UserSubscriptions::Table).to_owned(),
            Table::drop().table(UserPreferences::Table).to_owned(),
            Table::drop().table(Users::Table).to_owned(),
        ] {
            manager.drop_table(table).await?;
        }
        Ok(())
    }
}

fn uuid_pk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
}

fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn timestamp_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}

fn flag(col: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(col)
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}

fn references_user(from: (impl IntoIden, impl IntoIden), name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn users() -> TableCreateStatement {
    Table::create()
        .table(Users::Table)
        .col(uuid_pk(Users::Id))
        .col(
            ColumnDef::new(Users::TelegramId)
                .big_integer()
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(Users::ChatId).big_integer().not_null())
        .col(text_null(Users::Username))
        .col(text_null(Users::FirstName))
        .col(text_null(Users::LastName))
        .col(timestamp(Users::CreatedAt))
        .col(flag(Users::IsActive, true))
        .col(flag(Users::IsAdmin, false))
        .to_owned()
}

fn user_preferences() -> TableCreateStatement {
    Table::create()
        .table(UserPreferences::Table)
        .col(uuid_pk(UserPreferences::UserId))
        .col(
            ColumnDef::new(UserPreferences::SignalTypes)
                .json()
                .not_null(),
        )
        .col(
            ColumnDef::new(UserPreferences::ConfidenceThreshold)
                .integer()
                .not_null()
                .default(0),
        )
        .col(
            ColumnDef::new(UserPreferences::NotificationHoursStart)
                .integer()
                .null(),
        )
        .col(
            ColumnDef::new(UserPreferences::NotificationHoursEnd)
                .integer()
                .null(),
        )
        .col(text(UserPreferences::SignalFormat).default("detailed"))
        .col(text(UserPreferences::PerformanceUpdateFrequency).default("weekly"))
        .col(timestamp(UserPreferences::UpdatedAt))
        .foreign_key(&mut references_user(
            (UserPreferences::Table, UserPreferences::UserId),
            "fk_user_preferences_user",
        ))
        .to_owned()
}

fn user_subscriptions() -> TableCreateStatement {
    Table::create()
        .table(UserSubscriptions::Table)
        .col(uuid_pk(UserSubscriptions::Id))
        .col(uuid(UserSubscriptions::UserId))
        .col(text(UserSubscriptions::SubscriptionType))
        .col(timestamp(UserSubscriptions::StartedAt))
        .col(timestamp_null(UserSubscriptions::ExpiresAt))
        .col(flag(UserSubscriptions::IsActive, true))
        .foreign_key(&mut references_user(
            (UserSubscriptions::Table, UserSubscriptions::UserId),
            "fk_user_subscriptions_user",
        ))
        .to_owned()
}

fn signals() -> TableCreateStatement {
    Table::create()
        .table(Signals::Table)
        .col(uuid_pk(Signals::Id))
        .col(text(Signals::Kind))
        .col(text(Signals::Asset))
        .col(ColumnDef::new(Signals::Confidence).integer().not_null())
        .col(timestamp(Signals::GeneratedAt))
        .col(timestamp(Signals::ReceivedAt))
        .col(ColumnDef::new(Signals::Payload).text().not_null())
        .to_owned()
}

fn signal_deliveries() -> TableCreateStatement {
    Table::create()
        .table(SignalDeliveries::Table)
        .col(uuid_pk(SignalDeliveries::Id))
        .col(uuid(SignalDeliveries::SignalId))
        .col(uuid(SignalDeliveries::UserId))
        .col(
            ColumnDef::new(SignalDeliveries::ChatId)
                .big_integer()
                .not_null(),
        )
        .col(text(SignalDeliveries::Format))
        .col(text(SignalDeliveries::Status).default("pending"))
        .col(
            ColumnDef::new(SignalDeliveries::Attempts)
                .integer()
                .not_null()
                .default(0),
        )
        .col(ColumnDef::new(SignalDeliveries::LastError).text().null())
        .col(
            ColumnDef::new(SignalDeliveries::TelegramMessageId)
                .big_integer()
                .null(),
        )
        .col(timestamp(SignalDeliveries::CreatedAt))
        .col(timestamp(SignalDeliveries::UpdatedAt))
        .col(timestamp_null(SignalDeliveries::DeliveredAt))
        .col(timestamp_null(SignalDeliveries::ReadAt))
        .foreign_key(
            ForeignKey::create()
                .name("fk_signal_deliveries_signal")
                .from(SignalDeliveries::Table, SignalDeliveries::SignalId)
                .to(Signals::Table, Signals::Id)
                .on_delete(ForeignKeyAction::Restrict),
        )
        .foreign_key(&mut references_user(
            (SignalDeliveries::Table, SignalDeliveries::UserId),
            "fk_signal_deliveries_user",
        ))
        .to_owned()
}

fn api_keys() -> TableCreateStatement {
    Table::create()
        .table(ApiKeys::Table)
        .col(uuid_pk(ApiKeys::Id))
        .col(text(ApiKeys::Name))
        .col(text(ApiKeys::KeyHash).unique_key())
        .col(text(ApiKeys::KeyPrefix))
        .col(timestamp(ApiKeys::CreatedAt))
        .col(timestamp_null(ApiKeys::LastUsedAt))
        .col(timestamp_null(ApiKeys::RevokedAt))
        .to_owned()
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ux_user_subscriptions_user_type")
            .table(UserSubscriptions::Table)
            .col(UserSubscriptions::UserId)
            .col(UserSubscriptions::SubscriptionType)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_signals_generated_at")
            .table(Signals::Table)
            .col(Signals::GeneratedAt)
            .to_owned(),
        Index::create()
            .name("ux_signal_deliveries_signal_user")
            .table(SignalDeliveries::Table)
            .col(SignalDeliveries::SignalId)
            .col(SignalDeliveries::UserId)
            .unique()
            .to_owned(),
        Index::create()
            .name("ix_signal_deliveries_signal_status")
            .table(SignalDeliveries::Table)
            .col(SignalDeliveries::SignalId)
            .col(SignalDeliveries::Status)
            .to_owned(),
        // Lets deleting a user cascade without scanning every delivery.
        Index::create()
            .name("ix_signal_deliveries_user")
            .table(SignalDeliveries::Table)
            .col(SignalDeliveries::UserId)
            .to_owned(),
    ]
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TelegramId,
    ChatId,
    Username,
    FirstName,
    LastName,
    CreatedAt,
    IsActive,
    IsAdmin,
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    UserId,
    SignalTypes,
    ConfidenceThreshold,
    NotificationHoursStart,
    NotificationHoursEnd,
    SignalFormat,
    PerformanceUpdateFrequency,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserSubscriptions {
    Table,
    Id,
    UserId,
    SubscriptionType,
    StartedAt,
    ExpiresAt,
    IsActive,
}

#[derive(DeriveIden)]
enum Signals {
    Table,
    Id,
    Kind,
    Asset,
    Confidence,
    GeneratedAt,
    ReceivedAt,
    Payload,
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
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    KeyHash,
    KeyPrefix,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}
