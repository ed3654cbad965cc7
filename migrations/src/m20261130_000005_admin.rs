//! The admin API: staff roles and their second factor, one-time login codes, scoped API keys,
//! the audit log and the server's generated secrets.
//!
//! - `users.staff_role`: `admin` (may change things) or `viewer` (may only read); null for
//!   a trader. `users.is_admin` is kept equal to `staff_role = 'admin'` (the spec's column).
//!   `users.staff_since`: when they last became staff; tokens issued before it are refused,
//!   so a revoked member's old tokens do not come back to life when they are granted again.
//! - `users.totp_secret` (base32, RFC 6238) and `users.totp_last_step` (the last 30-second
//!   step a code was accepted for, so that a code is never accepted twice, on any replica).
//! - `admin_login_codes`: the one-time codes the bot sends to an admin's chat, by SHA-256
//!   only; single use, short-lived, and burnt after a few wrong tries.
//! - `api_keys.scopes` (JSON array: `signals:write`, `stats:read`; existing keys get
//!   `signals:write`, what they could do before), `allowed_ips` (JSON array of CIDRs; empty
//!   for any address), `rate_limit` (requests per second per replica; null for none) and
//!   `created_by` (the admin who made it; null from the CLI).
//! - `audit_log`: every administrative change and every authentication failure: actor,
//!   action, target, source address, time and details (before and after, for changes);
//!   `occurrences` counts the same refusal coalesced into one row.
//! - `server_secrets`: secrets Herald generates once and every replica reads (the admin JWT
//!   key when `HERALD_ADMIN_JWT_SECRET` is unset).

use sea_orm_migration::prelude::*;

/// Adds the admin API's tables and columns.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::StaffRole).string().null().to_owned(),
            ),
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::StaffSince)
                    .timestamp_with_time_zone()
                    .null()
                    .to_owned(),
            ),
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::TotpSecret).string().null().to_owned(),
            ),
            (
                Users::Table.into_iden(),
                ColumnDef::new(Users::TotpLastStep)
                    .big_integer()
                    .null()
                    .to_owned(),
            ),
            (
                ApiKeys::Table.into_iden(),
                ColumnDef::new(ApiKeys::Scopes)
                    .json()
                    .not_null()
                    .default("[\"signals:write\"]")
                    .to_owned(),
            ),
            (
                ApiKeys::Table.into_iden(),
                ColumnDef::new(ApiKeys::AllowedIps)
                    .json()
                    .not_null()
                    .default("[]")
                    .to_owned(),
            ),
            (
                ApiKeys::Table.into_iden(),
                ColumnDef::new(ApiKeys::RateLimit)
                    .integer()
                    .null()
                    .to_owned(),
            ),
            (
                ApiKeys::Table.into_iden(),
                ColumnDef::new(ApiKeys::CreatedBy).uuid().null().to_owned(),
            ),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET staff_role = 'admin', staff_since = CURRENT_TIMESTAMP WHERE is_admin",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AdminLoginCodes::Table)
                    .col(
                        ColumnDef::new(AdminLoginCodes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AdminLoginCodes::UserId).uuid().not_null())
                    .col(
                        ColumnDef::new(AdminLoginCodes::CodeHash)
                            .string()
                            .not_null(),
                    )
                    .col(timestamp(AdminLoginCodes::CreatedAt))
                    .col(timestamp(AdminLoginCodes::ExpiresAt))
                    .col(
                        ColumnDef::new(AdminLoginCodes::UsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AdminLoginCodes::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_admin_login_codes_user")
                    .table(AdminLoginCodes::Table)
                    .col(AdminLoginCodes::UserId)
                    .col(AdminLoginCodes::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(ColumnDef::new(AuditLog::Id).uuid().not_null().primary_key())
                    .col(timestamp(AuditLog::At))
                    .col(ColumnDef::new(AuditLog::Actor).string().not_null())
                    .col(ColumnDef::new(AuditLog::Action).string().not_null())
                    .col(ColumnDef::new(AuditLog::Target).string().null())
                    .col(ColumnDef::new(AuditLog::Source).string().null())
                    .col(ColumnDef::new(AuditLog::Details).json().null())
                    .col(
                        ColumnDef::new(AuditLog::Occurrences)
                            .big_integer()
                            .not_null()
                            .default(1),
                    )
                    .to_owned(),
            )
            .await?;
        // Listing newest first, by actor, by action; and counting recent failures per
        // account and per address (the login's rate limit).
        for (name, cols) in [
            ("ix_audit_log_at", vec![AuditLog::At]),
            ("ix_audit_log_actor_at", vec![AuditLog::Actor, AuditLog::At]),
            (
                "ix_audit_log_action_at",
                vec![AuditLog::Action, AuditLog::At],
            ),
            (
                "ix_audit_log_source_at",
                vec![AuditLog::Source, AuditLog::At],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditLog::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .col(
                        ColumnDef::new(ServerSecrets::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ServerSecrets::Value).string().not_null())
                    .col(timestamp(ServerSecrets::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServerSecrets::Table.into_iden(),
            AuditLog::Table.into_iden(),
            AdminLoginCodes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        let columns = [
            (Users::Table.into_iden(), Users::StaffRole.into_iden()),
            (Users::Table.into_iden(), Users::StaffSince.into_iden()),
            (Users::Table.into_iden(), Users::TotpSecret.into_iden()),
            (Users::Table.into_iden(), Users::TotpLastStep.into_iden()),
            (ApiKeys::Table.into_iden(), ApiKeys::Scopes.into_iden()),
            (ApiKeys::Table.into_iden(), ApiKeys::AllowedIps.into_iden()),
            (ApiKeys::Table.into_iden(), ApiKeys::RateLimit.into_iden()),
            (ApiKeys::Table.into_iden(), ApiKeys::CreatedBy.into_iden()),
        ];
        for (table, column) in columns {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    StaffRole,
    StaffSince,
    TotpSecret,
    TotpLastStep,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Scopes,
    AllowedIps,
    RateLimit,
    CreatedBy,
}

#[derive(DeriveIden)]
enum AdminLoginCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    Attempts,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    Target,
    Source,
    Details,
    Occurrences,
}

#[derive(DeriveIden)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}
