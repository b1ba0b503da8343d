//! The last verification of each audit chain, stored when `audit.verify`
//! runs, so the operator console can say when each chain was last checked
//! and what was found.
//!
//! Invariant: one row per chain, replaced by each newer verification; it is
//! a note about the log, never part of it (the log stays append-only).

use super::StoreError;
use super::sql::{Db, args};

/// One chain's last verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The chain verified (a tenant id or `_system`).
    pub chain: String,
    pub verified_at: String,
    pub valid: bool,
    pub records_checked: u64,
    /// The first problem's stable code, if any.
    pub problem_code: Option<String>,
    pub problem_seq: Option<u64>,
    /// Who ran it (a key id; never a secret).
    pub verified_by: String,
}

/// Store a verification as its chain's latest.
pub fn put(conn: &Db, v: &Verification) -> Result<(), StoreError> {
    // The row is the verified chain's (row-level security on PostgreSQL).
    conn.set_scope(super::audit_log::chain_scope(&v.chain))?;
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    conn.exec(
        "INSERT INTO chain_verifications \
         (tenant_id, verified_at, valid, records_checked, problem_code, problem_seq, verified_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (tenant_id) DO UPDATE SET verified_at = excluded.verified_at, valid = excluded.valid, \
         records_checked = excluded.records_checked, problem_code = excluded.problem_code, \
         problem_seq = excluded.problem_seq, verified_by = excluded.verified_by",
        args![
            v.chain,
            v.verified_at,
            i64::from(v.valid),
            n(v.records_checked),
            v.problem_code,
            v.problem_seq.map(n),
            v.verified_by
        ],
    )?;
    Ok(())
}

/// Every chain's last verification, newest first.
pub fn all(conn: &Db) -> Result<Vec<Verification>, StoreError> {
    newest(conn, i64::MAX)
}

/// The newest verification of any chain.
pub fn latest(conn: &Db) -> Result<Option<Verification>, StoreError> {
    Ok(newest(conn, 1)?.into_iter().next())
}

fn newest(conn: &Db, limit: i64) -> Result<Vec<Verification>, StoreError> {
    conn.all(
        "SELECT tenant_id, verified_at, valid, records_checked, problem_code, problem_seq, verified_by \
         FROM chain_verifications ORDER BY verified_at DESC, tenant_id LIMIT ?1",
        args![limit],
        |r| {
            Ok(Verification {
                chain: r.get(0)?,
                verified_at: r.get(1)?,
                valid: r.get::<i64>(2)? != 0,
                records_checked: u64::try_from(r.get::<i64>(3)?).unwrap_or(0),
                problem_code: r.get(4)?,
                problem_seq: r.get::<Option<i64>>(5)?.map(|s| u64::try_from(s).unwrap_or(0)),
                verified_by: r.get(6)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verification(chain: &str, at: &str, valid: bool) -> Verification {
        Verification {
            chain: chain.into(),
            verified_at: at.into(),
            valid,
            records_checked: 3,
            problem_code: (!valid).then(|| "hash_mismatch".into()),
            problem_seq: (!valid).then_some(2),
            verified_by: "k1".into(),
        }
    }

    #[test]
    fn a_newer_verification_replaces_its_chain_s_and_the_newest_is_latest() {
        let conn = crate::store::open::migrated_in_memory();
        put(&conn, &verification("t_a", "2030-01-01T00:00:00Z", true)).expect("put");
        put(&conn, &verification("t_b", "2030-01-02T00:00:00Z", true)).expect("put");
        put(&conn, &verification("t_a", "2030-01-03T00:00:00Z", false)).expect("put");
        let all = all(&conn).expect("all");
        assert_eq!(all.len(), 2, "one row per chain");
        assert_eq!(latest(&conn).expect("latest"), Some(verification("t_a", "2030-01-03T00:00:00Z", false)));
        assert_eq!(all[1], verification("t_b", "2030-01-02T00:00:00Z", true));
    }
}
