//! Test support for the audit module: sample drafts, random drafts for
//! property tests, chains built from them, and deterministic keys.
//! Invariant: everything generated here seals without error.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Aggregate, AuditRecord, Decision, GENESIS, RecordDraft, SigningKey, digest};

/// A fixed, plausible draft; `i` varies the request id and timestamp.
pub(crate) fn sample_draft(i: u64) -> RecordDraft {
    let mut usage = Map::new();
    usage.insert("tool_calls".into(), json!(1));
    RecordDraft {
        ts: format!("2026-11-24T22:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        request_id: format!("req-{i}"),
        principal: "k_0123456789abcdef".into(),
        tenant: "t_acme".into(),
        tool: Some("whoami".into()),
        version: Some(1),
        decision: Decision::Allow,
        reason: None,
        args_digest: Some(digest(b"{}")),
        result_digest: Some(digest(format!("result-{i}").as_bytes())),
        usage,
        transport: "stdio".into(),
        aggregate: None,
    }
}

/// Seals `drafts` into a valid chain named `chain`, seq 1..=n.
pub(crate) fn build_chain(chain: &str, drafts: Vec<RecordDraft>) -> Vec<AuditRecord> {
    let mut prev = GENESIS.to_owned();
    let mut out = Vec::with_capacity(drafts.len());
    for (i, draft) in drafts.into_iter().enumerate() {
        let record = AuditRecord::seal(chain, i as u64 + 1, &prev, draft).unwrap();
        prev = record.hash.clone();
        out.push(record);
    }
    out
}

/// A signing key derived from one byte, so tests are reproducible.
pub(crate) fn test_key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn arb_ts() -> impl Strategy<Value = String> {
    (1_700_000_000i64..2_000_000_000, prop::option::of(0u32..1000)).prop_map(|(secs, millis)| {
        let mut t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
        if let Some(ms) = millis {
            t += time::Duration::milliseconds(i64::from(ms));
        }
        t.format(&Rfc3339).unwrap()
    })
}

fn arb_digest() -> impl Strategy<Value = String> {
    any::<[u8; 8]>().prop_map(|b| digest(&b))
}

/// Random but valid drafts, aggregated ones included.
pub(crate) fn arb_draft() -> impl Strategy<Value = RecordDraft> {
    let who = (
        arb_ts(),
        "[a-z0-9-]{1,12}",
        prop_oneof![Just("anonymous".to_owned()), "k_[0-9a-f]{16}"],
        prop_oneof![Just("_system".to_owned()), "t_[a-z]{1,8}"],
        prop::option::of("[a-z]{1,8}(\\.[a-z]{1,8})?"),
        prop::option::of(1u32..5),
    );
    let what = (
        any::<bool>(),
        prop::option::of("[a-z_]{1,16}"),
        prop::option::of(arb_digest()),
        prop::option::of(arb_digest()),
        prop::collection::btree_map("[a-z_]{1,12}", 0u64..1_000_000, 0..3),
        prop::sample::select(vec!["stdio", "http", "https", "cli"]),
        prop::option::of((1u64..10_000, arb_ts(), 0i64..3600)),
    );
    (who, what).prop_map(|(who, what)| {
        let (ts, request_id, principal, tenant, tool, version) = who;
        let (allow, reason, args_digest, result_digest, usage, transport, agg) = what;
        let aggregate = agg.map(|(count, start, secs)| {
            let t = OffsetDateTime::parse(&start, &Rfc3339).unwrap();
            let end = (t + time::Duration::seconds(secs)).format(&Rfc3339).unwrap();
            Aggregate { count, window_start: start, window_end: end }
        });
        RecordDraft {
            ts,
            request_id,
            principal,
            tenant,
            tool,
            version,
            decision: if allow { Decision::Allow } else { Decision::Deny },
            reason,
            args_digest,
            result_digest,
            usage: usage.into_iter().map(|(k, v)| (k, Value::from(v))).collect(),
            transport: transport.to_owned(),
            aggregate,
        }
    })
}
