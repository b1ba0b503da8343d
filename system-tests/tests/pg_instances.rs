//! Two `tollgate serve` instances on one PostgreSQL (issue 14, done-when 2):
//! what one instance changes, the other applies at its next call; a quota
//! race split over both admits exactly the limit; events committed through
//! one reach the listen streams the other holds, and only their tenant's;
//! a SIGKILL of one instance under load loses no acknowledged call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use system_tests::*;

const LOOSE: &str = "per_address_rps = 100000\nper_address_burst = 100000\n";

/// Instances A and B of one deployment (same database and signing key).
fn two_instances() -> Option<(HttpServer, HttpServer)> {
    let cluster = require_postgres!(None);
    let db = cluster.fresh_database();
    let dir_a = DataDir::init_on(Some(&db));
    std::fs::write(dir_a.path.join("tollgate.toml"), LOOSE).expect("config");
    let dir_b = dir_a.second_instance();
    Some((HttpServer::start_in(dir_a, &[]), HttpServer::start_in(dir_b, &[])))
}

async fn call(ep: &Endpoint, name: &str, arguments: Value) -> Answer {
    modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = call(ep, name, arguments).await;
    tool_output(&a.body).unwrap_or_else(|| panic!("{name} failed: {:?}", a.body))
}

async fn tenant(admin: &Endpoint, slug: &str, plan: &str) -> (String, String) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": plan})).await;
    (boot["tenant_id"].as_str().expect("id").to_owned(), boot["api_key"].as_str().expect("key").to_owned())
}

#[tokio::test]
async fn pg_a_tenant_made_on_a_is_served_by_b_and_a_revocation_on_b_applies_on_a_at_once() {
    let Some((a, b)) = two_instances() else { return };
    let (_, admin_key) = tenant(&a.endpoint(), "acme", "pro").await;
    let on_a = a.endpoint().with_key(Some(&admin_key));
    let on_b = b.endpoint().with_key(Some(&admin_key));
    let me = ok(&on_b, "whoami", json!({})).await;
    assert_eq!(me["role"], "tenant_admin", "B serves the tenant A bootstrapped: {me}");

    let issued = ok(&on_a, "key.issue", json!({"role": "viewer", "label": "ci"})).await;
    let (viewer_id, viewer_key) = (issued["key_id"].as_str().expect("id"), issued["api_key"].as_str().expect("key"));
    let viewer_on_a = a.endpoint().with_key(Some(viewer_key));
    ok(&viewer_on_a, "whoami", json!({})).await;
    ok(&on_b, "key.revoke", json!({"key_id": viewer_id})).await;
    let revoked_at = Instant::now();
    // No instance caches a key: the very next call on A is refused.
    let refused = call(&viewer_on_a, "whoami", json!({})).await;
    let delay = revoked_at.elapsed();
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    assert_eq!(error_reason(&refused.body), Some("key_revoked"), "{:?}", refused.body);
    eprintln!("revocation through B refused on A after {delay:?} (the next call; no cache)");
}

async fn listen(ep: &Endpoint) -> SseStream {
    let params = json!({"notifications": {"toolsListChanged": true}, "_meta": modern_meta()});
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "subscriptions/listen")];
    let mut s = SseStream::open(ep, &headers, &request(7, "subscriptions/listen", params).to_string()).await;
    assert_eq!(s.status, 200);
    let ack = s.next().await.expect("acknowledgment");
    assert!(ack.get("method").is_some() || ack.get("result").is_some(), "{ack}");
    s
}

#[tokio::test]
async fn pg_a_plan_change_through_a_reaches_the_tenants_stream_on_b_and_no_other() {
    let Some((a, b)) = two_instances() else { return };
    let admin_a = a.endpoint();
    let (alpha_id, alpha_key) = tenant(&admin_a, "alpha", "pro").await;
    let (beta_id, beta_key) = tenant(&admin_a, "beta", "pro").await;
    let mut alpha_on_b = listen(&b.endpoint().with_key(Some(&alpha_key))).await;
    let mut beta_on_b = listen(&b.endpoint().with_key(Some(&beta_key))).await;
    ok(&admin_a, "plan.set", json!({"tenant_id": alpha_id, "plan": "free"})).await;
    let note = tokio::time::timeout(Duration::from_secs(10), alpha_on_b.next()).await.expect("in time").expect("note");
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    // beta hears nothing of alpha's change: its next message is its own.
    ok(&admin_a, "plan.set", json!({"tenant_id": beta_id, "plan": "enterprise"})).await;
    let first = tokio::time::timeout(Duration::from_secs(10), beta_on_b.next()).await.expect("in time").expect("note");
    assert_eq!(first["method"], "notifications/tools/list_changed", "{first}");
    let again = tokio::time::timeout(Duration::from_millis(300), beta_on_b.next()).await;
    assert!(again.is_err(), "beta heard exactly one change (its own): {again:?}");
}

#[tokio::test]
async fn pg_a_thousand_calls_split_over_two_instances_admit_exactly_the_quota() {
    let Some((a, b)) = two_instances() else { return };
    let admin = a.endpoint();
    let (acme, key) = tenant(&admin, "acme", "pro").await;
    let limits = json!({"tool_calls": 100, "rate_per_key": 100000, "rate_per_account": 100000});
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": limits})).await;
    let targets = Arc::new([a.endpoint().with_key(Some(&key)), b.endpoint().with_key(Some(&key))]);
    let mut tasks = Vec::new();
    for t in 0..50 {
        let targets = Arc::clone(&targets);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..20 {
                let a = call(&targets[(t + i) % 2], "whoami", json!({})).await;
                out.push((a.status, a.body["error"]["code"].as_i64()));
            }
            out
        }));
    }
    let (mut admitted, mut denied) = (0, 0);
    for t in tasks {
        for answer in t.await.expect("task") {
            match answer {
                (200, None) => admitted += 1,
                (402, Some(-31402)) => denied += 1,
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    assert_eq!((admitted, denied), (100, 900));
    let used = sqlite_lines(
        &database(&a.dir.path),
        &format!("SELECT SUM(quantity) FROM usage_events WHERE tenant_id = '{acme}' AND counter = 'tool_calls'"),
    );
    assert_eq!(used, vec!["100".to_owned()], "exactly 100 ledger events across both instances");
}

#[tokio::test]
async fn pg_killing_one_instance_under_load_loses_no_acknowledged_call_and_every_chain_verifies() {
    let Some((a, b)) = two_instances() else { return };
    let (acme, key) = tenant(&a.endpoint(), "acme", "pro").await;
    let limits =
        json!({"tool_calls": 1000000, "rate_per_key": 100000, "rate_per_account": 100000, "max_active_keys": 100000});
    ok(&a.endpoint(), "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": limits})).await;
    let targets = Arc::new([a.endpoint().with_key(Some(&key)), b.endpoint().with_key(Some(&key))]);
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let targets = Arc::clone(&targets);
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..60usize {
                let label = format!("k{t}-{i}");
                let args = json!({"role": "viewer", "label": label});
                if let Ok(a) = try_http_tool(&targets[(t + i) % 2], 1, "key.issue", args).await
                    && let Some(out) = tool_output(&a.body)
                {
                    acknowledged.push(out["key_id"].as_str().unwrap_or_default().to_owned());
                }
            }
            acknowledged
        }));
    }
    // Kill A once calls are flowing through both (no timed wait: count keys).
    let counted = format!("SELECT COUNT(*) FROM api_keys WHERE tenant_id = '{acme}'");
    while sqlite_lines(&database(&a.dir.path), &counted).first().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0) < 40 {
        tokio::task::yield_now().await;
    }
    let dir_a = a.kill();
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("task"));
    }
    assert!(acknowledged.len() > 60, "the load went on through B: {}", acknowledged.len());
    let stored =
        sqlite_lines(&database(&dir_a.path), &format!("SELECT key_id FROM api_keys WHERE tenant_id = '{acme}'"));
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged key {id} is in the database");
    }
    drop(b);
    let (code, out, err) = audit_verify(&dir_a.path, &[]);
    assert_eq!(code, Some(0), "every chain verifies after the kill: {out}{err}");
}

#[tokio::test]
async fn pg_a_keys_rate_limit_holds_over_both_instances() {
    let cluster = require_postgres!();
    let db = cluster.fresh_database();
    let dir_a = DataDir::init_on(Some(&db));
    std::fs::write(dir_a.path.join("tollgate.toml"), LOOSE).expect("config");
    let clock = dir_a.path.join("clock");
    std::fs::write(&clock, "2030-01-15T12:00:00Z").expect("clock");
    let clock_arg = clock.display().to_string();
    let dir_b = dir_a.second_instance();
    let a = HttpServer::start_in(dir_a, &["--clock-file", &clock_arg]);
    let b = HttpServer::start_in(dir_b, &["--clock-file", &clock_arg]);
    let admin = a.endpoint();
    let (acme, key) = tenant(&admin, "acme", "pro").await;
    // Instances count each other at most every 5 s (INSTANCE_COUNT_REFRESH); the
    // plan change below is the first call that reads the limits of acme.
    let limits = json!({"rate_per_key": 20, "rate_per_account": 100000, "tool_calls": 100000});
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": limits})).await;
    let targets = [a.endpoint().with_key(Some(&key)), b.endpoint().with_key(Some(&key))];
    let mut admitted = [0u32; 2];
    for i in 0..80 {
        let answer = call(&targets[i % 2], "whoami", json!({})).await;
        match answer.status {
            200 => admitted[i % 2] += 1,
            429 => assert_eq!(answer.body["error"]["code"], -31429),
            other => panic!("unexpected {other}: {:?}", answer.body),
        }
    }
    eprintln!("rate_per_key 20 over two instances, clock frozen: admitted {admitted:?}");
    // Each instance enforces its half; the deployment admits at most the rate (+ N - 1 for rounding).
    assert!(admitted.iter().sum::<u32>() <= 21, "{admitted:?}");
    assert_eq!(admitted, [10, 10], "balanced traffic gets the whole rate, split evenly");
}
