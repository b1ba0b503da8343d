//! The audit log tables: appending records and checkpoints, reading chains.
//!
//! Invariant: a record is appended with the next gapless seq of its chain and
//! the previous record's hash, inside the caller's transaction; rows are
//! stored as the canonical JSON that was hashed; each append also counts the
//! record in `call_counts`, in the same transaction.

use super::sql::{Db, Kind, args};
use super::{StoreError, WriteCx};
use crate::audit::{
    AuditRecord, ChainReport, ChainVerifier, Checkpoint, GENESIS, Problem, PublicKey, RecordDraft, SYSTEM_CHAIN,
    canonical_json,
};

/// Append a record to `chain`. A deleted tenant's chain is sealed by its
/// deletion's record (`final_seq` of its tombstone): anything that arrives
/// for it later (a flood window flushed afterwards, a call admitted before
/// the deletion) goes to `_system`, its `tenant` field still naming the tenant.
///
/// The statements run under the chain's row-level-security scope (it is left
/// set: a caller that goes on names its own).
pub fn append(cx: &mut WriteCx<'_>, chain: &str, draft: RecordDraft) -> Result<AuditRecord, StoreError> {
    cx.conn.set_scope(chain_scope(chain))?;
    let (mut chain, (mut seq, mut prev)) = (chain, next_link(cx.conn, chain)?);
    let redirected = chain != SYSTEM_CHAIN && sealed_at(cx.conn, chain)?.is_some_and(|final_seq| seq > final_seq);
    if redirected {
        // The platform's chain, under the platform's scope for this one insert.
        cx.conn.set_scope(None)?;
        chain = SYSTEM_CHAIN;
        (seq, prev) = next_link(cx.conn, chain)?;
    }
    let record = AuditRecord::seal(chain, seq, &prev, draft)?;
    let text = canonical_json(&record.to_json())?;
    cx.conn.exec(
        "INSERT INTO audit_records (chain, seq, hash, record) VALUES (?1, ?2, ?3, ?4)",
        args![chain, i64::try_from(seq).unwrap_or(i64::MAX), record.hash, text],
    )?;
    super::call_counts::note(cx.conn, &record)?;
    cx.appended.push((chain.to_owned(), seq, record.hash.clone()));
    Ok(record)
}

/// The row-level-security scope a chain's rows live in: its tenant's, or the
/// platform's for `_system`.
pub fn chain_scope(chain: &str) -> Option<&str> {
    (chain != SYSTEM_CHAIN).then_some(chain)
}

/// The seq and previous hash a new record of `chain` gets.
fn next_link(conn: &Db, chain: &str) -> Result<(u64, String), StoreError> {
    Ok(match head(conn, chain)? {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_owned()),
    })
}

/// The final seq of a deleted tenant's chain (its tombstone's), if it was deleted.
pub fn sealed_at(conn: &Db, chain: &str) -> Result<Option<u64>, StoreError> {
    Ok(conn
        .row("SELECT final_seq FROM tenant_tombstones WHERE id = ?1", args![chain], |r| r.get::<i64>(0))?
        .map(|s| u64::try_from(s).unwrap_or(0)))
}

/// Every chain name, sorted.
pub fn chains(conn: &Db) -> Result<Vec<String>, StoreError> {
    conn.all("SELECT DISTINCT chain FROM audit_records ORDER BY chain", args![], |r| r.get(0))
}

/// The last (seq, hash) of a chain.
pub fn head(conn: &Db, chain: &str) -> Result<Option<(u64, String)>, StoreError> {
    conn.row("SELECT seq, hash FROM audit_records WHERE chain = ?1 ORDER BY seq DESC LIMIT 1", args![chain], |r| {
        Ok((u64::try_from(r.get::<i64>(0)?).unwrap_or(0), r.get(1)?))
    })
}

/// Store a signed checkpoint.
pub fn insert_checkpoint(conn: &Db, cp: &Checkpoint) -> Result<(), StoreError> {
    let text = canonical_json(&cp.to_json())?;
    conn.exec(
        "INSERT INTO checkpoints (chain, seq, checkpoint) VALUES (?1, ?2, ?3)",
        args![cp.chain, i64::try_from(cp.seq).unwrap_or(i64::MAX), text],
    )?;
    Ok(())
}

/// A chain's checkpoints as stored JSON text, oldest first.
pub fn checkpoint_rows(conn: &Db, chain: &str) -> Result<Vec<String>, StoreError> {
    conn.all("SELECT checkpoint FROM checkpoints WHERE chain = ?1 ORDER BY id", args![chain], |r| r.get(0))
}

/// Every chain's head and its highest checkpointed seq: (chain, seq, hash,
/// checkpointed). Platform work across chains (on PostgreSQL through
/// `tollgate_chain_heads`).
pub fn heads(conn: &Db) -> Result<Vec<(String, u64, String, u64)>, StoreError> {
    let sql = match conn.kind() {
        Kind::Postgres => "SELECT chain, seq, hash, checkpointed FROM tollgate_chain_heads()",
        Kind::Sqlite => {
            "SELECT h.chain, h.seq, r.hash, COALESCE((SELECT MAX(c.seq) FROM checkpoints c WHERE c.chain = h.chain), 0) \
             FROM (SELECT chain, MAX(seq) AS seq FROM audit_records GROUP BY chain) h \
             JOIN audit_records r ON r.chain = h.chain AND r.seq = h.seq ORDER BY h.chain"
        }
    };
    conn.all(sql, args![], |r| Ok((r.get(0)?, r.get::<u64>(1)?, r.get(2)?, r.get::<u64>(3)?)))
}

/// The highest checkpointed seq of every chain.
pub fn checkpointed(conn: &Db) -> Result<Vec<(String, u64)>, StoreError> {
    conn.all("SELECT chain, MAX(seq) FROM checkpoints GROUP BY chain", args![], |r| {
        Ok((r.get(0)?, u64::try_from(r.get::<i64>(1)?).unwrap_or(0)))
    })
}

/// Verify a stored chain against the trusted keys, reading its records one
/// row at a time (memory does not grow with the chain: the verifier keeps
/// the previous hash and the checkpoints). The outer error is the store
/// failing; the inner one is the first problem found, the same as loading the
/// whole chain would give: a malformed record row first, then a malformed
/// checkpoint row, then the chain's own checks.
pub fn verify_stored(
    conn: &Db,
    chain: &str,
    trusted: &[PublicKey],
) -> Result<Result<ChainReport, Problem>, StoreError> {
    // Checkpoints first (one per signing interval, few): the verifier must
    // know which records' hashes to keep.
    let (mut checkpoints, mut checkpoint_problem) = (Vec::new(), None);
    each_text(conn, "SELECT checkpoint FROM checkpoints WHERE chain = ?1 ORDER BY id", chain, |line, text| {
        match parse(text, Checkpoint::from_json) {
            Ok(c) => checkpoints.push(c),
            Err(detail) => checkpoint_problem = Some(Problem::Malformed { line, detail }),
        }
        checkpoint_problem.is_none()
    })?;
    let mut verifier = ChainVerifier::new(chain, 1, GENESIS, checkpoints);
    let mut malformed = None;
    each_text(conn, "SELECT record FROM audit_records WHERE chain = ?1 ORDER BY seq", chain, |line, text| {
        match parse(text, AuditRecord::from_json) {
            Ok(r) => verifier.push(&r),
            Err(detail) => malformed = Some(Problem::Malformed { line, detail }),
        }
        malformed.is_none()
    })?;
    if let Some(problem) = malformed.or(checkpoint_problem) {
        return Ok(Err(problem));
    }
    Ok(verifier.finish(trusted).and_then(|report| match sealed_at(conn, chain) {
        Ok(Some(final_seq)) if final_seq != report.last_seq => {
            Err(Problem::WrittenAfterSeal { final_seq, last_seq: report.last_seq })
        }
        _ => Ok(report),
    }))
}

/// Parse one stored row's JSON text with `from_json`.
fn parse<T, E: std::fmt::Display>(
    text: &str,
    from_json: impl Fn(&serde_json::Value) -> Result<T, E>,
) -> Result<T, String> {
    let value = serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())?;
    from_json(&value).map_err(|e| e.to_string())
}

/// Run `sql` (one text column, `?1` the chain) and hand each row's text to
/// `f` with its 1-based line number, one row at a time, until `f` returns
/// false: no row is kept after `f` returns.
fn each_text(conn: &Db, sql: &str, chain: &str, mut f: impl FnMut(u64, &str) -> bool) -> Result<(), StoreError> {
    let mut line = 0u64;
    conn.each(sql, args![chain], |row| {
        line += 1;
        let text: String = row.get(0)?;
        Ok(f(line, &text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::testing::sample_draft;
    use crate::store::lifecycle::{Tombstone, insert_tombstone};

    fn store() -> Db {
        crate::store::open::migrated_in_memory()
    }

    fn tombstone(conn: &Db, final_seq: u64) {
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

    /// A chain `t_acme` of `n` records with checkpoints at `at`, signed by
    /// test key 1; returns the records as appended and the trusted keys.
    fn stored_chain(conn: &Db, n: u64, at: &[u64]) -> (Vec<AuditRecord>, Vec<PublicKey>) {
        let key = crate::audit::testing::test_key(1);
        let mut cx = WriteCx { conn, appended: Vec::new() };
        let records: Vec<AuditRecord> =
            (1..=n).map(|i| append(&mut cx, "t_acme", sample_draft(i)).expect("append")).collect();
        for &seq in at {
            let r = &records[usize::try_from(seq).expect("seq") - 1];
            insert_checkpoint(conn, &Checkpoint::sign(&key, "t_acme", seq, &r.hash, &r.ts).expect("sign"))
                .expect("checkpoint");
        }
        (records, vec![key.public_key()])
    }

    /// Tampering from outside tollgate: the append-only triggers dropped first.
    fn around_tollgate(conn: &Db) {
        conn.batch("DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS audit_records_no_delete;")
            .expect("drop triggers");
    }

    fn set_record(conn: &Db, seq: i64, text: &str) {
        around_tollgate(conn);
        conn.exec("UPDATE audit_records SET record = ?1 WHERE chain = 't_acme' AND seq = ?2", args![text, seq])
            .expect("update");
    }

    #[test]
    fn a_stored_chain_verified_row_by_row_reports_what_the_whole_chain_verified_at_once_does() {
        let conn = store();
        let (records, keys) = stored_chain(&conn, 250, &[1, 100, 200]);
        let checkpoints: Vec<Checkpoint> = checkpoint_rows(&conn, "t_acme")
            .expect("rows")
            .iter()
            .map(|t| Checkpoint::from_json(&serde_json::from_str(t).expect("json")).expect("checkpoint"))
            .collect();
        let streamed = verify_stored(&conn, "t_acme", &keys).expect("read").expect("valid");
        assert_eq!(streamed, crate::audit::verify_chain("t_acme", &records, &checkpoints, &keys).expect("valid"));
        assert_eq!((streamed.records, streamed.checkpoints, streamed.covered_seq), (250, 3, 200));
        assert_eq!(streamed.last_hash, records[249].hash);
        // Untrusted keys are refused the same way.
        let untrusted = verify_stored(&conn, "t_acme", &[]).expect("read").expect_err("untrusted");
        assert_eq!(untrusted.code(), "untrusted_key");
    }

    #[test]
    fn a_tampered_row_is_named_at_its_seq_unless_a_later_row_is_malformed() {
        let conn = store();
        let (records, keys) = stored_chain(&conn, 20, &[10]);
        // Re-hashing is not checked by SQL: change the tool name inside row 3's JSON.
        let mut tampered = records[2].to_json();
        tampered["tool"] = serde_json::json!("key.issue");
        set_record(&conn, 3, &canonical_json(&tampered).expect("canonical"));
        let problem = verify_stored(&conn, "t_acme", &keys).expect("read").expect_err("tampered");
        assert_eq!((problem.code(), problem.seq()), ("bad_hash", Some(3)));
        // A row that is not a record at all is reported first, by its line,
        // exactly as when the whole chain was parsed before it was checked.
        set_record(&conn, 7, "not json");
        let problem = verify_stored(&conn, "t_acme", &keys).expect("read").expect_err("malformed");
        assert!(matches!(problem, Problem::Malformed { line: 7, .. }), "{problem:?}");
    }

    #[test]
    fn a_checkpoint_past_the_stored_end_is_truncation() {
        let conn = store();
        let (_, keys) = stored_chain(&conn, 12, &[12]);
        around_tollgate(&conn);
        conn.exec("DELETE FROM audit_records WHERE chain = 't_acme' AND seq > 9", args![]).expect("delete");
        let problem = verify_stored(&conn, "t_acme", &keys).expect("read").expect_err("truncated");
        assert_eq!(problem, Problem::Truncated { checkpoint_seq: 12, last_seq: 9 });
    }
}
