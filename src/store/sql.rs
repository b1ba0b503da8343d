//! The one SQL surface every store file uses, over either backend: an
//! embedded SQLite connection or a PostgreSQL session.
//!
//! Invariants: statements are written once, in the common dialect (`?N`
//! placeholders, `ON CONFLICT`, `CAST(… AS BIGINT)` around sums; see
//! docs/architecture.md), and run through a per-connection statement cache;
//! nothing outside `src/store` can run SQL (the methods are `pub(super)`);
//! a value that does not fit the column it is read as is an error, never a guess.

use std::cell::RefCell;
use std::path::Path;

use rusqlite::Connection;

pub use super::arg::Arg;
pub(crate) use super::arg::args;
use super::error::StoreError;
use super::pg::PgConn;

/// A connection as the layers above see it: they hand it to store functions
/// and never run SQL on it themselves (tests/architecture.rs).
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(Connection),
    Postgres(Box<RefCell<PgConn>>),
}

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One result row.
pub struct Row<'r>(RowRef<'r>);

enum RowRef<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i` as `T`.
    pub fn get<T: Cell>(&self, i: usize) -> Result<T, StoreError> {
        match &self.0 {
            RowRef::Lite(r) => T::lite(r, i),
            RowRef::Pg(r) => T::pg(r, i),
        }
    }
}

/// A Rust type a column can be read as.
pub trait Cell: Sized {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError>;
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError>;
}

impl Cell for i64 {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(row.get(i)?)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        Option::<i64>::pg(row, i)?.ok_or_else(|| StoreError::Sqlite(format!("column {i} is NULL")))
    }
}
impl Cell for Option<i64> {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(row.get(i)?)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        super::pg::int_cell(row, i)
    }
}
impl Cell for u64 {
    /// A stored count or seq; a negative one (never written) reads as 0.
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(u64::try_from(i64::lite(row, i)?).unwrap_or(0))
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(u64::try_from(i64::pg(row, i)?).unwrap_or(0))
    }
}
impl Cell for String {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(row.get(i)?)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(i)?)
    }
}
impl Cell for Option<String> {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(row.get(i)?)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(i)?)
    }
}
impl Cell for Vec<u8> {
    fn lite(row: &rusqlite::Row<'_>, i: usize) -> Result<Self, StoreError> {
        Ok(row.get(i)?)
    }
    fn pg(row: &postgres::Row, i: usize) -> Result<Self, StoreError> {
        Ok(row.try_get(i)?)
    }
}

impl Db {
    pub(super) fn sqlite(conn: Connection) -> Self {
        Self { backend: Backend::Sqlite(conn) }
    }

    pub(super) fn postgres(conn: PgConn) -> Self {
        Self { backend: Backend::Postgres(Box::new(RefCell::new(conn))) }
    }

    /// Which backend this is.
    pub fn kind(&self) -> Kind {
        match self.backend {
            Backend::Sqlite(_) => Kind::Sqlite,
            Backend::Postgres(_) => Kind::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, the backup API).
    pub(super) fn as_sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// Run one statement; the number of rows it changed.
    pub(super) fn exec(&self, sql: &str, args: &[Arg<'_>]) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args))?),
            Backend::Postgres(c) => c.try_borrow_mut().map_err(|_| busy())?.exec(sql, args),
        }
    }

    /// The first row of a query, if any.
    pub(super) fn row<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, args, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// The first row of a query that always returns one (an aggregate).
    pub(super) fn one<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.row(sql, args, f)?.ok_or_else(|| StoreError::Sqlite(format!("no row from: {sql}")))
    }

    /// Every row of a query.
    pub(super) fn all<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.each(sql, args, |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Hand each row to `f`, one at a time, until it returns false; no row is
    /// kept after `f` returns (a long chain is read in constant memory). `f`
    /// must not use this connection.
    pub(super) fn each(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
                while let Some(r) = rows.next()? {
                    if !f(&Row(RowRef::Lite(r)))? {
                        break;
                    }
                }
                Ok(())
            }
            Backend::Postgres(c) => c.try_borrow_mut().map_err(|_| busy())?.each(sql, args, |r| f(&Row(RowRef::Pg(r)))),
        }
    }

    /// Run statements without arguments (transaction control, DDL).
    pub(super) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(c) => c.try_borrow_mut().map_err(|_| busy())?.batch(sql),
        }
    }

    /// Start a write transaction (SQLite takes the write lock at once).
    pub(super) fn begin_write(&self) -> Result<(), StoreError> {
        match self.kind() {
            Kind::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Kind::Postgres => self.batch("BEGIN"),
        }
    }

    /// Whether a transaction is open: false if the database rolled it back by
    /// itself (SQLite on disk full) or the session was lost (PostgreSQL).
    pub(super) fn in_transaction(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(c) => !c.is_autocommit(),
            Backend::Postgres(c) => c.try_borrow().map(|c| c.in_transaction()).unwrap_or(false),
        }
    }

    /// Commit the open transaction. On PostgreSQL a lost session during
    /// COMMIT is [`StoreError::CommitUnknown`]: it may or may not have committed.
    pub(super) fn commit(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch("COMMIT")?),
            Backend::Postgres(c) => c.try_borrow_mut().map_err(|_| busy())?.commit(),
        }
    }

    /// Roll the open transaction back, if there is one (best effort).
    pub(super) fn rollback(&self) {
        if self.in_transaction() {
            let _ = self.batch("ROLLBACK");
        }
    }

    /// Limit what the following statements of this transaction may see and
    /// write to one tenant's rows (`Some`), or to platform rows (`None`):
    /// PostgreSQL's row-level security reads this setting; SQLite has no
    /// second line of defence and ignores it (every query names its tenant).
    pub fn set_scope(&self, tenant: Option<&str>) -> Result<(), StoreError> {
        if self.kind() == Kind::Postgres {
            self.one("SELECT set_config('tollgate.tenant', ?1, true)", args![tenant.unwrap_or(PLATFORM)], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Drop the scope: the following statements see no tenant's rows and no
    /// platform rows (every job and read starts so: fail closed).
    pub fn clear_scope(&self) -> Result<(), StoreError> {
        if self.kind() == Kind::Postgres {
            self.one("SELECT set_config('tollgate.tenant', '', true)", args![], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Whether a pooled connection can be handed out again.
    pub(super) fn is_usable(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => true,
            Backend::Postgres(c) => c.try_borrow().map(|c| !c.is_closed() && !c.in_transaction()).unwrap_or(false),
        }
    }

    /// The file behind a SQLite connection (None on PostgreSQL or in memory).
    pub fn path(&self) -> Option<&str> {
        self.as_sqlite().and_then(|c| c.path()).filter(|p| !p.is_empty())
    }
}

/// The scope value that selects platform rows (the `_system` chain, platform
/// keys, the platform principals' ledger); no tenant id can take it (tenant
/// ids are generated and never start with `_`).
pub const PLATFORM: &str = "_platform";

fn busy() -> StoreError {
    StoreError::Unavailable("a store connection was used while already in use".into())
}

/// Open a data dir's database read-only, outside a running server (offline
/// verification, the demo's final check).
pub fn open_read_only(db: &Path) -> Result<Db, StoreError> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(Db::sqlite(conn))
}

pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
