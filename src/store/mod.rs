//! The embedded store: one SQLite database in the data dir.
//!
//! Invariants: only this module touches SQL; all writes go through the single
//! writer thread (group commit) and are acknowledged only once durable (WAL,
//! synchronous=FULL); reads use separate read-only connections; a database
//! newer than this binary is refused.

pub mod audit_log;
pub mod backup;
pub mod billing;
pub mod call_counts;
pub mod cert_bindings;
pub mod checkpointing;
pub mod console;
pub mod datadir;
pub mod denial_log;
pub mod denials;
mod error;
pub mod export;
mod handle;
pub mod held;
mod init;
pub mod instances;
pub mod keyring;
pub mod keys;
pub mod lifecycle;
pub mod lock;
mod migrations;
pub mod oauth_bindings;
pub mod reservations;
pub mod rotation;
mod sql;
pub mod tenants;
pub mod verifications;
pub mod writer;

pub use checkpointing::StoreOptions;
pub use error::StoreError;
pub use handle::{DENIAL_WINDOW_SECS, Store, TICK};
pub use sql::{Db, open_read_only};
pub(crate) use sql::{exec, one};
pub use writer::{WriteCx, WriterStats};
