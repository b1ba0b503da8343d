//! Signed checkpoints, written by the writer thread after commits.
//!
//! Invariant: a chain's newest records are signed after `checkpoint_every`
//! records or `checkpoint_interval` of time, and always at shutdown, so a cut
//! tail is detectable offline.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::Connection;

use super::audit_log;
use super::error::StoreError;
use super::writer::Housekeeping;
use crate::audit::{Checkpoint, SigningKey};
use crate::clock::Clock;

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Sign a checkpoint after this many new records in a chain.
    pub checkpoint_every: u64,
    /// ... or after this long with unsigned records.
    pub checkpoint_interval: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { checkpoint_every: 100, checkpoint_interval: std::time::Duration::from_secs(10) }
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
    denials: std::sync::Arc<super::denials::DenialWindows>,
}

impl Checkpointer {
    /// Start with every chain whose tail is not yet signed (e.g. after a crash).
    pub fn new(
        key: SigningKey,
        clock: Clock,
        options: StoreOptions,
        denials: std::sync::Arc<super::denials::DenialWindows>,
        conn: &Connection,
    ) -> Result<Self, StoreError> {
        let signed: HashMap<String, u64> = audit_log::checkpointed(conn)?.into_iter().collect();
        let mut pending = HashMap::new();
        for chain in audit_log::chains(conn)? {
            if let Some((seq, hash)) = audit_log::head(conn, &chain)?
                && signed.get(&chain).copied().unwrap_or(0) < seq
            {
                pending.insert(chain, Pending { seq, hash, count: 1, since: Instant::now() });
            }
        }
        Ok(Self { key, clock, options, pending, denials })
    }

    fn sign(&self, conn: &Connection, chain: &str, p: &Pending) -> Result<(), StoreError> {
        let cp = Checkpoint::sign(&self.key, chain, p.seq, &p.hash, &self.clock.now_rfc3339())?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        match audit_log::insert_checkpoint(conn, &cp).and_then(|()| Ok(conn.execute_batch("COMMIT")?)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn sign_where(&mut self, conn: &Connection, due: impl Fn(&Pending) -> bool) {
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
    /// Write the aggregated denials whose window ended (all of them at shutdown).
    fn flush_denials(&mut self, conn: &Connection, all: bool) {
        let due = self.denials.take_due(self.clock.now(), all);
        if due.is_empty() {
            return;
        }
        let mut cx = super::WriteCx { conn, appended: Vec::new() };
        let written = conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::from).and_then(|()| {
            for (chain, draft) in due {
                audit_log::append(&mut cx, &chain, draft)?;
            }
            Ok(conn.execute_batch("COMMIT")?)
        });
        match written {
            Ok(()) => {
                let appended = std::mem::take(&mut cx.appended);
                self.after_commit(conn, &appended);
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                tracing::error!(error = %e, "could not write aggregated denials");
            }
        }
    }
}

impl Housekeeping for Checkpointer {
    fn after_commit(&mut self, conn: &Connection, appended: &[(String, u64, String)]) {
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

    fn on_tick(&mut self, conn: &Connection, last: bool) {
        self.flush_denials(conn, last);
        let interval = self.options.checkpoint_interval;
        self.sign_where(conn, |p| last || p.since.elapsed() >= interval);
    }
}
