//! `/metrics` (issue 9, Done-when 6): scraped from its own listener, its
//! counters match the calls made; label values come from fixed sets only
//! (no tenant, key or request value ever appears); the MCP listener does not
//! serve it.

use serde_json::json;
use system_tests::*;

/// The value of one sample line, e.g. `tollgate_spoof_attempts_total`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

#[tokio::test]
async fn metrics_counters_match_the_calls_made() {
    let (server, log) = HttpServer::start_logged(DataDir::init(), &["--metrics-listen", "127.0.0.1:0"], &[]);
    let seen = log.text();
    let metrics_url = seen
        .lines()
        .find_map(|l| l.strip_prefix("metrics on "))
        .unwrap_or_else(|| panic!("no metrics line: {seen}"))
        .to_owned();
    assert!(metrics_url.starts_with("http://127.0.0.1:"), "loopback: {metrics_url}");
    let admin = server.endpoint();

    // Two tenants; A's admin then makes allowed, spoofed and unknown calls.
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for slug in ["met-a", "met-b"] {
        let a = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
        let out = tool_output(&a.body).expect("bootstrap");
        keys.push(out["api_key"].as_str().expect("key").to_owned());
        ids.push(out["tenant_id"].as_str().expect("id").to_owned());
    }
    let a = admin.with_key(Some(&keys[0]));
    for i in 0..3 {
        assert!(tool_output(&http_tool(&a, 10 + i, "whoami", json!({})).await.body).is_some());
    }
    for i in 0..2 {
        let denied = http_tool(&admin.with_key(None), 20 + i, "whoami", json!({})).await;
        assert_eq!(denied.status, 401);
    }
    let spoof = http_tool(&a, 30, "tenant.get", json!({"tenant_id": ids[1]})).await;
    assert_eq!(error_reason(&spoof.body), Some("tenant_mismatch"), "{:?}", spoof.body);
    let unknown = http_tool(&a, 31, "no.such.tool", json!({})).await;
    assert!(error_code(&unknown.body).is_some());
    let _session = legacy_session(&a, "2025-11-25").await;

    let text = client().get(&metrics_url).send().await.expect("scrape").text().await.expect("body");
    let count = |series: &str| sample(&text, series).unwrap_or(0.0);
    assert_eq!(count(r#"tollgate_tool_calls_total{tool="tenant.bootstrap",decision="allow"}"#), 2.0, "{text}");
    assert_eq!(count(r#"tollgate_tool_calls_total{tool="whoami",decision="allow"}"#), 3.0, "{text}");
    assert_eq!(count(r#"tollgate_tool_calls_total{tool="whoami",decision="deny"}"#), 2.0, "{text}");
    assert_eq!(count(r#"tollgate_tool_calls_total{tool="tenant.get",decision="deny"}"#), 1.0, "{text}");
    assert_eq!(count(r#"tollgate_tool_calls_total{tool="unknown",decision="deny"}"#), 1.0, "{text}");
    assert_eq!(count(r#"tollgate_denials_total{reason="missing_credential"}"#), 2.0, "{text}");
    assert_eq!(count(r#"tollgate_denials_total{reason="tenant_mismatch"}"#), 1.0, "{text}");
    assert_eq!(count("tollgate_spoof_attempts_total"), 1.0, "{text}");
    assert_eq!(count("tollgate_quota_denials_total"), 0.0, "{text}");
    assert_eq!(count("tollgate_tool_call_duration_seconds_count"), 9.0, "{text}");
    assert!(count("tollgate_store_commit_duration_seconds_count") >= 1.0, "{text}");
    assert!(count("tollgate_store_commit_batch_size_sum") >= 1.0, "{text}");
    assert_eq!(count("tollgate_legacy_sessions_active"), 1.0, "{text}");
    // No request value leaks into a label.
    for secret_or_id in keys.iter().chain(&ids) {
        assert!(!text.contains(secret_or_id.as_str()), "{secret_or_id} appears in /metrics");
    }
    assert!(!text.contains("no.such.tool"));
    // The MCP listener does not serve metrics.
    let on_mcp = client().get(format!("{}/metrics", server.base)).send().await.expect("get");
    assert_eq!(on_mcp.status().as_u16(), 404);
}
