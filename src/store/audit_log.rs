//! The audit log tables: appending records and checkpoints, reading chains.
//!
//! Invariant: a record is appended with the next gapless seq of its chain and
//! the previous record's hash, inside the caller's transaction; rows are
//! stored as the canonical JSON that was hashed.

use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, WriteCx, exec, one};
use crate::audit::{
    AuditRecord, ChainReport, Checkpoint, GENESIS, Problem, PublicKey, RecordDraft, SYSTEM_CHAIN, canonical_json,
    verify_chain,
};

/// Append a record to `chain`. A deleted tenant's chain is sealed by its
/// deletion's record (`final_seq` of its tombstone): anything that arrives
/// for it later (a flood window flushed afterwards, a call admitted before
/// the deletion) goes to `_system`, its `tenant` field still naming the tenant.
pub fn append(cx: &mut WriteCx<'_>, chain: &str, draft: RecordDraft) -> Result<AuditRecord, StoreError> {
    let (mut chain, (mut seq, mut prev)) = (chain, next_link(cx.conn, chain)?);
    if chain != SYSTEM_CHAIN && sealed_at(cx.conn, chain)?.is_some_and(|final_seq| seq > final_seq) {
        chain = SYSTEM_CHAIN;
        (seq, prev) = next_link(cx.conn, chain)?;
    }
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

/// The seq and previous hash a new record of `chain` gets.
fn next_link(conn: &Connection, chain: &str) -> Result<(u64, String), StoreError> {
    Ok(match head(conn, chain)? {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_owned()),
    })
}

/// The final seq of a deleted tenant's chain (its tombstone's), if it was deleted.
pub fn sealed_at(conn: &Connection, chain: &str) -> Result<Option<u64>, StoreError> {
    Ok(one(conn, "SELECT final_seq FROM tenant_tombstones WHERE id = ?1", [chain], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|s| u64::try_from(s).unwrap_or(0)))
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
    let last_seq = records.last().map_or(0, |r| r.seq);
    Ok(verify_chain(chain, &records, &checkpoints, trusted).and_then(|report| match sealed_at(conn, chain) {
        Ok(Some(final_seq)) if final_seq != last_seq => Err(Problem::WrittenAfterSeal { final_seq, last_seq }),
        _ => Ok(report),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testing::sample_draft;
    use crate::store::lifecycle::{Tombstone, insert_tombstone};

    fn store() -> Connection {
        crate::store::sql::migrated_in_memory()
    }

    fn tombstone(conn: &Connection, final_seq: u64) {
        let t = Tombstone {
            id: "t_gone".into(),
            slug: "gone".into(),
            display_name: "Gone".into(),
            created_at: "2030-01-01T00:00:00Z".into(),
            deleted_at: "2030-01-02T00:00:00Z".into(),
            final_seq,
        };
        insert_tombstone(conn, &t).expect("tombstone");
    }

    #[test]
    fn a_sealed_chain_gets_nothing_more_and_a_chain_written_past_its_seal_fails_verification() {
        let conn = store();
        let mut cx = WriteCx { conn: &conn, appended: Vec::new() };
        for i in 1..=2 {
            append(&mut cx, "t_gone", sample_draft(i)).expect("append");
        }
        // Sealed at 2: a later record goes to `_system`, still naming the tenant.
        tombstone(&conn, 2);
        let late = append(&mut cx, "t_gone", sample_draft(3)).expect("append");
        assert_eq!((late.chain.as_str(), late.seq), (SYSTEM_CHAIN, 1));
        assert_eq!(head(&conn, "t_gone").expect("head").map(|(s, _)| s), Some(2));
        assert!(verify_stored(&conn, "t_gone", &[]).expect("read").is_ok());
        // A chain that does run past its seal (written around tollgate) is refused.
        let conn = store();
        let mut cx = WriteCx { conn: &conn, appended: Vec::new() };
        for i in 1..=3 {
            append(&mut cx, "t_gone", sample_draft(i)).expect("append");
        }
        tombstone(&conn, 2);
        let problem = verify_stored(&conn, "t_gone", &[]).expect("read").expect_err("written after the seal");
        assert_eq!(problem.code(), "written_after_seal");
    }
}
