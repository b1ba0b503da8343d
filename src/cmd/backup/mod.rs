//! `tollgate backup` and `tollgate restore` (SQLite): an online, consistent,
//! signed snapshot of a data dir, and a restore that verifies before it
//! exists. PostgreSQL is backed up with its own tools (docs/operations.md).

pub mod archive;
pub mod command;
pub mod restore;
pub mod seal;

pub use archive::{BackupArgs, backup};
pub use restore::{RestoreArgs, Restored, restore};
