//! Graceful shutdown (issue 9, Done-when 5): SIGTERM during a burst of calls.
//! Every call that got a reply is in the audit chain (a reply is only sent
//! after its record is durable), the process exits 0, and the chain verifies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use system_tests::*;
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_loses_no_acknowledged_call() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "burst", "display_name": "Burst"})).await;
    let out = tool_output(&boot.body).expect("bootstrap");
    let (tenant, key) =
        (out["tenant_id"].as_str().expect("id").to_owned(), out["api_key"].as_str().expect("key").to_owned());
    let to = admin.with_key(Some(&key));

    let replied = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut calls = Vec::new();
    for worker in 0..8 {
        let (to, replied, enough) = (to.clone(), Arc::clone(&replied), Arc::clone(&enough));
        calls.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for i in 0..60 {
                match try_http_tool(&to, worker * 1000 + i, "whoami", json!({})).await {
                    Ok(a) if a.status == 200 && tool_output(&a.body).is_some() => {
                        ok += 1;
                        if replied.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                            enough.notify_one();
                        }
                    }
                    // Refused or cut off by the shutdown: not acknowledged, so nothing to find.
                    _ => break,
                }
            }
            ok
        }));
    }
    enough.notified().await;
    let stopping = tokio::task::spawn_blocking(move || server.stop());
    let mut acknowledged = 0;
    for c in calls {
        acknowledged += c.await.expect("worker");
    }
    let (dir, status) = stopping.await.expect("stop");
    assert!(status.success(), "serve did not exit 0 on SIGTERM: {status:?}");
    assert!(acknowledged >= 40, "{acknowledged}");
    eprintln!("{acknowledged} of 480 calls answered before the shutdown");

    let records = audit_chain(&dir.path, &tenant);
    let audited = records.iter().filter(|r| r["tool"] == "whoami" && r["decision"] == "allow").count();
    assert!(audited >= acknowledged, "{acknowledged} calls were answered but only {audited} are audited");
    let (code, stdout, stderr) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "audit verify: {stdout} {stderr}");
}
