//! The data dir lock on `DIR/tollgate.lock`: servers (`serve`, `stdio`) hold
//! it shared for as long as they run; an offline command that writes
//! (`tollgate audit export`) needs it exclusively.
//! Invariant: an offline writer never writes while any server has the data
//! dir open, so it never writes outside a server's single writer; the
//! operating system releases the lock when the holder exits or dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use super::StoreError;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

fn open(dir: &Path) -> Result<File, StoreError> {
    super::datadir::DataDir::new(dir).require_signing_key()?;
    Ok(OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("tollgate.lock"))?)
}

/// Taken by servers: any number may share a data dir.
pub fn acquire_shared(dir: &Path) -> Result<DataDirLock, StoreError> {
    let file = open(dir)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
            "an offline command (tollgate audit export) is writing {}; retry when it is done",
            dir.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::Io(format!("cannot lock {}: {e}", dir.display()))),
    }
}

/// Taken by offline writers: refused while any server holds the data dir.
pub fn acquire_exclusive(dir: &Path) -> Result<DataDirLock, StoreError> {
    let file = open(dir)?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(StoreError::Unavailable(format!(
            "a tollgate server is running on {}; an offline export would write outside its single writer. \
             Stop the server first, or call the audit.export_package tool on the running server",
            dir.display()
        ))),
        Err(TryLockError::Error(e)) => Err(StoreError::Io(format!("cannot lock {}: {e}", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_share_and_an_offline_writer_waits_for_all_of_them() {
        let dir = std::env::temp_dir().join(format!("tollgate-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        crate::store::datadir::init(&dir, crate::clock::Clock::system()).unwrap();
        let a = acquire_shared(&dir).unwrap();
        let b = acquire_shared(&dir).unwrap();
        let err = acquire_exclusive(&dir).unwrap_err();
        assert!(err.to_string().contains("server is running"), "{err}");
        drop(a);
        assert!(acquire_exclusive(&dir).is_err());
        drop(b);
        let offline = acquire_exclusive(&dir).unwrap();
        assert!(acquire_shared(&dir).is_err());
        drop(offline);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
