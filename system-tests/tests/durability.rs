//! Durability (issue 5, done-when 3): a burst of concurrent governed calls
//! over HTTP, the server killed with SIGKILL in the middle of it, a restart
//! on the same data dir. Every call that was acknowledged must have both its
//! effect and its audit record, effects and records must match one to one
//! (never one without the other), and the audit log must verify offline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use system_tests::{
    Answer, Endpoint, HttpServer, audit_pubkey, audit_verify, database, http_tool, sqlite_lines, tool_output,
    try_http_tool,
};

/// Calls in the burst, concurrent clients, and how many acknowledged calls
/// to wait for before pulling the plug.
const CALLS: usize = 200;
const CLIENTS: usize = 16;
const KILL_AFTER: usize = 40;

/// `sha256:<hex>` of the RFC 8785 form of `v` (the audit log's `result_digest`).
fn digest_json(v: &Value) -> String {
    let text = serde_json_canonicalizer::to_string(v).expect("canonical JSON");
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// The era-neutral tool result the server digests into the audit record:
/// the reply's `result` without the fields the 2026-07-28 era adds.
fn era_neutral(result: &Value) -> Value {
    let mut r = result.clone();
    if let Some(o) = r.as_object_mut() {
        o.remove("resultType");
        o.remove("_meta");
    }
    r
}

/// One chain's records, read straight from the database (read-only).
fn chain_records(dir: &std::path::Path, chain: &str) -> Vec<Value> {
    sqlite_lines(&database(dir), &format!("SELECT record FROM audit_records WHERE chain = '{chain}' ORDER BY seq"))
        .iter()
        .map(|r| serde_json::from_str(r).expect("a record is JSON"))
        .collect()
}

/// The request ids of a tenant's usage events for `counter`, read straight from the database.
fn usage_request_ids(dir: &std::path::Path, tenant: &str, counter: &str) -> Vec<String> {
    sqlite_lines(
        &database(dir),
        &format!("SELECT request_id FROM usage_events WHERE tenant_id = '{tenant}' AND counter = '{counter}'"),
    )
}

/// An acknowledged `key.issue`: its label, the key id it returned, and the
/// digest of its result as the audit record must carry it.
#[derive(Debug)]
struct Acked {
    label: String,
    key_id: String,
    result_digest: String,
}

/// A successful `key.issue` reply, if this answer is one.
fn acknowledged(label: &str, answer: &Answer) -> Option<Acked> {
    let out = tool_output(&answer.body)?;
    let key_id = out.get("key_id")?.as_str()?.to_owned();
    (answer.status == 200).then(|| Acked {
        label: label.to_owned(),
        key_id,
        result_digest: digest_json(&era_neutral(&answer.body["result"])),
    })
}

async fn key_list(to: &Endpoint) -> BTreeMap<String, String> {
    let reply = http_tool(to, 9_001, "key.list", json!({})).await;
    let out = tool_output(&reply.body).unwrap_or_else(|| panic!("key.list failed: {:?}", reply.body));
    out["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (k["key_id"].as_str().unwrap_or_default().to_owned(), k["label"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_calls_survive_sigkill_mid_burst_with_effect_and_audit_record() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot = http_tool(
        &admin,
        1,
        "tenant.bootstrap",
        json!({"slug": "burst", "display_name": "Burst", "plan": "enterprise"}),
    )
    .await;
    let boot = tool_output(&boot.body).unwrap_or_else(|| panic!("bootstrap failed: {:?}", boot.body));
    let tenant = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    let owner = admin.with_key(boot["api_key"].as_str());

    // The burst: CLIENTS tasks share CALLS unique labels; each success is
    // announced so that the test kills the server once KILL_AFTER are in.
    let next = Arc::new(AtomicUsize::new(0));
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (next, acked_tx, to) = (Arc::clone(&next), acked_tx.clone(), owner.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= CALLS {
                    break;
                }
                let label = format!("burst-{i:03}");
                let answer =
                    try_http_tool(&to, 1_000 + i as i64, "key.issue", json!({"role": "viewer", "label": label})).await;
                if answer.as_ref().is_ok_and(|a| acknowledged(&label, a).is_some()) {
                    let _ = acked_tx.send(());
                }
                seen.push((label, answer));
            }
            seen
        }));
    }
    drop(acked_tx);
    let mut in_before_kill = 0;
    while in_before_kill < KILL_AFTER && acked_rx.recv().await.is_some() {
        in_before_kill += 1;
    }
    let dir = server.kill();
    let started_after_kill = next.load(Ordering::SeqCst).min(CALLS);

    let mut acked: Vec<Acked> = Vec::new();
    let mut unanswered = 0;
    let mut not_ok = Vec::new();
    for task in tasks {
        for (label, answer) in task.await.expect("client task") {
            match answer {
                Ok(a) => match acknowledged(&label, &a) {
                    Some(ack) => acked.push(ack),
                    None => not_ok.push((label, a.status, a.body)),
                },
                Err(_) => unanswered += 1,
            }
        }
    }
    assert_eq!(in_before_kill, KILL_AFTER, "the burst never produced {KILL_AFTER} acknowledged calls");
    assert!(not_ok.is_empty(), "every answer the server gave during the burst was a success: {not_ok:?}");
    assert!(
        acked.len() < CALLS && unanswered > 0,
        "the kill did not land mid-burst ({} acknowledged, {unanswered} unanswered, {started_after_kill} started); \
         the test proves nothing",
        acked.len()
    );
    eprintln!("acked {} unanswered {unanswered} started {started_after_kill}", acked.len());
    let labels: BTreeSet<&str> = acked.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(labels.len(), acked.len(), "labels are unique");

    // Restart on the same data dir.
    let server = HttpServer::start_in(dir, &[]);
    let owner = server.endpoint().with_key(owner.key.as_deref());

    // Effects: every acknowledged key exists, with its label.
    let keys = key_list(&owner).await;
    let missing: Vec<&Acked> = acked.iter().filter(|a| keys.get(&a.key_id) != Some(&a.label)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged key.issue calls lost their effect after SIGKILL: {missing:?}",
        missing.len(),
        acked.len()
    );
    let burst_keys: BTreeSet<&String> = keys.iter().filter(|(_, l)| l.starts_with("burst-")).map(|(k, _)| k).collect();

    // Audit records: every acknowledged call has its own allow record (matched
    // by the digest of the very result it was answered with), and effects and
    // records match one to one: no effect without a record, no record without
    // an effect.
    let records = chain_records(&server.dir.path, &tenant);
    let issued: Vec<&Value> = records
        .iter()
        .filter(|r| r["tool"] == "key.issue" && r["decision"] == "allow" && r["reason"].is_null())
        .collect();
    let digests: BTreeSet<&str> = issued.iter().filter_map(|r| r["result_digest"].as_str()).collect();
    let unaudited: Vec<&Acked> = acked.iter().filter(|a| !digests.contains(a.result_digest.as_str())).collect();
    assert!(
        unaudited.is_empty(),
        "{} acknowledged calls have no audit record with their result: {unaudited:?}",
        unaudited.len()
    );
    assert!(issued.len() >= acked.len(), "{} allow records for {} acknowledged calls", issued.len(), acked.len());
    assert_eq!(
        issued.len(),
        burst_keys.len(),
        "key.issue effects ({}) and their allow records ({}) must match one to one",
        burst_keys.len(),
        issued.len()
    );
    // The usage ledger is committed with the effect and the record: one
    // `keys_issued` event per allowed key.issue record, by request id.
    let audited: BTreeSet<&str> = issued.iter().filter_map(|r| r["request_id"].as_str()).collect();
    let charged = usage_request_ids(&server.dir.path, &tenant, "keys_issued");
    assert_eq!(
        charged.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        audited,
        "keys_issued usage events and allow records of key.issue must match one to one"
    );
    assert_eq!(charged.len(), audited.len(), "no request is charged twice");
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>(), "the tenant's chain is gapless from 1");

    // The log verifies offline while the restarted server runs (the tail
    // written before the kill may not be signed yet; that is allowed) ...
    let (pubkey, _) = audit_pubkey(&server.dir.path);
    for pin in [vec![], vec!["--pubkey", pubkey.as_str()]] {
        let (code, out, err) = audit_verify(&server.dir.path, &pin);
        assert_eq!(code, Some(0), "audit verify {pin:?} after the restart:\n{out}{err}");
        assert!(out.contains(&format!("ok      {tenant}: {} records", records.len())), "{out}");
    }

    // ... the restarted server keeps the chain going ...
    let after = http_tool(&owner, 9_002, "key.issue", json!({"role": "viewer", "label": "after-restart"})).await;
    assert!(tool_output(&after.body).is_some(), "a call after the restart: {:?}", after.body);

    // ... and after a clean stop every chain is signed through its last record.
    let (dir, status) = server.stop();
    assert!(status.success(), "tollgate serve did not exit cleanly on SIGTERM: {status:?}");
    let (code, out, err) = audit_verify(&dir.path, &["--pubkey", pubkey.as_str()]);
    assert_eq!(code, Some(0), "audit verify after a clean stop:\n{out}{err}");
    assert!(out.contains(&format!("ok      {tenant}: {} records", records.len() + 1)), "{out}");
    assert!(!out.contains("not yet checkpointed"), "a clean stop signs every chain's tail:\n{out}");
}
