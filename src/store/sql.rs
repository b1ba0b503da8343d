//! SQLite connection set-up and the prepared-statement helpers every store
//! file uses.
//!
//! Invariant: hot statements go through the connection's statement cache;
//! every connection runs WAL with `synchronous = FULL` and foreign keys on.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;
use super::migrations;

/// A read connection as the layers above see it: they hand it to store
/// functions and never run SQL on it themselves (tests/architecture.rs).
pub type Db = Connection;

/// Open a data dir's database read-only, outside a running server (offline
/// verification, the demo's final check).
pub fn open_read_only(db: &Path) -> Result<Db, StoreError> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Execute a statement through the connection's prepared-statement cache
/// (hot paths run the same few statements thousands of times).
pub(crate) fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Query one row through the prepared-statement cache.
pub(crate) fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Open a write connection on a fresh database and migrate it (for `init`).
pub(crate) fn create_database(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrations::run(&mut conn)?;
    Ok(conn)
}

/// A migrated in-memory database, for the store's unit tests.
#[cfg(test)]
pub(crate) fn migrated_in_memory() -> Connection {
    let mut conn = Connection::open_in_memory().expect("open an in-memory database");
    migrations::run(&mut conn).expect("migrate");
    conn
}
