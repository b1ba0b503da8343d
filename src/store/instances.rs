//! Which processes have the store open: each open store holds an exclusive
//! lock on `DIR/instances/<id>.lock` for as long as it lives.
//! Invariant: an instance is dead exactly when its lock can be taken (the
//! operating system releases it when the holder exits or dies), so a start
//! never releases the reservations of a process that is still running.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::StoreError;
use super::sql::{Db, Kind, args};

/// The lock of this process's store instance; released (and its file removed) on drop.
#[derive(Debug)]
pub struct Instance {
    id: String,
    path: PathBuf,
    _file: File,
}

fn folder(dir: &Path) -> PathBuf {
    dir.join("instances")
}

/// Whether `id` could name a lock file (so a stored owner never names another path).
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Instance {
    /// Claim a fresh instance id in the data dir `dir`.
    pub fn claim(dir: &Path) -> Result<Self, StoreError> {
        let mut bytes = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let id = hex::encode(bytes);
        std::fs::create_dir_all(folder(dir))?;
        let path = folder(dir).join(format!("{id}.lock"));
        let file = OpenOptions::new().create_new(true).write(true).open(&path)?;
        file.try_lock().map_err(|e| StoreError::Io(format!("cannot lock {}: {e}", path.display())))?;
        Ok(Self { id, path, _file: file })
    }

    /// This instance's id (the owner of its reservations).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the instance `id` of the data dir `dir` is gone (exited or died).
/// Its lock file, if any, is removed once that is known.
pub fn is_dead(dir: &Path, id: &str) -> bool {
    if !valid_id(id) {
        return true;
    }
    let path = folder(dir).join(format!("{id}.lock"));
    let Ok(file) = OpenOptions::new().write(true).open(&path) else { return true };
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(&path);
            true
        }
        Err(TryLockError::WouldBlock) => false,
        // Cannot tell: keep its reservations (fail closed: a hold only ever refuses more).
        Err(TryLockError::Error(_)) => false,
    }
}

/// The advisory-lock class of instance liveness on PostgreSQL (`toll`).
const LOCK_CLASS: i32 = 0x746f_6c6c;

/// An instance id's advisory lock key (its first 8 hex digits).
fn lock_key(id: &str) -> i32 {
    id.get(..8).and_then(|h| u32::from_str_radix(h, 16).ok()).map_or(0, |v| (v & 0x7fff_ffff) as i32)
}

/// On PostgreSQL an instance is alive while its writer session holds the
/// session-level advisory lock of its id: the server releases it when the
/// session ends, so an instance on another machine is judged by the
/// database, not by a lock file it could not see.
pub(crate) fn hold_pg(conn: &Db, id: &str) -> Result<(), StoreError> {
    conn.one("SELECT pg_advisory_lock(?1, ?2)", args![LOCK_CLASS, lock_key(id)], |_| Ok(()))
}

/// How many instances of the deployment are running (PostgreSQL: the
/// instance locks held; SQLite: this one).
pub(crate) fn live_count(conn: &Db) -> Result<usize, StoreError> {
    match conn.kind() {
        Kind::Sqlite => Ok(1),
        Kind::Postgres => {
            let n = conn.one(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
                 AND classid = CAST(?1 AS BIGINT)::oid \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                args![LOCK_CLASS],
                |r| r.get::<i64>(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(1).max(1))
        }
    }
}

/// Whether instance `id` is gone: by its lock file on SQLite, by its
/// advisory lock on PostgreSQL (a failed check keeps it alive: fail closed).
pub(crate) fn is_dead_in(conn: &Db, dir: &Path, id: &str) -> bool {
    match conn.kind() {
        Kind::Sqlite => is_dead(dir, id),
        Kind::Postgres => {
            if !valid_id(id) {
                return true;
            }
            let key = lock_key(id);
            match conn.one("SELECT pg_try_advisory_lock(?1, ?2)", args![LOCK_CLASS, key], |r| r.get::<i64>(0)) {
                Ok(1) => {
                    let _ = conn.one("SELECT pg_advisory_unlock(?1, ?2)", args![LOCK_CLASS, key], |_| Ok(()));
                    true
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_instance_is_not_dead_and_a_dropped_one_is() {
        let dir = std::env::temp_dir().join(format!("tollgate-instances-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let live = Instance::claim(&dir).expect("claim");
        let gone = Instance::claim(&dir).expect("claim");
        let gone_id = gone.id().to_owned();
        drop(gone);
        assert!(!is_dead(&dir, live.id()));
        assert!(is_dead(&dir, &gone_id));
        assert!(is_dead(&dir, "../tollgate"), "a stored owner never names another file");
        drop(live);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
