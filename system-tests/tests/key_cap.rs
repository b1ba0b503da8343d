//! The active-key cap holds through rotations (issue 19, defect 1): a key
//! that a rotation replaced cannot be rotated again (`key_already_rotated`),
//! so rotating one key over and over adds no keys; during a grace the only
//! excess over the cap is one old key per rotation, and after it none.
//! Time moves through the server's `--clock-file`.

use serde_json::{Value, json};
use system_tests::*;

const T0: &str = "2030-01-15T12:00:00Z";

async fn tool(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    a.body
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let body = tool(ep, name, arguments).await;
    tool_output(&body).unwrap_or_else(|| panic!("{name} failed: {body:?}"))
}

async fn failure(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let body = tool(ep, name, arguments).await;
    tool_failure(&body).unwrap_or_else(|| panic!("{name} should fail: {body:?}"))
}

/// The tenant's keys that `key.list` shows as `active` (not revoked, not expired).
async fn active(admin: &Endpoint) -> Vec<String> {
    let listed = ok(admin, "key.list", json!({})).await;
    listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["status"] == "active")
        .filter_map(|k| k["key_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn rotating_one_key_again_and_again_never_exceeds_the_key_cap() {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    let clock = dir.path.join("clock");
    std::fs::write(&clock, T0).expect("clock");
    let clock_arg = clock.to_string_lossy().into_owned();
    let server = HttpServer::start_in(dir, &["--clock-file", &clock_arg]);
    let platform = server.endpoint();

    let boot = ok(&platform, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme", "plan": "pro"})).await;
    let tenant = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    ok(&platform, "plan.set", json!({"tenant_id": tenant, "plan": "pro", "limits": {"max_active_keys": 3}})).await;
    let admin = platform.with_key(boot["api_key"].as_str());

    // Fill the cap: the bootstrap key and two more.
    let issue = json!({"role": "operator", "label": "worker"});
    ok(&admin, "key.issue", issue.clone()).await;
    let k = ok(&admin, "key.issue", issue.clone()).await["key_id"].as_str().expect("key_id").to_owned();
    assert_eq!(failure(&admin, "key.issue", issue.clone()).await["code"], "failed_precondition");
    assert_eq!(active(&admin).await.len(), 3);

    // The first rotation is allowed; the replaced key cannot be rotated again.
    let rotate = json!({"key_id": k, "grace_seconds": 3600});
    let first = ok(&admin, "key.rotate", rotate.clone()).await;
    let successor = first["key_id"].as_str().expect("key_id").to_owned();
    for attempt in 2..=6 {
        let refused = failure(&admin, "key.rotate", rotate.clone()).await;
        assert_eq!(refused["code"], "key_already_rotated", "rotation #{attempt}: {refused}");
        assert!(refused["message"].as_str().unwrap_or_default().contains(&successor), "{refused}");
    }
    // During the grace: the cap (3) plus the one old key of the one rotation.
    let during = active(&admin).await;
    assert_eq!(during.len(), 4, "{during:?}");
    assert!(during.contains(&k) && during.contains(&successor), "{during:?}");
    // A new key still counts the old key in its grace.
    assert_eq!(failure(&admin, "key.issue", issue.clone()).await["code"], "failed_precondition");

    // Rotating the successor is a new rotation: one more old key in grace.
    let second = ok(&admin, "key.rotate", json!({"key_id": successor, "grace_seconds": 60})).await;
    let third = second["key_id"].as_str().expect("key_id").to_owned();
    assert_eq!(active(&admin).await.len(), 5);

    // After the graces: exactly the cap, and the replacements do not expire.
    std::fs::write(&clock, "2030-01-15T13:00:01Z").expect("clock");
    let after = active(&admin).await;
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(after.contains(&third) && !after.contains(&k) && !after.contains(&successor), "{after:?}");
    assert_eq!(failure(&admin, "key.issue", issue).await["code"], "failed_precondition");
    let listed = ok(&admin, "key.list", json!({})).await;
    let newest = listed["keys"].as_array().expect("keys").iter().find(|v| v["key_id"] == third.as_str()).cloned();
    assert!(newest.is_some_and(|v| v.get("expires_at").is_none()), "{listed}");
}
