//! `tollgate store copy`: move a SQLite deployment into PostgreSQL.
//!
//! Invariants: the source is a stopped data dir (the caller holds its
//! exclusive lock); the target is migrated and empty (no tenant, no audit
//! record), else nothing is written; every row is copied in one transaction
//! with its ids (so `ORDER BY id` means the same), as the maintenance role;
//! every chain is verified on the target before the copy is reported done.

use super::audit_log;
use super::error::StoreError;
use super::sql::{Arg, Db, args};
use crate::audit::{ChainReport, PublicKey};

/// Tables in the order their foreign keys need.
const TABLES: &[&str] = &[
    "tenants",
    "namespaces",
    "api_keys",
    "billing",
    "billing_history",
    "audit_records",
    "checkpoints",
    "usage_events",
    "usage_totals",
    "idempotency",
    "consumed_request_states",
    "tenant_tombstones",
    "legal_holds",
    "deletion_plans",
    "cert_bindings",
    "idempotency_pending",
    "quota_holds",
    "denial_windows",
    "call_counts",
    "chain_verifications",
    "oauth_bindings",
    "oauth_invites",
];

/// Tables whose `id` PostgreSQL generates (kept from the source on copy).
const IDENTITY: &[&str] = &["checkpoints", "usage_events", "billing_history"];

/// What was copied and verified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    /// Rows per table, in copy order.
    pub rows: Vec<(String, u64)>,
    /// Every chain's verification on the target.
    pub chains: Vec<(String, u64)>,
}

/// Copy every row of `src` (SQLite) into `dst` (PostgreSQL, migrated,
/// empty), then verify every chain on `dst` against `trusted`. `progress`
/// hears each table as it is done.
pub fn copy(
    src: &Db,
    dst: &Db,
    trusted: &[PublicKey],
    progress: &mut dyn FnMut(&str, u64),
) -> Result<CopyReport, StoreError> {
    let sqlite =
        src.as_sqlite().ok_or_else(|| StoreError::Refused("the source of a copy is a SQLite data dir".into()))?;
    super::pg_schema::require_current(dst)?;
    let occupied = dst.one(
        "SELECT CAST((SELECT COUNT(*) FROM tenants) + (SELECT COUNT(*) FROM audit_records) AS BIGINT)",
        args![],
        |r| r.get::<i64>(0),
    )?;
    if occupied > 0 {
        return Err(StoreError::Refused(
            "the target database is not empty (it has tenants or audit records); copy into a fresh, migrated one"
                .into(),
        ));
    }
    dst.begin_write()?;
    let copied = copy_rows(sqlite, dst, progress);
    let rows = match copied.and_then(|rows| dst.commit().map(|()| rows)) {
        Ok(rows) => rows,
        Err(e) => {
            dst.rollback();
            return Err(e);
        }
    };
    let mut chains = Vec::new();
    for chain in audit_log::chains(dst)? {
        match audit_log::verify_stored(dst, &chain, trusted)? {
            Ok(ChainReport { records, .. }) => chains.push((chain, records)),
            Err(problem) => {
                return Err(StoreError::Audit(format!(
                    "chain {chain} does not verify after the copy: {problem}; the copy is committed but must not be served"
                )));
            }
        }
    }
    Ok(CopyReport { rows, chains })
}

fn copy_rows(
    src: &rusqlite::Connection,
    dst: &Db,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<Vec<(String, u64)>, StoreError> {
    // A table this copy does not know would be left behind: refuse instead.
    let mut stmt = src.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    if let Some(unknown) = names.iter().find(|n| !TABLES.contains(&n.as_str())) {
        return Err(StoreError::Refused(format!("the source has a table the copy does not know: {unknown}")));
    }
    let mut out = Vec::new();
    for table in TABLES {
        let columns: Vec<String> = {
            let mut stmt = src.prepare(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"))?;
            let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
            names.collect::<Result<_, _>>()?
        };
        let list = columns.join(", ");
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let overriding = if IDENTITY.contains(table) { " OVERRIDING SYSTEM VALUE" } else { "" };
        let insert = format!("INSERT INTO {table} ({list}){overriding} VALUES ({})", marks.join(", "));
        let mut stmt = src.prepare(&format!("SELECT {list} FROM {table}"))?;
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            let values: Vec<rusqlite::types::Value> =
                (0..columns.len()).map(|i| row.get::<_, rusqlite::types::Value>(i)).collect::<Result<_, _>>()?;
            let arguments: Vec<Arg<'_>> = values.iter().map(to_arg).collect::<Result<_, _>>()?;
            dst.exec(&insert, &arguments)?;
            n += 1;
        }
        if IDENTITY.contains(table) {
            dst.one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
                ),
                args![],
                |_| Ok(()),
            )?;
        }
        progress(table, n);
        out.push(((*table).to_owned(), n));
    }
    Ok(out)
}

fn to_arg(v: &rusqlite::types::Value) -> Result<Arg<'_>, StoreError> {
    use rusqlite::types::Value;
    Ok(match v {
        Value::Null => Arg::Null,
        Value::Integer(i) => Arg::Int(*i),
        Value::Text(s) => Arg::Text(s),
        Value::Blob(b) => Arg::Blob(b),
        Value::Real(_) => return Err(StoreError::Corrupt("a REAL value where tollgate writes none".into())),
    })
}
