//! Aggregated flood denials: unauthenticated, address-limited and
//! rate-limited requests are counted per window and written as one audit record each.
//!
//! Invariant: a flood costs one record per (chain, principal, reason, tool,
//! transport) per window, flushed when the window ends and at shutdown; no
//! counted denial is lost on a clean stop.

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

#[derive(Debug, Clone)]
struct Window {
    count: u64,
    start: String,
    end: String,
    first_request_id: String,
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
            count: 0,
            start: ts.clone(),
            end: ts.clone(),
            first_request_id: request_id.to_owned(),
            opened_at: now,
        });
        w.count += 1;
        w.end = ts;
    }

    /// Close the windows that have ended by `now` (all of them if `all`), as record drafts.
    pub fn take_due(&self, now: time::OffsetDateTime, all: bool) -> Vec<(String, RecordDraft)> {
        let Ok(mut open) = self.open.lock() else { return Vec::new() };
        let due: Vec<DenialKey> =
            open.iter().filter(|(_, w)| all || w.opened_at + self.length <= now).map(|(k, _)| k.clone()).collect();
        due.into_iter()
            .filter_map(|k| open.remove(&k).map(|w| (k, w)))
            .map(|(k, w)| {
                let draft = RecordDraft {
                    ts: w.end.clone(),
                    request_id: w.first_request_id,
                    principal: k.principal,
                    tenant: k.chain.clone(),
                    tool: k.tool,
                    version: None,
                    decision: Decision::Deny,
                    reason: Some(k.reason),
                    args_digest: None,
                    result_digest: None,
                    usage: serde_json::Map::new(),
                    transport: k.transport,
                    aggregate: Some(Aggregate { count: w.count, window_start: w.start, window_end: w.end }),
                };
                (k.chain, draft)
            })
            .collect()
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
        let counts: Vec<u64> = due.iter().filter_map(|(_, d)| d.aggregate.as_ref().map(|a| a.count)).collect();
        assert!(counts.contains(&1000) && counts.contains(&1));
        assert!(w.take_due(t0 + time::Duration::hours(1), true).is_empty(), "nothing counted twice");
    }
}
