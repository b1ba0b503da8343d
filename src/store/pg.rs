//! A PostgreSQL session behind [`super::Db`]: the statement cache, the
//! translation of the common dialect, argument and column conversion, and
//! transaction state.
//!
//! Invariants: the URL's password is never logged (errors name the host and
//! database only); every session runs with `synchronous_commit` on and the
//! timeouts of [`SessionLimits`]; a COMMIT whose reply was lost is
//! [`StoreError::CommitUnknown`], never success and never a clean failure.

use std::collections::HashMap;
use std::error::Error as _;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use super::arg::Arg;
use super::error::StoreError;

/// Server-side limits every session sets at connect.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub statement_timeout_ms: u64,
    pub lock_timeout_ms: u64,
    pub idle_in_transaction_ms: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self { statement_timeout_ms: 30_000, lock_timeout_ms: 10_000, idle_in_transaction_ms: 60_000 }
    }
}

/// One session.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    in_transaction: bool,
}

impl PgConn {
    /// Connect to `url` and apply `limits`.
    pub fn connect(url: &str, limits: SessionLimits) -> Result<Self, StoreError> {
        let client = super::pg_tls::connect(url)?;
        let mut conn = Self { client, statements: HashMap::new(), in_transaction: false };
        conn.batch(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; SET idle_in_transaction_session_timeout = {}; \
             SET synchronous_commit = on; SET search_path = public",
            limits.statement_timeout_ms, limits.lock_timeout_ms, limits.idle_in_transaction_ms
        ))?;
        Ok(conn)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&dialect(sql)).map_err(|e| pg_error(&e))?;
        if self.statements.len() >= 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    pub(super) fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<usize, StoreError> {
        let stmt = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let n = self.client.execute(&stmt, &params).map_err(|e| pg_error(&e))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn each(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        mut f: impl FnMut(&postgres::Row) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        let mut rows = self.client.query_raw(&stmt, args.iter()).map_err(|e| pg_error(&e))?;
        while let Some(row) = rows.next().map_err(|e| pg_error(&e))? {
            if !f(&row)? {
                break;
            }
        }
        Ok(())
    }

    pub(super) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let outcome = self.client.batch_execute(sql).map_err(|e| pg_error(&e));
        let words: Vec<String> = sql.split_whitespace().take(2).map(str::to_ascii_uppercase).collect();
        match words.first().map(String::as_str) {
            Some("BEGIN") if outcome.is_ok() => self.in_transaction = true,
            Some("ROLLBACK") if words.get(1).is_none_or(|w| w != "TO") => self.in_transaction = false,
            _ => {}
        }
        if self.client.is_closed() {
            self.in_transaction = false;
        }
        outcome
    }

    pub(super) fn in_transaction(&self) -> bool {
        self.in_transaction && !self.client.is_closed()
    }

    pub(super) fn commit(&mut self) -> Result<(), StoreError> {
        self.in_transaction = false;
        match self.client.batch_execute("COMMIT") {
            Ok(()) => Ok(()),
            Err(e) if self.client.is_closed() || e.is_closed() => Err(StoreError::CommitUnknown(e.to_string())),
            Err(e) => Err(pg_error(&e)),
        }
    }

    /// Whether the session is gone (it is then dropped from its pool).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }
}

/// The common dialect in PostgreSQL's: `?N` placeholders become `$N`
/// (outside quoted text).
fn dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Arg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            Arg::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer argument cannot be {ty}").into()),
            },
            Arg::Text(s) => s.to_sql(ty, out),
            Arg::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// An integer column of any width (COUNT is BIGINT, a literal INTEGER).
pub(super) fn int_cell(row: &postgres::Row, i: usize) -> Result<Option<i64>, StoreError> {
    let ty =
        row.columns().get(i).map(|c| c.type_().clone()).ok_or_else(|| StoreError::Sqlite(format!("no column {i}")))?;
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?,
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(i64::from),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(i64::from),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(i64::from),
        other => return Err(StoreError::Sqlite(format!("column {i} is {other}, not an integer"))),
    })
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        pg_error(&e)
    }
}

/// Classify a PostgreSQL error: a lost session or a server shutting down is
/// `Unavailable` (callers fail closed with -31503 and retry), a timeout is
/// `Unavailable` too, the rest is a storage error with the server's message.
pub(super) fn pg_error(e: &postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("the database connection was lost: {e}"));
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // 57014 query_canceled (statement_timeout), 55P03 lock_not_available,
        // 57P01..03 shutdown and cannot-connect-now, 53xxx insufficient resources.
        if code == "57014" || code == "55P03" || code.starts_with("57P") || code.starts_with("53") {
            return StoreError::Unavailable(format!("{} ({code})", db.message()));
        }
        return StoreError::Sqlite(format!("{} ({code})", db.message()));
    }
    match e.source() {
        Some(s) => StoreError::Unavailable(format!("database: {s}")),
        None => StoreError::Sqlite(e.to_string()),
    }
}
