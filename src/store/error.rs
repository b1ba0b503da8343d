//! The store's one error type.
//!
//! Invariant: every backend failure becomes a [`StoreError`]; disk-full and
//! corruption are `Unavailable`, so callers fail closed with -31503; an
//! unknown COMMIT outcome (PostgreSQL) is `CommitUnknown`.

/// A store failure. Cloneable so one failed commit can be reported to every caller of its batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotInitialized(String),
    #[error("{0} is already initialized (it has a tollgate.db); choose another directory or remove it")]
    AlreadyInitialized(String),
    #[error("the database has schema version {found}, newer than this binary supports ({supported}); upgrade tollgate")]
    TooNew { found: i64, supported: i64 },
    #[error(
        "the database has schema version {found}, written by a pre-release tollgate whose tool versions named \
         editions (e.g. `key.issue` v2 for single-tenant); its audit records and idempotency entries cannot be \
         renamed, so it is not opened. Start from a new data dir with `tollgate init` (see CHANGELOG.md, 0.1.0)"
    )]
    RetiredToolNames { found: i64 },
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Sqlite(String),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("audit: {0}")]
    Audit(String),
    /// The connection was lost while COMMIT was in flight: the batch may or
    /// may not be durable. Callers hear it as its own error, never as success
    /// or as a clean failure (a retry with the same idempotency key is safe).
    #[error("the database connection was lost during COMMIT; the outcome is unknown: {0}")]
    CommitUnknown(String),
    #[error("configuration: {0}")]
    Config(String),
    /// A PostgreSQL database not yet migrated, or a session that may not serve.
    #[error("{0}")]
    Refused(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && matches!(f.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::DatabaseCorrupt)
        {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Sqlite(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

impl From<crate::audit::AuditError> for StoreError {
    fn from(e: crate::audit::AuditError) -> Self {
        StoreError::Audit(e.to_string())
    }
}
