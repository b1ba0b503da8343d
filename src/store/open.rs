//! Opening a database outside a running store: a fresh SQLite one for
//! `init`, a deployment's for offline work, PostgreSQL for `migrate`.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;
use super::migrations;
use super::pg::PgConn;
use super::sql::{Db, configure, open_read_only};

/// Open a deployment's database for offline work (verification, export):
/// the data dir's SQLite file, or PostgreSQL at `url` (connect as the
/// maintenance role: it reads every tenant's rows).
pub fn open_database(dir: &Path, url: Option<&crate::config::DatabaseUrl>) -> Result<Db, StoreError> {
    match url {
        None => open_read_only(&dir.join(super::datadir::DB_FILE)),
        Some(url) => open_postgres(url),
    }
}

/// Open PostgreSQL at `url` for `tollgate migrate`.
pub fn open_postgres(url: &crate::config::DatabaseUrl) -> Result<Db, StoreError> {
    Ok(Db::postgres(PgConn::connect(url.expose(), Default::default())?))
}

/// Open a write connection on a fresh database and migrate it (for `init`).
pub(crate) fn create_database(path: &Path) -> Result<Db, StoreError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    let db = Db::sqlite(conn);
    migrations::run(&db)?;
    Ok(db)
}

/// A migrated in-memory database, for the store's unit tests.
#[cfg(test)]
pub(crate) fn migrated_in_memory() -> Db {
    let db = Db::sqlite(Connection::open_in_memory().expect("open an in-memory database"));
    migrations::run(&db).expect("migrate");
    db
}
