//! The data dir: where the database, the signing key and the config live.
//!
//! Invariant: a dir is used only once it holds both the database and the
//! signing key (`require_initialized`); `store::init` creates them.

use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The SQLite database's file name.
pub const DB_FILE: &str = "tollgate.db";

/// Paths inside a data dir.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    pub fn db(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    pub fn signing_key(&self) -> PathBuf {
        self.root.join("audit-signing.key")
    }

    /// Retired signing keys' public halves (see [`super::keyring`]).
    pub fn keyring(&self) -> PathBuf {
        self.root.join("audit-keyring")
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("tollgate.toml")
    }

    /// A clear error unless this dir was initialized.
    pub fn require_initialized(&self) -> Result<(), StoreError> {
        self.require_exists()?;
        for (path, what) in [(self.db(), "database"), (self.signing_key(), "audit signing key")] {
            if !path.is_file() {
                return Err(StoreError::NotInitialized(format!(
                    "{} has no {what} ({}); run `tollgate init --data-dir {}`",
                    self.root.display(),
                    path.display(),
                    self.root.display()
                )));
            }
        }
        Ok(())
    }

    fn require_exists(&self) -> Result<(), StoreError> {
        if !self.root.is_dir() {
            return Err(StoreError::NotInitialized(format!(
                "data dir {} does not exist; create it with `tollgate init --data-dir {}`",
                self.root.display(),
                self.root.display()
            )));
        }
        Ok(())
    }

    /// A clear error unless this dir has the audit signing key (a data dir
    /// whose database is PostgreSQL has no `tollgate.db`).
    pub fn require_signing_key(&self) -> Result<(), StoreError> {
        self.require_exists()?;
        if !self.signing_key().is_file() {
            return Err(StoreError::NotInitialized(format!(
                "{} has no audit signing key ({}); run `tollgate init --data-dir {}`, or copy the deployment's key there",
                self.root.display(),
                self.signing_key().display(),
                self.root.display()
            )));
        }
        Ok(())
    }
}

pub use super::init::{InitOutput, init, init_with};
