//! The single writer: one thread owns the write connection and commits
//! concurrent jobs together (group commit).
//!
//! Invariants: every job runs inside its own savepoint of one batch
//! transaction, so a job that fails on its own never takes others with it
//! (if SQLite itself aborts the transaction, the whole batch fails and every
//! caller hears so); a job's caller
//! hears "done" only after the batch COMMIT returned (durable: WAL with
//! synchronous=FULL); if COMMIT fails, every job of the batch hears the error.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::StoreError;
use super::sql::{Db, Kind};

/// Largest number of jobs committed in one transaction.
pub const MAX_GROUP: usize = 256;

/// What a job sees: the connection inside its savepoint, and what it appended.
pub struct WriteCx<'a> {
    pub conn: &'a Db,
    /// Audit records appended by this job: (chain, seq, hash).
    pub appended: Vec<(String, u64, String)>,
}

impl WriteCx<'_> {
    /// Run `f` inside a savepoint of the current transaction: its writes are
    /// kept when `f` returns `(value, true)` and rolled back when it returns
    /// `(value, false)` or an error; the enclosing transaction goes on either way.
    pub fn savepoint<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(T, bool), StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.batch("SAVEPOINT effect")?;
        let appended = self.appended.len();
        let result = f(self);
        let keep = matches!(result, Ok((_, true)));
        if keep {
            self.conn.batch("RELEASE effect")?;
        } else {
            self.conn.batch("ROLLBACK TO effect; RELEASE effect")?;
            // Records appended inside the rolled-back savepoint no longer exist.
            self.appended.truncate(appended);
        }
        result.map(|(value, _)| value)
    }
}

/// Called after a batch: `Ok` if it committed.
pub type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A unit of work: runs in the writer thread; returns whether to keep its
/// changes and what to do once the batch is (or is not) durable.
pub type Job = Box<dyn FnOnce(&mut WriteCx<'_>) -> (bool, Finish) + Send>;

/// Work the writer does besides jobs (checkpoints, flushing aggregated denials).
pub trait Housekeeping: Send {
    /// After a committed batch, with the records it appended.
    fn after_commit(&mut self, conn: &Db, appended: &[(String, u64, String)]);
    /// When the writer has been idle for a tick, and at shutdown (`last = true`).
    fn on_tick(&mut self, conn: &Db, last: bool);
}

pub(super) enum Message {
    Job(Job),
    /// Flush and stop; the sender is told when done.
    Shutdown(std::sync::mpsc::Sender<()>),
}

/// Statistics for benchmarks and metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterStats {
    pub batches: u64,
    pub jobs: u64,
}

pub(super) fn spawn(
    conn: Db,
    mut housekeeping: Box<dyn Housekeeping>,
    tick: Duration,
    stats: std::sync::Arc<std::sync::Mutex<WriterStats>>,
) -> std::io::Result<(SyncSender<Message>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Message>(4 * MAX_GROUP);
    let handle = std::thread::Builder::new()
        .name("tollgate-writer".into())
        .spawn(move || run(conn, rx, housekeeping.as_mut(), tick, &stats))?;
    Ok((tx, handle))
}

fn run(
    conn: Db,
    rx: Receiver<Message>,
    housekeeping: &mut dyn Housekeeping,
    tick: Duration,
    stats: &std::sync::Mutex<WriterStats>,
) {
    let mut last_tick = Instant::now();
    loop {
        let first = match rx.recv_timeout(tick) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                housekeeping.on_tick(&conn, false);
                last_tick = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                housekeeping.on_tick(&conn, true);
                return;
            }
        };
        let mut jobs = Vec::new();
        let mut shutdown = None;
        match first {
            Message::Job(j) => jobs.push(j),
            Message::Shutdown(done) => shutdown = Some(done),
        }
        while shutdown.is_none() && jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Message::Job(j)) => jobs.push(j),
                Ok(Message::Shutdown(done)) => shutdown = Some(done),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            let n = jobs.len() as u64;
            let started = Instant::now();
            let appended = commit_batch(&conn, jobs);
            crate::metrics::get().commit(started.elapsed(), jobs_of(n));
            housekeeping.after_commit(&conn, &appended);
            if let Ok(mut s) = stats.lock() {
                s.batches += 1;
                s.jobs += n;
            }
        }
        if last_tick.elapsed() >= tick {
            housekeeping.on_tick(&conn, false);
            last_tick = Instant::now();
        }
        if let Some(done) = shutdown {
            housekeeping.on_tick(&conn, true);
            let _ = done.send(());
            return;
        }
    }
}

fn jobs_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Run a batch in one transaction. A job that cannot start is dropped, which
/// its caller hears as `Unavailable` (its reply channel closes unanswered).
fn commit_batch(conn: &Db, jobs: Vec<Job>) -> Vec<(String, u64, String)> {
    let mut finishers: Vec<Finish> = Vec::with_capacity(jobs.len());
    let mut appended = Vec::new();
    if let Err(e) = begin_batch(conn) {
        tracing::error!(error = %e, "cannot begin a write transaction");
        conn.rollback();
        return appended;
    }
    let mut lost = false;
    for job in jobs {
        // SQLite may roll the whole transaction back by itself (disk full, I/O
        // error); then nothing of this batch may run or be acknowledged.
        if lost || !conn.in_transaction() || conn.batch("SAVEPOINT job").is_err() || conn.clear_scope().is_err() {
            lost = true;
            continue;
        }
        let mut cx = WriteCx { conn, appended: Vec::new() };
        let (keep, finish) = job(&mut cx);
        let closed = if keep {
            appended.extend(cx.appended);
            conn.batch("RELEASE job")
        } else {
            conn.batch("ROLLBACK TO job; RELEASE job")
        };
        if let Err(e) = closed {
            tracing::error!(error = %e, "savepoint could not be closed");
        }
        finishers.push(finish);
    }
    let outcome = if lost || !conn.in_transaction() {
        Err(StoreError::Unavailable("the transaction was rolled back by the database; nothing was done".into()))
    } else {
        conn.commit()
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "commit failed; every caller of the batch hears it");
        conn.rollback();
        appended.clear();
    }
    for finish in finishers {
        finish(outcome.clone());
    }
    appended
}

/// Open a batch's transaction. On PostgreSQL the batch first takes the
/// deployment-wide writer lock (a transaction-level advisory lock): batches
/// of different instances commit one after another, so chains stay gapless
/// and quota sums exact across instances, and no two batches can deadlock.
pub(super) fn begin_batch(conn: &Db) -> Result<(), StoreError> {
    conn.begin_write()?;
    if conn.kind() == Kind::Postgres {
        conn.one("SELECT pg_advisory_xact_lock(?1)", super::sql::args![WRITER_LOCK], |_| Ok(()))?;
    }
    Ok(())
}

/// The advisory lock key of the deployment's writer ("tollgate" in ASCII).
pub const WRITER_LOCK: i64 = 0x746f_6c6c_6761_7465;
