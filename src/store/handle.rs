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

use rusqlite::{Connection, OpenFlags};

use super::checkpointing::{self, StoreOptions};
use super::error::StoreError;
use super::sql::configure;
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
    readers: Mutex<Vec<Connection>>,
    db_path: PathBuf,
    pub clock: Clock,
    pub signing_public: crate::audit::PublicKey,
    /// Keys whose checkpoints this data dir trusts: the current key first,
    /// then the keyring's retired keys ([`keyring::trusted_keys`]).
    pub trusted_keys: Arc<[crate::audit::PublicKey]>,
    /// Secrets derived from the signing key by label (the request-state key's
    /// owner asks for its own; every server on this data dir derives the same).
    signing_key_file: PathBuf,
    stats: Arc<Mutex<WriterStats>>,
    /// Flood denials waiting for their window to end.
    pub denials: Arc<denials::DenialWindows>,
    /// This process's claim on the data dir: the owner of its reservations.
    instance: instances::Instance,
}

/// Length of an aggregation window for flood denials.
pub const DENIAL_WINDOW_SECS: i64 = 60;

impl Store {
    /// Open an initialized data dir and start the writer.
    pub fn open(dir: &Path, clock: Clock, options: StoreOptions) -> Result<Arc<Self>, StoreError> {
        let files = datadir::DataDir::new(dir);
        files.require_initialized()?;
        let mut conn = Connection::open_with_flags(files.db(), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        configure(&conn)?;
        migrations::run(&mut conn)?;
        let instance = instances::Instance::claim(dir)?;
        let released = reservations::recover_dead(&conn, dir, instance.id())?;
        if released > 0 {
            tracing::warn!(released, "released the reservations of a process that stopped mid-call");
        }
        let recovered = denial_log::recover_dead(&conn, dir, instance.id())?;
        if recovered > 0 {
            tracing::warn!(recovered, "wrote the open denial windows of a process that stopped without closing them");
        }
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(check));
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
            readers: Mutex::new(Vec::new()),
            db_path: files.db(),
            clock,
            signing_public: public,
            trusted_keys,
            signing_key_file: files.signing_key(),
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
        self.db_path.parent().map(Path::to_path_buf).unwrap_or_default()
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
