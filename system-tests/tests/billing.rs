//! Plans, quotas, rate limits and idempotency through the binary over HTTP.

use std::sync::Arc;

use serde_json::{Value, json};
use system_tests::*;

/// A server whose per-address limit will not interfere, with a clock file.
fn server() -> (HttpServer, std::path::PathBuf) {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    let clock = dir.path.join("clock");
    std::fs::write(&clock, "2030-01-15T12:00:00Z").expect("clock");
    let clock_arg = clock.to_string_lossy().into_owned();
    (HttpServer::start_in(dir, &["--clock-file", &clock_arg]), clock)
}

async fn tool(ep: &Endpoint, name: &str, arguments: Value) -> Answer {
    modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = tool(ep, name, arguments).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    assert_ne!(a.body["result"]["isError"], true, "{name}: {:?}", a.body);
    a.body["result"]["structuredContent"].clone()
}

async fn tenant(admin: &Endpoint, slug: &str, plan: &str) -> (String, Endpoint) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": plan})).await;
    let id = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    (id, admin.with_key(boot["api_key"].as_str()))
}

fn ledger_count(dir: &std::path::Path, tenant: &str, counter: &str) -> u64 {
    let lines = sqlite_lines(
        &database(dir),
        &format!(
            "SELECT COALESCE(SUM(quantity),0) FROM usage_events WHERE tenant_id = '{tenant}' AND counter = '{counter}'"
        ),
    );
    lines.first().and_then(|l| l.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_thousand_concurrent_calls_against_a_quota_of_100_admit_exactly_100() {
    let (server, _clock) = server();
    let admin = server.endpoint();
    let (acme, key) = tenant(&admin, "acme", "pro").await;
    let limits = json!({"tool_calls": 100, "rate_per_key": 100000, "rate_per_account": 100000});
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": limits})).await;

    let key = Arc::new(key);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let key = Arc::clone(&key);
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..20 {
                let a = tool(&key, "whoami", json!({})).await;
                statuses.push((a.status, a.body["error"]["code"].as_i64(), a.body["error"]["data"].clone()));
            }
            statuses
        }));
    }
    let mut admitted = 0;
    let mut denied = 0;
    for t in tasks {
        for (status, code, data) in t.await.expect("task") {
            match (status, code) {
                (200, None) => admitted += 1,
                (402, Some(-31402)) => {
                    assert_eq!(data["counter"], "tool_calls");
                    assert_eq!(data["limit"], 100);
                    assert_eq!(data["resets_at"], "2030-02-01T00:00:00Z");
                    denied += 1;
                }
                other => panic!("unexpected answer {other:?} {data}"),
            }
        }
    }
    assert_eq!((admitted, denied), (100, 900));
    let (dir, _) = server.stop();
    assert_eq!(ledger_count(&dir.path, &acme, "tool_calls"), 100, "exactly 100 tool_calls events");
    let chain = audit_chain(&dir.path, &acme);
    let quota_denials = chain.iter().filter(|r| r["decision"] == "deny" && r["reason"] == "quota_exceeded").count();
    assert_eq!(quota_denials, 900, "each denial is in the audit chain");
}

#[tokio::test]
async fn a_burst_beyond_the_bucket_waits_exactly_until_the_clock_advances() {
    let (server, clock) = server();
    let admin = server.endpoint();
    let (acme, key) = tenant(&admin, "acme", "free").await;
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "free", "limits": {"rate_per_key": 5}})).await;
    for _ in 0..5 {
        ok(&key, "whoami", json!({})).await;
    }
    let limited = tool(&key, "whoami", json!({})).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["error"]["code"], -31429);
    assert_eq!(limited.body["error"]["data"]["retry_after_ms"], 12000, "one token every 12 s");
    assert_eq!(limited.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("12"));
    std::fs::write(&clock, "2030-01-15T12:00:11Z").expect("clock");
    assert_eq!(tool(&key, "whoami", json!({})).await.status, 429, "not yet");
    std::fs::write(&clock, "2030-01-15T12:00:12Z").expect("clock");
    ok(&key, "whoami", json!({})).await;
}

async fn with_idempotency(ep: &Endpoint, name: &str, arguments: Value, key: &str) -> Answer {
    let mut meta = modern_meta();
    meta["dev.tollgate/idempotencyKey"] = json!(key);
    let body = request(1, "tools/call", json!({"name": name, "arguments": arguments, "_meta": meta})).to_string();
    post(ep, &[("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", name)], &body).await
}

#[tokio::test]
async fn idempotent_retries_replay_once_charged_and_never_keep_secrets() {
    let (server, _clock) = server();
    let admin = server.endpoint();
    let (acme, acme_key) = tenant(&admin, "acme", "pro").await;
    let (_, globex_key) = tenant(&admin, "globex", "pro").await;

    let first = with_idempotency(&acme_key, "usage.report", json!({}), "k-1").await;
    let again = with_idempotency(&acme_key, "usage.report", json!({}), "k-1").await;
    assert_eq!(first.body["result"], again.body["result"], "the replay is the first result");
    let used = |a: &Answer| a.body["result"]["structuredContent"]["counters"][0]["used"].clone();
    assert_eq!(used(&first), used(&again));
    let reused = with_idempotency(&acme_key, "usage.report", json!({"period": "2030-01"}), "k-1").await;
    assert_eq!(tool_failure(&reused.body).map(|f| f["code"].clone()), Some(json!("idempotency_key_reused")));
    // Another tool, tenant or principal with the same key string is independent.
    let other_tool = with_idempotency(&acme_key, "whoami", json!({}), "k-1").await;
    assert_ne!(other_tool.body["result"]["isError"], true);
    let other_tenant = with_idempotency(&globex_key, "usage.report", json!({}), "k-1").await;
    assert_ne!(other_tenant.body["result"]["isError"], true);
    let viewer = ok(&acme_key, "key.issue", json!({"role": "auditor", "label": "books"})).await;
    let auditor = acme_key.with_key(viewer["api_key"].as_str());
    let other_principal = with_idempotency(&auditor, "usage.report", json!({}), "k-1").await;
    assert_ne!(other_principal.body["result"]["isError"], true);

    // A result with a secret is not kept: its retry is refused and nothing is charged twice.
    let issued = with_idempotency(&acme_key, "key.issue", json!({"role": "viewer", "label": "x"}), "k-2").await;
    let secret = issued.body["result"]["structuredContent"]["api_key"].as_str().expect("api_key").to_owned();
    let retry = with_idempotency(&acme_key, "key.issue", json!({"role": "viewer", "label": "x"}), "k-2").await;
    assert_eq!(tool_failure(&retry.body).map(|f| f["code"].clone()), Some(json!("not_replayable")));
    // HTTP Idempotency-Key works too.
    let body = request(1, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()})).to_string();
    let h = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "whoami"),
        ("idempotency-key", "k-3"),
    ];
    let a = post(&acme_key, &h, &body).await;
    let b = post(&acme_key, &h, &body).await;
    assert_eq!(a.body["result"], b.body["result"]);

    let (dir, _) = server.stop();
    // k-1 ran three times in acme (the admin's usage.report and whoami, the auditor's usage.report);
    // the replay and the refused reuse left no event.
    let events = sqlite_lines(
        &database(&dir.path),
        &format!("SELECT COUNT(*) FROM usage_events WHERE tenant_id = '{acme}' AND idempotency_key = 'k-1'"),
    );
    assert_eq!(events.first().map(|s| s.trim().to_owned()), Some("3".into()), "each k-1 scope charged once");
    assert_eq!(
        ledger_count(&dir.path, &acme, "keys_issued"),
        2,
        "two key.issue calls ran (auditor and k-2), the refused retry charged nothing"
    );
    let needle = secret.as_bytes();
    for bytes in database_bytes(&dir.path) {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "the secret is stored somewhere");
    }
}

#[tokio::test]
async fn plan_changes_apply_to_the_very_next_call() {
    let (server, clock) = server();
    let admin = server.endpoint();
    let (acme, key) = tenant(&admin, "acme", "pro").await;
    let spare = ok(&key, "key.issue", json!({"role": "viewer", "label": "spare"})).await;
    let spare_id = spare["key_id"].as_str().expect("key_id").to_owned();

    // Downgrade: pro → free loses key_rotation.
    ok(&key, "key.rotate", json!({"key_id": spare_id, "grace_seconds": 0})).await;
    let state = ok(&admin, "plan.get", json!({"tenant_id": acme})).await;
    let version = state["version"].as_u64().expect("version");
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "free", "expected_version": version})).await;
    let stale = tool(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "expected_version": version})).await;
    assert_eq!(tool_failure(&stale.body).map(|f| f["code"].clone()), Some(json!("conflict")));
    let denied = tool(&key, "key.rotate", json!({"key_id": spare_id, "grace_seconds": 0})).await;
    assert_eq!((denied.status, error_reason(&denied.body)), (403, Some("not_entitled")));
    assert_eq!(
        denied.body["error"]["data"],
        json!({"feature": "key_rotation", "plan": "free", "reason": "not_entitled"})
    );

    // past_due: read-only tools and key revocation work, writes do not.
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "free", "status": "past_due"})).await;
    ok(&key, "key.list", json!({})).await;
    ok(&key, "tenant.get", json!({})).await;
    let write = tool(&key, "key.issue", json!({"role": "viewer", "label": "no"})).await;
    assert_eq!((write.status, error_reason(&write.body)), (403, Some("billing_status")));
    ok(&key, "key.revoke", json!({"key_id": spare_id})).await;

    // canceled: only account and safety tools.
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "free", "status": "canceled"})).await;
    ok(&key, "whoami", json!({})).await;
    ok(&key, "plan.get", json!({})).await;
    ok(&key, "usage.report", json!({})).await;
    ok(&key, "key.list", json!({})).await;
    let read = tool(&key, "tenant.get", json!({})).await;
    assert_eq!((read.status, error_reason(&read.body)), (403, Some("billing_status")));

    // A trial acts as past_due once it ends (by the clock).
    ok(
        &admin,
        "plan.set",
        json!({"tenant_id": acme, "plan": "pro", "status": "trialing", "trial_ends_at": "2030-01-20T00:00:00Z"}),
    )
    .await;
    ok(&key, "key.issue", json!({"role": "viewer", "label": "trial"})).await;
    std::fs::write(&clock, "2030-01-21T00:00:00Z").expect("clock");
    let late = tool(&key, "key.issue", json!({"role": "viewer", "label": "late"})).await;
    assert_eq!(error_reason(&late.body), Some("billing_status"));
    let who = ok(&key, "whoami", json!({})).await;
    assert_eq!((who["plan"].clone(), who["billing_status"].clone()), (json!("pro"), json!("past_due")));
}
