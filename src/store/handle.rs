//! The open store: the single writer thread (group commit), the pool of
//! read-only connections, and shutdown.
//!
//! Invariants: all writes go through the writer and are acknowledged only
//! once durable; reads use separate read-only connections; a database newer
//! than this binary is refused at open.

use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::checkpointing::{self, StoreOptions};
use super::error::StoreError;
use super::sql::{Db, Kind, configure};
use super::writer::{self, Job, Message, WriteCx, WriterStats};
use super::{datadir, denial_log, denials, instances, keyring, migrations, reservations};
use crate::audit::SigningKey;
use crate::clock::Clock;

/// How often, at most, the writer wakes when idle (time-based checkpoints,
/// denial windows); [`StoreOptions::denial_persist_interval`] may make it shorter.
pub const TICK: Duration = Duration::from_secs(1);

/// The shortest writer tick.
const MIN_TICK: Duration = Duration::from_millis(50);

/// The open store.
pub struct Store {
    sender: Mutex<Option<SyncSender<Message>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Readers>,
    reader_freed: std::sync::Condvar,
    source: Source,
    data_dir: PathBuf,
    pub clock: Clock,
    pub signing_public: crate::audit::PublicKey,
    /// Keys whose checkpoints this data dir trusts: the current key first,
    /// then the keyring's retired keys ([`keyring::trusted_keys`]).
    pub trusted_keys: Arc<[crate::audit::PublicKey]>,
    /// Secrets derived from the signing key by label (the request-state key's
    /// owner asks for its own; every server on this data dir derives the same).
    signing_key_file: PathBuf,
    stats: Arc<Mutex<WriterStats>>,
    /// The writer's PostgreSQL backend (its notifications are this instance's own).
    writer_pid: i32,
    /// When the instance count was last read, and what it was.
    instances_seen: Mutex<(Option<std::time::Instant>, usize)>,
    /// Flood denials waiting for their window to end.
    pub denials: Arc<denials::DenialWindows>,
    /// This process's claim on the data dir: the owner of its reservations.
    instance: instances::Instance,
}

/// Length of an aggregation window for flood denials.
pub const DENIAL_WINDOW_SECS: i64 = 60;

impl Store {
    /// Open an initialized data dir and start the writer: on the data dir's
    /// SQLite database, or on PostgreSQL when `options.database_url` names one
    /// (the data dir then keeps the signing key, keyring, config and packages).
    pub fn open(dir: &Path, clock: Clock, options: StoreOptions) -> Result<Arc<Self>, StoreError> {
        let files = datadir::DataDir::new(dir);
        let source = match &options.database_url {
            None => {
                files.require_initialized()?;
                Source::Sqlite(files.db())
            }
            Some(url) => {
                files.require_signing_key()?;
                Source::Postgres(url.expose().to_owned())
            }
        };
        let conn = source.connect_writer()?;
        let instance = instances::Instance::claim(dir)?;
        if conn.kind() == Kind::Postgres {
            // Serving refuses an unmigrated or newer database and a role that
            // could read past row-level security.
            super::pg_schema::require_current(&conn)?;
            if !options.maintenance {
                super::pg_roles::require_serving_role(&conn)?;
            }
            instances::hold_pg(&conn, instance.id())?;
        }
        let writer_pid = if conn.kind() == Kind::Postgres {
            conn.one("SELECT pg_backend_pid()", super::sql::args![], |r| r.get::<i64>(0))?
        } else {
            0
        };
        if conn.kind() == Kind::Sqlite {
            migrations::run(&conn)?;
        }
        let released = reservations::recover_dead(&conn, dir, instance.id())?;
        if released > 0 {
            tracing::warn!(released, "released the reservations of a process that stopped mid-call");
        }
        let recovered = denial_log::recover_dead(&conn, dir, instance.id())?;
        if recovered > 0 {
            tracing::warn!(recovered, "wrote the open denial windows of a process that stopped without closing them");
        }
        if let Some(c) = conn.as_sqlite() {
            let check: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Corrupt(check));
            }
        }
        let key = SigningKey::load(&files.signing_key()).map_err(|e| StoreError::Audit(e.to_string()))?;
        let public = key.public_key();
        let trusted_keys: Arc<[crate::audit::PublicKey]> = keyring::trusted_keys(&files, &key)?.into();
        let denials = Arc::new(denials::DenialWindows::new(time::Duration::seconds(DENIAL_WINDOW_SECS)));
        // The tick persists open denial windows, so it is no longer than their bound.
        let tick = options.denial_persist_interval.clamp(MIN_TICK, TICK);
        let owner = instance.id().to_owned();
        let housekeeping =
            checkpointing::Checkpointer::new(key, clock.clone(), options, Arc::clone(&denials), owner, &conn)?;
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let (sender, handle) = writer::spawn(conn, Box::new(housekeeping), tick, Arc::clone(&stats))?;
        Ok(Arc::new(Self {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            readers: Mutex::new(Readers::default()),
            reader_freed: std::sync::Condvar::new(),
            source,
            data_dir: dir.to_path_buf(),
            clock,
            signing_public: public,
            trusted_keys,
            signing_key_file: files.signing_key(),
            writer_pid: i32::try_from(writer_pid).unwrap_or(0),
            instances_seen: Mutex::new((None, 1)),
            stats,
            denials,
            instance,
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

    /// Queue `f` for the writer's next transaction without waiting for it
    /// (a release from a destructor); `Err` if it could not even be queued.
    pub fn write_detached<F>(&self, f: F) -> Result<(), StoreError>
    where
        F: FnOnce(&mut WriteCx<'_>) -> Result<(), StoreError> + Send + 'static,
    {
        self.submit(job(f, |r| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a detached write failed");
            }
        }))
    }

    /// The id of this process's store instance (the owner of its reservations).
    pub fn instance_id(&self) -> &str {
        self.instance.id()
    }

    /// The data dir this store lives in.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// On PostgreSQL: hear what the other instances announce (see
    /// [`super::notify`]); `None` on SQLite, where there are no others.
    pub fn listen_events(
        &self,
        on: Box<dyn Fn(super::notify::Heard) + Send>,
    ) -> Result<Option<super::notify::Listener>, StoreError> {
        match &self.source {
            Source::Sqlite(_) => Ok(None),
            Source::Postgres(url) => super::notify::listen(url.clone(), self.writer_pid, on).map(Some),
        }
    }

    /// How many instances serve this deployment (1 on SQLite), read from the
    /// database at most every [`INSTANCE_COUNT_REFRESH`]; on a failed read the
    /// last count stands.
    pub fn live_instances(&self) -> usize {
        if self.source.is_sqlite() {
            return 1;
        }
        let Ok(mut cached) = self.instances_seen.lock() else { return 1 };
        if cached.0.is_none_or(|at| at.elapsed() >= INSTANCE_COUNT_REFRESH) {
            if let Ok(n) = self.read(instances::live_count) {
                cached.1 = n;
            }
            cached.0 = Some(std::time::Instant::now());
        }
        cached.1.max(1)
    }

    /// Which database this store is on.
    pub fn kind(&self) -> Kind {
        match self.source {
            Source::Sqlite(_) => Kind::Sqlite,
            Source::Postgres(_) => Kind::Postgres,
        }
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

    /// Run `f` on a read connection (sees every committed write). On
    /// PostgreSQL `f` runs in a read-only transaction whose scope starts as
    /// "no rows": it names the tenant it reads with [`Db::set_scope`]; at
    /// most [`MAX_PG_READERS`] sessions are open, a reader waits for one.
    pub fn read<T>(&self, f: impl FnOnce(&Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self.source {
            Source::Sqlite(_) => {
                let conn = self.take_reader()?;
                let out = f(&conn);
                self.give_back(conn);
                out
            }
            // Connecting, reading and dropping a session all block: off the async workers.
            Source::Postgres(_) => off_the_runtime(|| {
                let conn = self.take_reader()?;
                let out = conn.batch("BEGIN READ ONLY").and_then(|()| {
                    let out = conn.clear_scope().and_then(|()| f(&conn));
                    match &out {
                        Ok(_) => conn.commit()?,
                        Err(_) => conn.rollback(),
                    }
                    out
                });
                self.give_back(conn);
                out
            })?,
        }
    }

    fn take_reader(&self) -> Result<Db, StoreError> {
        let mut pool = self.readers.lock().map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?;
        loop {
            if let Some(c) = pool.idle.pop() {
                return Ok(c);
            }
            if self.source.is_sqlite() || pool.open < MAX_PG_READERS {
                pool.open += 1;
                drop(pool);
                let made = self.source.connect_reader();
                if made.is_err()
                    && let Ok(mut p) = self.readers.lock()
                {
                    p.open -= 1;
                    self.reader_freed.notify_one();
                }
                return made;
            }
            let (p, timeout) = self
                .reader_freed
                .wait_timeout(pool, Duration::from_secs(10))
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?;
            pool = p;
            if timeout.timed_out() && pool.idle.is_empty() && pool.open >= MAX_PG_READERS {
                return Err(StoreError::Unavailable("every database session is busy; retry shortly".into()));
            }
        }
    }

    fn give_back(&self, conn: Db) {
        let Ok(mut pool) = self.readers.lock() else { return };
        if conn.is_usable() && pool.idle.len() < MAX_IDLE_READERS {
            pool.idle.push(conn);
        } else {
            pool.open = pool.open.saturating_sub(1);
            drop(pool);
            drop(conn);
        }
        self.reader_freed.notify_one();
    }

    /// Where the signing key is kept (for a readability check; the key never leaves the store).
    pub fn signing_key_path(&self) -> &Path {
        &self.signing_key_file
    }

    /// A 32-byte secret derived from the signing key for `label` (HKDF; the
    /// key itself never leaves the store).
    pub fn derive_secret(&self, label: &str) -> Result<[u8; 32], StoreError> {
        let key = SigningKey::load(&self.signing_key_file).map_err(|e| StoreError::Audit(e.to_string()))?;
        Ok(key.derive_key(label))
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
        // Closing a PostgreSQL session blocks: not on an async worker.
        let idle = self.readers.get_mut().map(|p| std::mem::take(&mut p.idle)).unwrap_or_default();
        let _ = off_the_runtime(move || drop(idle));
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

/// How often an instance re-counts the running instances (rate-limit shares).
pub const INSTANCE_COUNT_REFRESH: Duration = Duration::from_secs(5);

/// Most PostgreSQL read sessions one instance holds open.
pub const MAX_PG_READERS: usize = 32;

/// Most idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 16;

/// The read connections: idle ones, and how many are open in all.
#[derive(Default)]
struct Readers {
    idle: Vec<Db>,
    open: usize,
}

/// Where the database is.
enum Source {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Source {
    fn is_sqlite(&self) -> bool {
        matches!(self, Source::Sqlite(_))
    }

    fn connect_writer(&self) -> Result<Db, StoreError> {
        match self {
            Source::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)?;
                configure(&conn)?;
                Ok(Db::sqlite(conn))
            }
            Source::Postgres(url) => connect_pg(url),
        }
    }

    fn connect_reader(&self) -> Result<Db, StoreError> {
        match self {
            Source::Sqlite(path) => {
                let c = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.execute_batch("PRAGMA busy_timeout = 5000;")?;
                Ok(Db::sqlite(c))
            }
            Source::Postgres(url) => connect_pg(url),
        }
    }
}

/// A PostgreSQL session (writer or reader: the same settings), opened off the async workers.
fn connect_pg(url: &str) -> Result<Db, StoreError> {
    off_the_runtime(|| super::pg::PgConn::connect(url, Default::default())).and_then(|c| c).map(Db::postgres)
}

/// Run blocking PostgreSQL work from wherever the caller is: the driver runs
/// its own small runtime, which may not start on an async worker thread, so
/// there it moves off the worker first (`block_in_place`). A single-threaded
/// runtime cannot do that: refused with an error, never a panic.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> Result<T, StoreError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => Ok(f()),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(f)),
        Ok(_) => Err(StoreError::Unavailable(
            "PostgreSQL is used from a single-threaded async runtime; run tollgate's multi-threaded one".into(),
        )),
    }
}
