//! The audit log tables: appending records and checkpoints, reading chains.
//!
//! Invariant: a record is appended with the next gapless seq of its chain and
//! the previous record's hash, inside the caller's transaction; rows are
//! stored as the canonical JSON that was hashed.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, WriteCx, exec, one};
use crate::audit::{
    AuditRecord, ChainReport, Checkpoint, GENESIS, Problem, PublicKey, RecordDraft, canonical_json, verify_chain,
};

/// Append a record to `chain`.
pub fn append(cx: &mut WriteCx<'_>, chain: &str, draft: RecordDraft) -> Result<AuditRecord, StoreError> {
    let last: Option<(i64, String)> =
        one(cx.conn, "SELECT seq, hash FROM audit_records WHERE chain = ?1 ORDER BY seq DESC LIMIT 1", [chain], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (u64::try_from(s).unwrap_or(0) + 1, h),
        None => (1, GENESIS.to_owned()),
    };
    let record = AuditRecord::seal(chain, seq, &prev, draft)?;
    let text = canonical_json(&record.to_json())?;
    exec(
        cx.conn,
        "INSERT INTO audit_records (chain, seq, hash, record) VALUES (?1, ?2, ?3, ?4)",
        params![chain, i64::try_from(seq).unwrap_or(i64::MAX), record.hash, text],
    )?;
    cx.appended.push((chain.to_owned(), seq, record.hash.clone()));
    Ok(record)
}

/// Every chain name, sorted.
pub fn chains(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT DISTINCT chain FROM audit_records ORDER BY chain")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A chain's stored rows as (seq, stored JSON text), in seq order.
pub fn rows(conn: &Connection, chain: &str) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT seq, record FROM audit_records WHERE chain = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([chain], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The last (seq, hash) of a chain.
pub fn head(conn: &Connection, chain: &str) -> Result<Option<(u64, String)>, StoreError> {
    Ok(one(conn, "SELECT seq, hash FROM audit_records WHERE chain = ?1 ORDER BY seq DESC LIMIT 1", [chain], |r| {
        Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get(1)?))
    })
    .optional()?)
}

/// Store a signed checkpoint.
pub fn insert_checkpoint(conn: &Connection, cp: &Checkpoint) -> Result<(), StoreError> {
    let text = canonical_json(&cp.to_json())?;
    exec(
        conn,
        "INSERT INTO checkpoints (chain, seq, checkpoint) VALUES (?1, ?2, ?3)",
        params![cp.chain, i64::try_from(cp.seq).unwrap_or(i64::MAX), text],
    )?;
    Ok(())
}

/// A chain's checkpoints as stored JSON text, oldest first.
pub fn checkpoint_rows(conn: &Connection, chain: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT checkpoint FROM checkpoints WHERE chain = ?1 ORDER BY id")?;
    let rows = stmt.query_map([chain], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The highest checkpointed seq of every chain.
pub fn checkpointed(conn: &Connection) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT chain, MAX(seq) FROM checkpoints GROUP BY chain")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Load a stored chain and verify it against the trusted keys. The outer
/// error is the store failing; the inner one is the first problem found.
pub fn verify_stored(
    conn: &Connection,
    chain: &str,
    trusted: &[PublicKey],
) -> Result<Result<ChainReport, Problem>, StoreError> {
    let mut records = Vec::new();
    for (line, (_, text)) in rows(conn, chain)?.into_iter().enumerate() {
        let parsed = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| AuditRecord::from_json(&v).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => records.push(r),
            Err(detail) => return Ok(Err(Problem::Malformed { line: u64::try_from(line).unwrap_or(0) + 1, detail })),
        }
    }
    let mut checkpoints = Vec::new();
    for (line, text) in checkpoint_rows(conn, chain)?.into_iter().enumerate() {
        let parsed = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| e.to_string())
            .and_then(|v| Checkpoint::from_json(&v).map_err(|e| e.to_string()));
        match parsed {
            Ok(c) => checkpoints.push(c),
            Err(detail) => return Ok(Err(Problem::Malformed { line: u64::try_from(line).unwrap_or(0) + 1, detail })),
        }
    }
    Ok(verify_chain(chain, &records, &checkpoints, trusted))
}
