//! Identity is per request: a 2025 session is bound to the principal that
//! opened it, and a request on it with another credential is refused.

use serde_json::json;
use system_tests::*;

#[tokio::test]
async fn a_legacy_session_refuses_another_principal() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot = modern_call(
        &admin,
        1,
        "tools/call",
        json!({"name": "tenant.bootstrap", "arguments": {"slug": "acme", "display_name": "Acme"}}),
    )
    .await;
    let acme_key = boot.body["result"]["structuredContent"]["api_key"].as_str().expect("api_key").to_owned();
    let session = legacy_session(&admin, "2025-11-25").await;

    let other = admin.with_key(Some(&acme_key));
    let a = legacy_call(&other, &session, 2, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("session_principal_mismatch")));
    let a = legacy_call(&other, &session, 3, "tools/list", json!({})).await;
    assert_eq!(a.status, 401);
    let a = legacy_call(&admin.with_key(None), &session, 4, "tools/list", json!({})).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("missing_credential")));

    // Only the owner may end it: another principal is told it does not exist; no key is 401.
    let c = system_tests::client();
    let delete = |key: Option<String>| {
        let mut req = c.delete(&admin.url).header("mcp-session-id", &session);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        req.send()
    };
    assert_eq!(delete(Some(acme_key.clone())).await.map(|r| r.status().as_u16()).ok(), Some(404));
    assert_eq!(delete(None).await.map(|r| r.status().as_u16()).ok(), Some(401));

    // The owner still works, and a modern request with the other key is fine on its own.
    let a = legacy_call(&admin, &session, 5, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(a.body["result"]["structuredContent"]["role"], "platform_admin");
    let a = modern_call(&other, 6, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(a.body["result"]["structuredContent"]["role"], "tenant_admin");
}
