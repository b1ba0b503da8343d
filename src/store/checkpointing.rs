//! Signed checkpoints and aggregated flood denials, written by the writer
//! thread after commits and on its tick.
//!
//! Invariants: a chain's newest records are signed after `checkpoint_every`
//! records or `checkpoint_interval` of time, and always at shutdown, so a cut
//! tail is detectable offline; an open denial window's counts are persisted
//! on every tick (at most `denial_persist_interval` apart), and its record is
//! written in the same transaction that drops its persisted row.

use std::collections::HashMap;
use std::time::Instant;

use super::denials::{Closed, DenialWindows};
use super::error::StoreError;
use super::sql::Db;
use super::writer::Housekeeping;
use super::{audit_log, denial_log};
use crate::audit::{Checkpoint, SigningKey};
use crate::clock::Clock;

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Sign a checkpoint after this many new records in a chain.
    pub checkpoint_every: u64,
    /// ... or after this long with unsigned records.
    pub checkpoint_interval: std::time::Duration,
    /// Longest time an open flood-denial window's counts stay in memory only
    /// (the writer's tick; at most [`super::TICK`]): what a crash can lose.
    pub denial_persist_interval: std::time::Duration,
    /// A PostgreSQL URL (`database_url`); `None`: the data dir's SQLite database.
    pub database_url: Option<crate::config::DatabaseUrl>,
    /// Opened by a maintenance command (`init`, `store copy`) as the
    /// maintenance role: the serving-role checks are skipped.
    pub maintenance: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            checkpoint_every: 100,
            checkpoint_interval: std::time::Duration::from_secs(10),
            denial_persist_interval: std::time::Duration::from_secs(1),
            database_url: None,
            maintenance: false,
        }
    }
}

/// Unsigned tail of one chain.
struct Pending {
    seq: u64,
    hash: String,
    count: u64,
    since: Instant,
}

/// Signs checkpoints for chains with unsigned records.
pub struct Checkpointer {
    key: SigningKey,
    clock: Clock,
    options: StoreOptions,
    pending: HashMap<String, Pending>,
    denials: std::sync::Arc<DenialWindows>,
    /// This process's store instance: the owner of its persisted denial windows.
    owner: String,
}

impl Checkpointer {
    /// Start with every chain whose tail is not yet signed (e.g. after a crash).
    pub fn new(
        key: SigningKey,
        clock: Clock,
        options: StoreOptions,
        denials: std::sync::Arc<DenialWindows>,
        owner: String,
        conn: &Db,
    ) -> Result<Self, StoreError> {
        let mut pending = HashMap::new();
        for (chain, seq, hash, signed) in audit_log::heads(conn)? {
            if signed < seq {
                pending.insert(chain, Pending { seq, hash, count: 1, since: Instant::now() });
            }
        }
        Ok(Self { key, clock, options, pending, denials, owner })
    }

    fn sign(&self, conn: &Db, chain: &str, p: &Pending) -> Result<(), StoreError> {
        let cp = Checkpoint::sign(&self.key, chain, p.seq, &p.hash, &self.clock.now_rfc3339())?;
        in_transaction(conn, || {
            conn.set_scope(audit_log::chain_scope(chain))?;
            audit_log::insert_checkpoint(conn, &cp)
        })
    }

    fn sign_where(&mut self, conn: &Db, due: impl Fn(&Pending) -> bool) {
        let chains: Vec<String> = self.pending.iter().filter(|(_, p)| due(p)).map(|(c, _)| c.clone()).collect();
        for chain in chains {
            if let Some(p) = self.pending.remove(&chain)
                && let Err(e) = self.sign(conn, &chain, &p)
            {
                tracing::error!(chain = %chain, error = %e, "could not write a checkpoint; will retry");
                self.pending.insert(chain, p);
            }
        }
    }
}

impl Checkpointer {
    /// Write the aggregated denials whose window ended (all of them at
    /// shutdown), dropping their persisted rows; on failure they are kept for the next tick.
    fn flush_denials(&mut self, conn: &Db, all: bool) {
        let due = self.denials.take_due(self.clock.now(), all);
        if due.is_empty() {
            return;
        }
        let mut cx = super::WriteCx { conn, appended: Vec::new() };
        let written = in_transaction(conn, || {
            for Closed { key, state, .. } in &due {
                conn.set_scope(audit_log::chain_scope(&key.chain))?;
                audit_log::append(&mut cx, &key.chain, state.draft(key))?;
                denial_log::forget(conn, &self.owner, key)?;
            }
            Ok(())
        });
        match written {
            Ok(()) => {
                let appended = std::mem::take(&mut cx.appended);
                self.after_commit(conn, &appended);
            }
            Err(e) => {
                tracing::error!(error = %e, "could not write aggregated denials; will retry");
                self.denials.restore(due);
            }
        }
    }

    /// Persist the counts of the open windows that changed since the last tick.
    fn persist_denials(&mut self, conn: &Db) {
        let dirty = self.denials.take_dirty();
        if dirty.is_empty() {
            return;
        }
        if let Err(e) = in_transaction(conn, || denial_log::persist(conn, &self.owner, &dirty)) {
            tracing::error!(error = %e, "could not persist open denial windows; will retry");
            self.denials.unpersisted(dirty.into_iter().map(|(k, _)| k));
        }
    }
}

/// Run `f` in one write transaction of its own (the writer is between batches).
fn in_transaction(conn: &Db, f: impl FnOnce() -> Result<(), StoreError>) -> Result<(), StoreError> {
    super::writer::begin_batch(conn)?;
    let outcome = f().and_then(|()| conn.commit());
    if outcome.is_err() {
        conn.rollback();
    }
    outcome
}

impl Housekeeping for Checkpointer {
    fn after_commit(&mut self, conn: &Db, appended: &[(String, u64, String)]) {
        for (chain, seq, hash) in appended {
            let p = self.pending.entry(chain.clone()).or_insert_with(|| Pending {
                seq: 0,
                hash: String::new(),
                count: 0,
                since: Instant::now(),
            });
            if *seq > p.seq {
                p.seq = *seq;
                p.hash = hash.clone();
            }
            p.count += 1;
        }
        let every = self.options.checkpoint_every.max(1);
        self.sign_where(conn, |p| p.count >= every);
    }

    fn on_tick(&mut self, conn: &Db, last: bool) {
        self.flush_denials(conn, last);
        self.persist_denials(conn);
        let interval = self.options.checkpoint_interval;
        self.sign_where(conn, |p| last || p.since.elapsed() >= interval);
    }
}
