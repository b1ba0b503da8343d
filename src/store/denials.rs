//! Aggregated flood denials: unauthenticated, address-limited and
//! rate-limited requests are counted per window and written as one audit record each.
//!
//! Invariant: a flood costs one record per (chain, principal, reason, tool,
//! transport) per window, written when the window ends and at shutdown; an
//! open window's counts are also persisted by the writer's tick
//! ([`super::denial_log`]), so a crash loses at most one tick of counts and the
//! next start writes the window's one record.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::audit::{Aggregate, Decision, RecordDraft};

/// What makes two denials "identical".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DenialKey {
    pub chain: String,
    pub principal: String,
    pub reason: String,
    pub tool: Option<String>,
    pub transport: String,
}

/// What an open window has counted so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    pub count: u64,
    /// First and last denial (RFC 3339).
    pub start: String,
    pub end: String,
    pub first_request_id: String,
}

impl WindowState {
    /// The window's one aggregated audit record, for the chain `key.chain`.
    pub fn draft(&self, key: &DenialKey) -> RecordDraft {
        RecordDraft {
            ts: self.end.clone(),
            request_id: self.first_request_id.clone(),
            principal: key.principal.clone(),
            tenant: key.chain.clone(),
            tool: key.tool.clone(),
            version: None,
            decision: Decision::Deny,
            reason: Some(key.reason.clone()),
            args_digest: None,
            result_digest: None,
            usage: serde_json::Map::new(),
            transport: key.transport.clone(),
            aggregate: Some(Aggregate {
                count: self.count,
                window_start: self.start.clone(),
                window_end: self.end.clone(),
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct Window {
    state: WindowState,
    opened_at: time::OffsetDateTime,
    /// Counted since it was last persisted.
    dirty: bool,
}

/// A window taken out for writing; [`DenialWindows::restore`] puts it back if the write failed.
#[derive(Debug, Clone)]
pub struct Closed {
    pub key: DenialKey,
    pub state: WindowState,
    opened_at: time::OffsetDateTime,
}

/// Open windows.
#[derive(Debug)]
pub struct DenialWindows {
    open: Mutex<BTreeMap<DenialKey, Window>>,
    length: time::Duration,
}

impl DenialWindows {
    pub fn new(length: time::Duration) -> Self {
        Self { open: Mutex::new(BTreeMap::new()), length }
    }

    /// Count one denial at `now`.
    pub fn note(&self, key: DenialKey, now: time::OffsetDateTime, request_id: &str) {
        let ts = crate::clock::rfc3339(now);
        let Ok(mut open) = self.open.lock() else { return };
        let w = open.entry(key).or_insert_with(|| Window {
            state: WindowState {
                count: 0,
                start: ts.clone(),
                end: ts.clone(),
                first_request_id: request_id.to_owned(),
            },
            opened_at: now,
            dirty: true,
        });
        w.state.count += 1;
        w.state.end = ts;
        w.dirty = true;
    }

    /// The open windows counted since the last call (to persist them); they
    /// count as persisted from now on unless [`Self::unpersisted`] says otherwise.
    pub fn take_dirty(&self) -> Vec<(DenialKey, WindowState)> {
        let Ok(mut open) = self.open.lock() else { return Vec::new() };
        open.iter_mut()
            .filter(|(_, w)| w.dirty)
            .map(|(k, w)| {
                w.dirty = false;
                (k.clone(), w.state.clone())
            })
            .collect()
    }

    /// Persisting `keys` failed: try again at the next tick.
    pub fn unpersisted(&self, keys: impl IntoIterator<Item = DenialKey>) {
        let Ok(mut open) = self.open.lock() else { return };
        for k in keys {
            if let Some(w) = open.get_mut(&k) {
                w.dirty = true;
            }
        }
    }

    /// Take out the windows that have ended by `now` (all of them if `all`).
    pub fn take_due(&self, now: time::OffsetDateTime, all: bool) -> Vec<Closed> {
        let Ok(mut open) = self.open.lock() else { return Vec::new() };
        let due: Vec<DenialKey> =
            open.iter().filter(|(_, w)| all || w.opened_at + self.length <= now).map(|(k, _)| k.clone()).collect();
        due.into_iter()
            .filter_map(|k| open.remove(&k).map(|w| Closed { key: k, state: w.state, opened_at: w.opened_at }))
            .collect()
    }

    /// Writing `closed` failed: put the windows back, merged with anything
    /// counted for the same key since, so no denial is lost or counted twice.
    pub fn restore(&self, closed: Vec<Closed>) {
        let Ok(mut open) = self.open.lock() else { return };
        for c in closed {
            let merged = match open.remove(&c.key) {
                None => Window { state: c.state, opened_at: c.opened_at, dirty: true },
                Some(newer) => Window {
                    state: WindowState {
                        count: c.state.count + newer.state.count,
                        start: c.state.start,
                        end: newer.state.end,
                        first_request_id: c.state.first_request_id,
                    },
                    opened_at: c.opened_at,
                    dirty: true,
                },
            };
            open.insert(c.key, merged);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(reason: &str) -> DenialKey {
        DenialKey {
            chain: "_system".into(),
            principal: "anonymous".into(),
            reason: reason.into(),
            tool: None,
            transport: "http".into(),
        }
    }

    #[test]
    fn a_flood_becomes_one_record_per_window() {
        let w = DenialWindows::new(time::Duration::seconds(60));
        let t0 = time::macros::datetime!(2026-11-24 12:00:00 UTC);
        for i in 0..1000 {
            w.note(key("invalid_key"), t0 + time::Duration::milliseconds(i), "r");
        }
        w.note(key("missing_credential"), t0, "r2");
        assert!(w.take_due(t0 + time::Duration::seconds(59), false).is_empty(), "window still open");
        let due = w.take_due(t0 + time::Duration::seconds(60), false);
        assert_eq!(due.len(), 2);
        let counts: Vec<u64> =
            due.iter().filter_map(|c| c.state.draft(&c.key).aggregate.as_ref().map(|a| a.count)).collect();
        assert!(counts.contains(&1000) && counts.contains(&1));
        assert!(w.take_due(t0 + time::Duration::hours(1), true).is_empty(), "nothing counted twice");
    }

    #[test]
    fn only_windows_counted_since_the_last_persist_are_dirty() {
        let w = DenialWindows::new(time::Duration::seconds(60));
        let t0 = time::macros::datetime!(2026-11-24 12:00:00 UTC);
        w.note(key("a"), t0, "r1");
        w.note(key("b"), t0, "r2");
        assert_eq!(w.take_dirty().len(), 2);
        assert!(w.take_dirty().is_empty(), "nothing new");
        w.note(key("a"), t0, "r3");
        let dirty = w.take_dirty();
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].1.count, 2, "the absolute count of the window");
        w.unpersisted([key("a")]);
        assert_eq!(w.take_dirty().len(), 1, "a failed persist is retried");
    }

    #[test]
    fn a_window_whose_write_failed_is_restored_and_merged() {
        let w = DenialWindows::new(time::Duration::seconds(60));
        let t0 = time::macros::datetime!(2026-11-24 12:00:00 UTC);
        for _ in 0..3 {
            w.note(key("a"), t0, "first");
        }
        let closed = w.take_due(t0, true);
        w.note(key("a"), t0 + time::Duration::seconds(5), "later");
        w.restore(closed);
        let all = w.take_due(t0 + time::Duration::hours(1), true);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state.count, 4);
        assert_eq!(all[0].state.first_request_id, "first");
        assert_eq!(all[0].state.end, "2026-11-24T12:00:05Z");
    }
}
