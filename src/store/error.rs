//! Why a durable-store operation failed, and whether trying again can help.

use std::path::PathBuf;

use sqlx::error::{DatabaseError, ErrorKind};

/// Why a store operation failed. [`StoreError::is_retryable`] tells the record writer whether
/// to keep the record and try again, or set it aside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend this build supports.
    #[error("unsupported database URL scheme {scheme:?} (expected sqlite:// or postgres://)")]
    UnsupportedUrl {
        /// The scheme found (never the whole URL: it may hold a password).
        scheme: String,
    },
    /// The directory that holds the SQLite file could not be created.
    #[error("cannot create database directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The database could not be opened or reached.
    #[error("cannot connect to the database: {source}")]
    Connect {
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The embedded schema migrations could not be applied.
    #[error("cannot migrate the database schema: {source}")]
    Migrate {
        /// The migrator's error.
        source: sqlx::migrate::MigrateError,
    },
    /// A statement failed.
    #[error("database statement failed: {source}")]
    Query {
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A record holds a value its column cannot represent (a counter above `i64::MAX`).
    #[error("call record field {field} is out of range for the database")]
    OutOfRange {
        /// The record field.
        field: &'static str,
    },
    /// A stored row cannot be turned back into a call record.
    #[error("stored call {call_id}: {problem}")]
    CorruptRow {
        /// The `call_id` column of the row.
        call_id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

impl StoreError {
    /// Whether the same operation may succeed later: the database was unreachable, busy,
    /// full or restarting. Bad data, a schema mismatch or an unsupported URL never heal by
    /// waiting.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Connect { source } | StoreError::Query { source } => {
                sqlx_error_is_retryable(source)
            }
            StoreError::UnsupportedUrl { .. }
            | StoreError::CreateDir { .. }
            | StoreError::Migrate { .. }
            | StoreError::OutOfRange { .. }
            | StoreError::CorruptRow { .. } => false,
        }
    }

    pub(super) fn query(source: sqlx::Error) -> Self {
        StoreError::Query { source }
    }
}

fn sqlx_error_is_retryable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => true,
        sqlx::Error::Database(db) => database_error_is_retryable(db.as_ref()),
        _ => false,
    }
}

fn database_error_is_retryable(error: &dyn DatabaseError) -> bool {
    match error.kind() {
        ErrorKind::UniqueViolation
        | ErrorKind::ForeignKeyViolation
        | ErrorKind::NotNullViolation
        | ErrorKind::CheckViolation => false,
        _ => {
            if let Some(pg) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                // SQLSTATE classes 22 (data exception) and 42 (syntax error or access rule
                // violation, e.g. a missing table) are properties of the statement, not of
                // the moment.
                !(pg.code().starts_with("22") || pg.code().starts_with("42"))
            } else if let Some(code) = error
                .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                .and_then(|e| e.code())
            {
                // Primary result code = extended code & 0xff: 1 SQLITE_ERROR (bad SQL, missing
                // table), 18 TOOBIG, 20 MISMATCH, 25 RANGE are permanent; BUSY, LOCKED, FULL,
                // IOERR, READONLY and the rest may clear.
                !code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 1 | 18 | 20 | 25))
            } else {
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_retryable_and_bad_data_is_not() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(StoreError::query(sqlx::Error::Io(io)).is_retryable());
        assert!(StoreError::query(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!StoreError::query(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::OutOfRange { field: "bytes_in" }.is_retryable());
    }
}
