//! SQLite connection set-up and the prepared-statement helpers every store
//! file uses.
//!
//! Invariant: hot statements go through the connection's statement cache;
//! every connection runs WAL with `synchronous = FULL` and foreign keys on.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;
use super::migrations;

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
