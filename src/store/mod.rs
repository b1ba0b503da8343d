//! The embedded store: one SQLite database in the data dir.
//!
//! Invariants: only this module touches SQL; all writes go through the single
//! writer thread (group commit) and are acknowledged only once durable (WAL,
//! synchronous=FULL); reads use separate read-only connections; a database
//! newer than this binary is refused.

pub mod audit_log;
pub mod billing;
pub mod cert_bindings;
pub mod checkpointing;
pub mod datadir;
pub mod denials;
pub mod export;
pub mod keyring;
pub mod keys;
pub mod lifecycle;
pub mod lock;
mod migrations;
pub mod rotation;
pub mod tenants;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::audit::SigningKey;
use crate::clock::Clock;
use writer::{Job, Message};
pub use writer::{WriteCx, WriterStats};

/// A store failure. Cloneable so one failed commit can be reported to every caller of its batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotInitialized(String),
    #[error("{0} is already initialized (it has a tollgate.db); choose another directory or remove it")]
    AlreadyInitialized(String),
    #[error("the database has schema version {found}, newer than this binary supports ({supported}); upgrade tollgate")]
    TooNew { found: i64, supported: i64 },
    #[error(
        "the database has schema version {found}, written by a pre-release tollgate whose tool versions named \
         editions (e.g. `key.issue` v2 for single-tenant); its audit records and idempotency entries cannot be \
         renamed, so it is not opened. Start from a new data dir with `tollgate init` (see CHANGELOG.md, 0.1.0)"
    )]
    RetiredToolNames { found: i64 },
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Sqlite(String),
    #[error("I/O error: {0}")]
    Io(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("audit: {0}")]
    Audit(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && matches!(f.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::DatabaseCorrupt)
        {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Sqlite(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

impl From<crate::audit::AuditError> for StoreError {
    fn from(e: crate::audit::AuditError) -> Self {
        StoreError::Audit(e.to_string())
    }
}

/// How often the writer wakes when idle (time-based checkpoints, denial windows).
pub const TICK: Duration = Duration::from_secs(1);

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Sign a checkpoint after this many new records in a chain.
    pub checkpoint_every: u64,
    /// ... or after this long with unsigned records.
    pub checkpoint_interval: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { checkpoint_every: 100, checkpoint_interval: Duration::from_secs(10) }
    }
}

/// The open store.
pub struct Store {
    sender: Mutex<Option<SyncSender<Message>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    db_path: PathBuf,
    pub clock: Clock,
    pub signing_public: crate::audit::PublicKey,
    /// Keys whose checkpoints this data dir trusts: the current key first,
    /// then the keyring's retired keys ([`keyring::trusted_keys`]).
    pub trusted_keys: Arc<[crate::audit::PublicKey]>,
    /// The key request states are sealed with (derived from the signing key,
    /// so every server on this data dir opens every other's states).
    pub request_state_key: crate::interact::state::StateKey,
    stats: Arc<Mutex<WriterStats>>,
    /// Flood denials waiting for their window to end.
    pub denials: Arc<denials::DenialWindows>,
}

/// Length of an aggregation window for flood denials.
pub const DENIAL_WINDOW_SECS: i64 = 60;

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl Store {
    /// Open an initialized data dir and start the writer.
    pub fn open(dir: &Path, clock: Clock, options: StoreOptions) -> Result<Arc<Self>, StoreError> {
        let files = datadir::DataDir::new(dir);
        files.require_initialized()?;
        let mut conn = Connection::open_with_flags(files.db(), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        configure(&conn)?;
        migrations::run(&mut conn)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(check));
        }
        let key = SigningKey::load(&files.signing_key()).map_err(|e| StoreError::Audit(e.to_string()))?;
        let public = key.public_key();
        let trusted_keys: Arc<[crate::audit::PublicKey]> = keyring::trusted_keys(&files, &key)?.into();
        let request_state_key =
            crate::interact::state::StateKey::new(key.derive_key(crate::interact::state::KEY_LABEL))
                .map_err(|e| StoreError::Audit(format!("request-state key: {e}")))?;
        let denials = Arc::new(denials::DenialWindows::new(time::Duration::seconds(DENIAL_WINDOW_SECS)));
        let housekeeping = checkpointing::Checkpointer::new(key, clock.clone(), options, Arc::clone(&denials), &conn)?;
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let (sender, handle) = writer::spawn(conn, Box::new(housekeeping), TICK, Arc::clone(&stats))?;
        Ok(Arc::new(Self {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Vec::new()),
            db_path: files.db(),
            clock,
            signing_public: public,
            trusted_keys,
            request_state_key,
            stats,
            denials,
        }))
    }

    /// Run `f` in the writer's transaction; resolves once the batch is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(job(f, move |r| {
            let _ = tx.send(r);
        }))?;
        rx.await.map_err(|_| StoreError::Unavailable("the writer dropped the request".into()))?
    }

    /// [`Store::write`] for synchronous callers (the CLI).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        self.submit(job(f, move |r| {
            let _ = tx.send(r);
        }))?;
        rx.recv().map_err(|_| StoreError::Unavailable("the writer dropped the request".into()))?
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let sender = self.sender.lock().map_err(|_| StoreError::Unavailable("writer lock poisoned".into()))?.clone();
        let sender = sender.ok_or_else(|| StoreError::Unavailable("the store is shutting down".into()))?;
        // Never block the async runtime: a full queue is backpressure, answered as unavailable.
        sender.try_send(Message::Job(job)).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => {
                StoreError::Unavailable("the writer queue is full; retry shortly".into())
            }
            std::sync::mpsc::TrySendError::Disconnected(_) => StoreError::Unavailable("the writer has stopped".into()),
        })
    }

    /// Run `f` on a read-only connection (sees every committed write).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.db_path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.execute_batch("PRAGMA busy_timeout = 5000;")?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut p) = self.readers.lock()
            && p.len() < 16
        {
            p.push(conn);
        }
        out
    }

    /// Batches and jobs committed so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Flush (final checkpoints) and stop the writer; later writes fail with `Unavailable`.
    pub fn shutdown(&self) {
        let sender = self.sender.lock().ok().and_then(|mut s| s.take());
        if let Some(sender) = sender {
            let (done, wait) = std::sync::mpsc::channel();
            if sender.send(Message::Shutdown(done)).is_ok() {
                let _ = wait.recv();
            }
        }
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn job<T, F>(f: F, reply: impl FnOnce(Result<T, StoreError>) + Send + 'static) -> Job
where
    T: Send + 'static,
    F: FnOnce(&mut WriteCx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    Box::new(move |cx| match f(cx) {
        Ok(v) => (true, Box::new(move |committed: Result<(), StoreError>| reply(committed.map(|()| v)))),
        Err(e) => (false, Box::new(move |_| reply(Err(e)))),
    })
}

/// Execute a statement through the connection's prepared-statement cache
/// (hot paths run the same few statements thousands of times).
pub(crate) fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Query one row through the prepared-statement cache.
pub(crate) fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// Open a write connection on a fresh database and migrate it (for `init`).
pub(crate) fn create_database(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrations::run(&mut conn)?;
    Ok(conn)
}
