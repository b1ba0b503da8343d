//! Issue 19, defect 2: one tenant cannot take every legacy session, and the
//! methods that are not a `tools/call` count against the key's and tenant's
//! rate limits (the same buckets as `tools/call`).

use serde_json::{Value, json};
use system_tests::*;

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = http_tool(ep, 1, name, arguments).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    tool_output(&a.body).unwrap_or_else(|| panic!("{name} failed: {:?}", a.body))
}

/// A tenant on `plan`; its id and an endpoint with its admin key.
async fn tenant(admin: &Endpoint, slug: &str, plan: &str) -> (String, Endpoint) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": plan})).await;
    let id = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    (id, admin.with_key(boot["api_key"].as_str()))
}

/// A raw legacy `initialize` (no `notifications/initialized` follows).
async fn initialize(ep: &Endpoint) -> Answer {
    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    post(ep, &[], &init.to_string()).await
}

fn opened(a: &Answer) -> bool {
    a.status == 200 && a.headers.get("mcp-session-id").is_some()
}

#[tokio::test]
async fn one_tenant_filling_its_session_share_refuses_neither_another_tenant_nor_the_admin() {
    let dir = DataDir::init();
    // 16 sessions: a tenant's share is 8 (a quarter, raised to one key's cap while that is at most half).
    std::fs::write(dir.path.join("tollgate.toml"), "session_capacity = 16\n").expect("config");
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let (_acme, acme_admin) = tenant(&admin, "acme", "pro").await;
    let (_globex, globex_admin) = tenant(&admin, "globex", "pro").await;
    let issued = ok(&acme_admin, "key.issue", json!({"role": "viewer", "label": "second"})).await;
    let acme_viewer = admin.with_key(issued["api_key"].as_str());

    // Acme's two keys try to take every session.
    let mut refusals = Vec::new();
    let mut held = 0;
    for i in 0..16 {
        let a = initialize(if i % 2 == 0 { &acme_admin } else { &acme_viewer }).await;
        if opened(&a) {
            held += 1;
        } else {
            refusals.push(a);
        }
    }
    assert_eq!(held, 8, "acme holds exactly its share");
    for a in &refusals {
        assert_eq!(a.status, 503, "{:?}", a.body);
        assert_eq!(error_code(&a.body), Some(-31503));
        assert_eq!(error_reason(&a.body), Some("sessions_full"));
        assert_eq!(
            (&a.body["error"]["data"]["share"], &a.body["error"]["data"]["limit"]),
            (&json!("tenant_share"), &json!(8))
        );
    }
    // Another tenant and the platform admin still open sessions, and use them.
    let globex = initialize(&globex_admin).await;
    assert!(opened(&globex), "another tenant: {:?}", globex.body);
    let session = legacy_session(&admin, "2025-11-25").await;
    let who = legacy_call(&admin, &session, 2, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(who.body["result"]["structuredContent"]["role"], "platform_admin");
}

#[tokio::test]
async fn a_burst_of_initialize_and_tools_list_beyond_a_keys_rate_is_refused_and_aggregated() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let (acme, key) = tenant(&admin, "acme", "pro").await;
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": {"rate_per_key": 5}})).await;

    // Five tokens in a burst: one initialize and four tools/list on its session.
    let init = initialize(&key).await;
    assert!(opened(&init), "{:?}", init.body);
    let session = init.headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    for i in 0..4 {
        let a = legacy_call(&key, &session, 10 + i, "tools/list", json!({})).await;
        assert!(a.body["result"]["tools"].is_array(), "within the rate: {:?}", a.body);
    }
    // Beyond it: tools/list (both eras), ping, initialize and tools/call share the key's bucket.
    let mut refused = vec![
        legacy_call(&key, &session, 20, "tools/list", json!({})).await,
        modern_call(&key, 21, "tools/list", json!({})).await,
        legacy_call(&key, &session, 22, "ping", json!({})).await,
        initialize(&key).await,
        modern_call(&key, 23, "tools/call", json!({"name": "whoami", "arguments": {}})).await,
    ];
    for a in &refused {
        assert_eq!(
            (a.status, error_code(&a.body), error_reason(&a.body)),
            (429, Some(-31429), Some("rate_limited")),
            "{:?}",
            a.body
        );
        assert!(a.body["error"]["data"]["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{:?}", a.body);
        assert!(a.headers.get("mcp-session-id").is_none(), "no session for a refused initialize");
    }
    // Another tenant's key is not limited by acme's bucket.
    let (_globex, globex) = tenant(&admin, "globex", "pro").await;
    refused.push(modern_call(&globex, 24, "tools/list", json!({})).await);
    assert!(refused[5].body["result"]["tools"].is_array(), "{:?}", refused[5].body);

    let (dir, status) = server.stop();
    assert!(status.success());
    let chain = audit_chain(&dir.path, &acme);
    let limited = |tool: Value| -> u64 {
        chain
            .iter()
            .filter(|r| r["reason"] == "rate_limited" && r["tool"] == tool)
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum()
    };
    // Aggregated per method: one windowed record each, with its count.
    assert_eq!(limited(json!("tools/list")), 2, "{chain:?}");
    assert_eq!(limited(json!("ping")), 1, "{chain:?}");
    assert_eq!(limited(json!("initialize")), 1, "{chain:?}");
    assert_eq!(limited(Value::Null), 1, "the tools/call refusal: {chain:?}");
    assert!(
        chain.iter().filter(|r| r["reason"] == "rate_limited").all(|r| r["count"].is_u64()),
        "aggregated: {chain:?}"
    );
    let (code, out, err) = audit_verify(&dir.path, &["--tenant", &acme]);
    assert_eq!(code, Some(0), "{out}{err}");
}
