//! The store: the embedded SQLite database in the data dir, or a shared
//! PostgreSQL database (row-level security; several instances).
//!
//! Invariants: only this module touches SQL; all writes go through the single
//! writer thread (group commit) and are acknowledged only once durable (WAL,
//! synchronous=FULL); reads use separate read-only connections; a database
//! newer than this binary is refused.

mod arg;
pub mod audit_log;
pub mod backup;
pub mod billing;
pub mod call_counts;
pub mod cert_bindings;
pub mod checkpointing;
pub mod console;
pub mod copy;
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
pub mod notify;
pub mod oauth_bindings;
mod open;
mod pg;
pub mod pg_roles;
pub mod pg_schema;
mod pg_tls;
pub mod reservations;
pub mod rotation;
mod sql;
pub mod tenants;
pub mod verifications;
pub mod writer;

pub use checkpointing::StoreOptions;
pub use error::StoreError;
pub use handle::{DENIAL_WINDOW_SECS, Store, TICK};
pub use migrations::latest as migrations_latest;
pub use open::{open_database, open_postgres};
pub use sql::{Db, Kind, PLATFORM, open_read_only};

pub use writer::{WriteCx, WriterStats};
