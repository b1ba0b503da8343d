//! The SQL of `tollgate backup` and `tollgate restore`: a consistent copy of
//! a live database, and what a copy says about itself.
//!
//! Invariant: a snapshot is taken in ONE read transaction (`VACUUM INTO`),
//! so it is exactly the state after some commit — never half of a group
//! commit — and it never waits on or blocks the server's writer (WAL
//! readers see a fixed snapshot). An incremental copy would restart on every
//! write and might never finish under load.

use std::path::Path;

use super::error::StoreError;
use super::sql::{Db, args, open_read_only};

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
    conn.exec("VACUUM INTO ?1", args![target])?;
    Ok(())
}

/// The head of every chain in a database file, sorted by chain.
pub fn chain_heads(db: &Path) -> Result<Vec<ChainHead>, StoreError> {
    let conn = open_read_only(db)?;
    heads(&conn)
}

fn heads(conn: &Db) -> Result<Vec<ChainHead>, StoreError> {
    Ok(super::audit_log::heads(conn)?.into_iter().map(|(chain, seq, hash, _)| ChainHead { chain, seq, hash }).collect())
}

/// The schema version of a database file (`PRAGMA user_version`).
pub fn schema_version(db: &Path) -> Result<i64, StoreError> {
    let conn = open_read_only(db)?;
    conn.one("PRAGMA user_version", args![], |r| r.get(0))
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
