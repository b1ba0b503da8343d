//! Floods cost nothing: unauthenticated requests are refused and counted in
//! one aggregated `_system` record per window, and a per-address limit runs
//! before authentication (HTTP 429 with Retry-After).

use serde_json::json;
use system_tests::*;

#[tokio::test]
async fn an_unauthenticated_flood_is_refused_limited_and_aggregated() {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 1\nper_address_burst = 12\n").expect("config");
    let server = HttpServer::start_in(dir, &[]);
    let anonymous = server.endpoint().with_key(None);
    let forged = server
        .endpoint()
        .with_key(Some("tg_k0000000000000000_0000000000000000000000000000000000000000000000000000000000000000"));
    for _ in 0..5 {
        let a = modern_call(&anonymous, 1, "tools/list", json!({})).await;
        assert_eq!(a.status, 401);
        assert_eq!(a.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
        assert_eq!(a.body["error"]["data"]["reason"], "missing_credential");
    }
    for _ in 0..5 {
        let a = modern_call(&forged, 2, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
        assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("invalid_key")));
    }
    // The burst of 12 is spent after two more; then the address is limited before authentication.
    let mut limited = None;
    for _ in 0..4 {
        let a = modern_call(&anonymous, 3, "tools/list", json!({})).await;
        if a.status == 429 {
            limited = Some(a);
            break;
        }
    }
    let limited = limited.expect("the per-address limit refuses once the burst is spent");
    assert_eq!(limited.body["error"]["code"], -31429);
    assert_eq!(limited.body["error"]["data"]["reason"], "address_rate_limited");
    let retry = limited.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After in whole seconds: {retry:?}");

    let (dir, status) = server.stop();
    assert!(status.success(), "graceful stop exits 0");
    let system = audit_chain(&dir.path, "_system");
    let aggregated = |reason: &str| -> Vec<serde_json::Value> {
        system.iter().filter(|r| r["reason"] == reason && r["count"].is_u64()).cloned().collect()
    };
    let missing = aggregated("missing_credential");
    assert_eq!(missing.len(), 1, "one record for the whole flood: {system:?}");
    assert_eq!(missing[0]["count"], 7);
    assert_eq!(missing[0]["principal"], "anonymous");
    assert_eq!(aggregated("invalid_key")[0]["count"], 5);
    assert_eq!(aggregated("address_rate_limited").len(), 1);
    let (code, out, _) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}");
}
