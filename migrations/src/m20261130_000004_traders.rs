//! Traders run everything from chat: the rest of their preferences, subscription tiers, and
//! the services' heartbeats.
//!
//! - `user_preferences`: `silent_types` (JSON array: the kinds, and `report`, delivered
//!   without a sound; `signal_types` keeps the kinds delivered at all), `assets` (JSON
//!   array; empty for every asset), `time_zone` (IANA name or `UTC+05:30`; the notification
//!   hours are in it), `outside_hours` (`silent` or `skip`), `language` (`en`, `es`) and
//!   `version` (raised by every change, so that a change made from a menu or a command
//!   applies only to the preferences it was made from).
//! - `users.language_code`: Telegram's, as last seen (the default language at registration).
//! - `subscription_tiers`: what each tier carries (kinds, assets, minimum confidence), its
//!   delay after the signal and its expiry; a fresh install has one, `standard`, which
//!   carries everything at once for as long as the trader stays. `user_subscriptions.tier`
//!   names the trader's (null: the default tier).
//! - `signal_deliveries.silent` (the trader takes this kind silently), `language` (the
//!   message's language) and `hours` (the trader's notification hours, zone and choice
//!   outside them, e.g. `22-06 Europe/Madrid skip`, checked when the message goes out; null
//!   for any time), recorded with the format when the delivery is.
//! - `ix_signals_received_at`: `/signals` reads the newest signals first.
//! - `service_heartbeats`: one row per running service instance, refreshed every few
//!   seconds (`/status` reads it).

use sea_orm_migration::prelude::*;

/// Adds the preference columns, the tiers and the heartbeats.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            (
                UserPreferences::Table.into_iden(),
                json_list(UserPreferences::SilentTypes),
            ),
            (
                UserPreferences::Table.into_iden(),
                json_list(UserPreferences::Assets),
            ),
            (
                UserPreferences::Table.into_iden(),
                text(UserPreferences::TimeZone, "UTC"),
            ),
            (
                UserPreferences::Table.into_iden(),
                text(UserPreferences::OutsideHours, "silent"),
            ),
            (
                UserPreferences::Table.into_iden(),
                text(UserPreferences::Language, "en"),
            ),
            (
                UserPreferences::Table.into_iden(),
                ColumnDef::new(UserPreferences::Version)
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ),
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::LanguageCode)
                    .string()
                    .null()
                    .to_owned(),
            ),
            (
                UserSubscriptions::Table.into_iden(),
                ColumnDef::new(UserSubscriptions::Tier)
                    .string()
                    .null()
                    .to_owned(),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                ColumnDef::new(SignalDeliveries::Silent)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                text(SignalDeliveries::Language, "en"),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                ColumnDef::new(SignalDeliveries::Hours)
                    .string()
                    .null()
                    .to_owned(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SubscriptionTiers::Table)
                    .col(
                        ColumnDef::new(SubscriptionTiers::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(json_list(SubscriptionTiers::SignalTypes))
                    .col(json_list(SubscriptionTiers::Assets))
                    .col(
                        ColumnDef::new(SubscriptionTiers::MinConfidence)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(SubscriptionTiers::DelaySeconds)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(SubscriptionTiers::ExpiryDays)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(SubscriptionTiers::IsDefault)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(timestamp(SubscriptionTiers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO subscription_tiers \
                 (name, signal_types, assets, min_confidence, delay_seconds, expiry_days, is_default, updated_at) \
                 VALUES ('standard', '[\"buy\",\"sell\",\"close\",\"alert\"]', '[]', 0, 0, NULL, TRUE, CURRENT_TIMESTAMP)",
            )
            .await?;

        // `/signals`: the newest signals first.
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX ix_signals_received_at ON signals (received_at)")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceHeartbeats::Table)
                    .col(
                        ColumnDef::new(ServiceHeartbeats::Service)
                            .string()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServiceHeartbeats::Instance)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(ServiceHeartbeats::StartedAt))
                    .col(timestamp(ServiceHeartbeats::BeatAt))
                    .primary_key(
                        Index::create()
                            .col(ServiceHeartbeats::Service)
                            .col(ServiceHeartbeats::Instance),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The status before this migration did not exist: such deliveries were never sent,
        // which the older code reads as `expired`.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE signal_deliveries SET status = 'expired' WHERE status = 'skipped'",
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_signals_received_at")
            .await?;
        manager
            .drop_table(Table::drop().table(ServiceHeartbeats::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SubscriptionTiers::Table).to_owned())
            .await?;
        let columns = [
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::SilentTypes.into_iden(),
            ),
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::Assets.into_iden(),
            ),
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::TimeZone.into_iden(),
            ),
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::OutsideHours.into_iden(),
            ),
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::Language.into_iden(),
            ),
            (
                UserPreferences::Table.into_iden(),
                UserPreferences::Version.into_iden(),
            ),
            (Users::Table.into_iden(), Users::LanguageCode.into_iden()),
            (
                UserSubscriptions::Table.into_iden(),
                UserSubscriptions::Tier.into_iden(),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                SignalDeliveries::Silent.into_iden(),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                SignalDeliveries::Language.into_iden(),
            ),
            (
                SignalDeliveries::Table.into_iden(),
                SignalDeliveries::Hours.into_iden(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn json_list(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .json()
        .not_null()
        .default("[]")
        .to_owned()
}

fn text(col: impl IntoIden, default: &str) -> ColumnDef {
    ColumnDef::new(col)
        .string()
        .not_null()
        .default(default)
        .to_owned()
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    SilentTypes,
    Assets,
    TimeZone,
    OutsideHours,
    Language,
    Version,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LanguageCode,
}

#[derive(DeriveIden)]
enum UserSubscriptions {
    Table,
    Tier,
}

#[derive(DeriveIden)]
enum SignalDeliveries {
    Table,
    Silent,
    Language,
    Hours,
}

#[derive(DeriveIden)]
enum SubscriptionTiers {
    Table,
    Name,
    SignalTypes,
    Assets,
    MinConfidence,
    DelaySeconds,
    ExpiryDays,
    IsDefault,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServiceHeartbeats {
    Table,
    Service,
    Instance,
    StartedAt,
    BeatAt,
}
