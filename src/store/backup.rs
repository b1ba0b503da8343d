//! The SQL of `tollgate backup` and `tollgate restore`: a consistent copy of
//! a live database, and what a copy says about itself.
//!
//! Invariant: a snapshot is taken in ONE read transaction (`VACUUM INTO`),
//! so it is exactly the state after some commit — never half of a group
//! commit — and it never waits on or blocks the server's writer (WAL
//! readers see a fixed snapshot). An incremental copy would restart on every
//! write and might never finish under load.

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;
use super::sql::open_read_only;

/// One chain's last record in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: String,
    pub seq: u64,
    pub hash: String,
}

/// Write the database at `db` as of one instant into `dest`, a file that must
/// not exist. The server may be running; nothing it does is blocked.
pub fn snapshot(db: &Path, dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::Io(format!("{} already exists", dest.display())));
    }
    let conn = open_read_only(db)?;
    let target = dest.to_str().ok_or_else(|| StoreError::Io(format!("{} is not a UTF-8 path", dest.display())))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    Ok(())
}

/// The head of every chain in a database file, sorted by chain.
pub fn chain_heads(db: &Path) -> Result<Vec<ChainHead>, StoreError> {
    let conn = open_read_only(db)?;
    heads(&conn)
}

fn heads(conn: &Connection) -> Result<Vec<ChainHead>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT a.chain, a.seq, a.hash FROM audit_records a \
         JOIN (SELECT chain, MAX(seq) AS seq FROM audit_records GROUP BY chain) m \
         ON a.chain = m.chain AND a.seq = m.seq ORDER BY a.chain",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ChainHead { chain: r.get(0)?, seq: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0), hash: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The schema version of a database file (`PRAGMA user_version`).
pub fn schema_version(db: &Path) -> Result<i64, StoreError> {
    let conn = open_read_only(db)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[test]
    fn a_snapshot_has_the_same_heads_and_refuses_to_overwrite() {
        let dir = std::env::temp_dir().join(format!("tollgate-backup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::store::datadir::init(&dir, Clock::system()).unwrap();
        let db = dir.join("tollgate.db");
        let copy = dir.join("copy.db");
        snapshot(&db, &copy).unwrap();
        let heads = chain_heads(&copy).unwrap();
        assert!(!heads.is_empty(), "init writes to the _system chain");
        assert_eq!(heads, chain_heads(&db).unwrap());
        assert_eq!(schema_version(&copy).unwrap(), schema_version(&db).unwrap());
        assert!(snapshot(&db, &copy).is_err(), "an existing file is never overwritten");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
