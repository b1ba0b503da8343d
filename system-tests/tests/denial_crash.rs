//! Flood denial counts survive a crash (issue 19, defect 4): an open
//! window's counts are persisted within `denial_persist_ms`, so a SIGKILL
//! after that bound loses none, and the next start writes the window's one
//! aggregated `_system` record — exactly one, also after a clean stop.

use std::time::Duration;

use serde_json::json;
use system_tests::*;

/// The aggregated `_system` records of `reason` in a data dir.
fn aggregated(dir: &std::path::Path, reason: &str) -> Vec<serde_json::Value> {
    audit_chain(dir, "_system").into_iter().filter(|r| r["reason"] == reason && r["count"].is_u64()).collect()
}

#[tokio::test]
async fn denials_counted_before_a_sigkill_are_recorded_after_restart() {
    let dir = DataDir::init();
    // Every request reaches authentication (no address limit in the way).
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    let env = [("TOLLGATE_DENIAL_PERSIST_MS", "200")];
    let (server, _log) = HttpServer::start_logged(dir, &[], &env);
    let anonymous = server.endpoint().with_key(None);
    for i in 0..200 {
        let a = modern_call(&anonymous, i, "tools/list", json!({})).await;
        assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("missing_credential")));
    }
    // Well past the 200 ms bound (and inside the documented 5 s one); the
    // 60 s window is still open, so only the persisted counts can survive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dir = server.kill();
    assert!(aggregated(&dir.path, "missing_credential").is_empty(), "the window had not ended");

    // The next start writes the dead process's window as its one record.
    let server = HttpServer::start_in(dir, &[]);
    let after_start = aggregated(&server.dir.path, "missing_credential");
    assert_eq!(after_start.len(), 1, "one record for the window: {after_start:?}");
    assert_eq!(after_start[0]["count"], 200, "no denial lost: {after_start:?}");
    assert_eq!(after_start[0]["principal"], "anonymous");

    // A clean stop writes nothing more for it: the window is recorded once.
    let (dir, status) = server.stop();
    assert!(status.success());
    let total: u64 = aggregated(&dir.path, "missing_credential").iter().filter_map(|r| r["count"].as_u64()).sum();
    assert_eq!(total, 200, "counted exactly once");
    let (code, out, _) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}");
}
