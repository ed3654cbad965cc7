//! The one error type of this crate.

use sea_orm::{DbErr, SqlErr};
use uuid::Uuid;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported backend or cannot be parsed.
    #[error("unsupported database URL {url}: expected sqlite:… or postgres://…")]
    UnsupportedUrl {
        /// The URL, password removed.
        url: String,
    },
    /// Could not open the connection pool. The message never contains the URL's password.
    #[error("cannot connect to database {url}: {reason}")]
    Connect {
        /// The URL, password removed.
        url: String,
        /// What the driver said, password removed.
        reason: String,
    },
    /// Applying the migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[source] DbErr),
    /// The operation names a user that does not exist.
    #[error("no user with id {0}")]
    UnknownUser(Uuid),
    /// The operation names a delivery that does not exist.
    #[error("no delivery with id {0}")]
    UnknownDelivery(Uuid),
    /// The caller asked for something the store refuses, e.g. `record_final` with `sent`.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A stored value cannot be read back (an unknown status name, an unparseable payload…).
    #[error("corrupt stored data in {table} {id}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl StoreError {
    pub(crate) fn corrupt(table: &'static str, id: impl ToString, reason: impl ToString) -> Self {
        Self::Corrupt {
            table,
            id: id.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Maps a foreign-key violation on a write that names `user_id` to [`StoreError::UnknownUser`].
pub(crate) fn user_fk(user_id: Uuid) -> impl FnOnce(DbErr) -> StoreError {
    move |err| match err.sql_err() {
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::UnknownUser(user_id),
        _ => StoreError::Database(err),
    }
}
