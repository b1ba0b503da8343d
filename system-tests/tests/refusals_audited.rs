//! Every refusal is audited, wherever it happens (issue 13): a package
//! download and a request on someone's legacy session go through the same
//! authentication as `tools/call` and leave the same records (aggregated in
//! `_system` where they flood); another tenant's package still answers
//! exactly like a missing one. A request with more than one `Authorization`
//! header is refused (HTTP 400, `ambiguous_credentials`) and audited the same way.

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

/// The public key id of an API key `tg_<id>_<secret>`.
fn key_id(key: &str) -> String {
    key.trim_start_matches("tg_").split('_').next().expect("key id").to_owned()
}

/// Records of `chain` for `tool` with `reason`.
fn refusals(records: &[Value], chain: &str, tool: &str, reason: &str) -> Vec<Value> {
    records.iter().filter(|r| r["chain"] == chain && r["tool"] == tool && r["reason"] == reason).cloned().collect()
}

#[tokio::test]
async fn a_download_by_every_kind_of_wrong_principal_is_audited() {
    let a = activity().await;
    let admin = a.server.endpoint();
    let out = http_tool(&a.acme_auditor, 1, "audit.export_package", json!({})).await;
    let id = tool_output(&out.body).expect("export")["package_id"].as_str().expect("id").to_owned();
    let viewer = http_tool(&a.acme_admin, 2, "key.issue", json!({"role": "viewer", "label": "v"})).await;
    let viewer = tool_output(&viewer.body).expect("viewer")["api_key"].as_str().expect("key").to_owned();
    let globex_key = a.globex_admin.key.clone().expect("globex key");
    let forged = "tg_k0000000000000000_0000000000000000000000000000000000000000000000000000000000000000";
    let base = a.server.base.clone();

    assert_eq!(download(&base, &id, None).await.0, 401, "no key");
    assert_eq!(download(&base, &id, Some("tg_nope_nope")).await.0, 401, "a malformed key");
    assert_eq!(download(&base, &id, Some(forged)).await.0, 401, "a bad key");
    assert_eq!(download(&base, &id, Some(&globex_key)).await.0, 404, "another tenant's key");
    assert_eq!(download(&base, &id, Some(&viewer)).await.0, 404, "a role that may not download");
    assert_eq!(download(&base, &id, Some(&a.server.dir.admin_key)).await.0, 404, "not a tenant principal");
    let missing = "pkg_00000000000000000000000000000000";
    assert_eq!(download(&base, missing, Some(&globex_key)).await.0, 404, "a missing package, the same answer");
    let globex = a.globex.clone();
    let suspended = http_tool(&admin, 3, "tenant.suspend", json!({"tenant_id": globex})).await;
    assert!(tool_output(&suspended.body).is_some(), "{:?}", suspended.body);
    assert_eq!(download(&base, &id, Some(&globex_key)).await.0, 401, "a suspended tenant's key");
    assert_eq!(download(&base, &id, a.acme_auditor.key.as_deref()).await.0, 200, "the owner still gets it");

    let acme = a.acme.clone();
    let (dir, status) = a.server.stop();
    assert!(status.success());
    let records = audit_records(&dir.path);
    let flood = |reason: &str, principal: &str| {
        let found = refusals(&records, "_system", "package.download", reason);
        assert_eq!(found.len(), 1, "{reason}: one aggregated record: {records:?}");
        assert_eq!(found[0]["count"], 1, "{reason}");
        assert_eq!(found[0]["principal"], principal, "{reason}");
        assert_eq!(found[0]["decision"], "deny", "{reason}");
    };
    flood("missing_credential", "anonymous");
    flood("malformed_key", "anonymous");
    flood("invalid_key", "anonymous");
    flood("tenant_inactive", &key_id(&globex_key));
    // Another tenant's package and a missing one leave the same record in the caller's own chain.
    let not_found = refusals(&records, &globex, "package.download", "not_found");
    assert_eq!(not_found.len(), 2, "{records:?}");
    assert!(not_found.iter().all(|r| r["principal"] == key_id(&globex_key) && r["decision"] == "deny"));
    assert!(refusals(&records, &acme, "package.download", "not_found").is_empty(), "nothing in the owner's chain");
    let role = refusals(&records, &acme, "package.download", "role_required");
    assert_eq!(role.len(), 1, "{records:?}");
    assert_eq!(role[0]["principal"], key_id(&viewer));
    assert_eq!(refusals(&records, "_system", "package.download", "role_required").len(), 1, "the platform admin");
    let allowed: Vec<&Value> =
        records.iter().filter(|r| r["tool"] == "package.download" && r["decision"] == "allow").collect();
    assert_eq!(allowed.len(), 1, "{allowed:?}");
    let (code, out, _) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn requests_on_another_principals_legacy_session_are_audited() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let acme_key = tool_output(&boot.body).expect("bootstrap")["api_key"].as_str().expect("key").to_owned();
    let session = legacy_session(&admin, "2025-11-25").await;
    let c = system_tests::client();
    let delete = |key: Option<&str>| {
        let mut req = c.delete(&admin.url).header("mcp-session-id", &session);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        req.send()
    };
    assert_eq!(delete(Some(&acme_key)).await.map(|r| r.status().as_u16()).ok(), Some(404));
    assert_eq!(delete(None).await.map(|r| r.status().as_u16()).ok(), Some(401));
    let answer = json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}}).to_string();
    let other = admin.with_key(Some(&acme_key));
    assert_eq!(post(&other, &[("mcp-session-id", &session)], &answer).await.status, 404);

    let (dir, status) = server.stop();
    assert!(status.success());
    let records = audit_records(&dir.path);
    let mismatch = refusals(&records, "_system", "session.delete", "session_principal_mismatch");
    assert_eq!(mismatch.len(), 1, "{records:?}");
    assert_eq!(mismatch[0]["principal"], key_id(&acme_key));
    assert_eq!(refusals(&records, "_system", "session.delete", "missing_credential").len(), 1, "{records:?}");
    let answered = refusals(&records, "_system", "session.answer", "session_principal_mismatch");
    assert_eq!(answered.len(), 1, "{records:?}");
}

#[tokio::test]
async fn a_request_with_two_authorization_headers_is_refused_with_400_and_audited() {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let boot = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let acme_key = tool_output(&boot.body).expect("bootstrap")["api_key"].as_str().expect("key").to_owned();
    let platform = format!("Bearer {}", server.dir.admin_key);
    let acme = format!("Bearer {acme_key}");
    let anonymous = admin.with_key(None);
    let refused = |what: &str, a: &Answer| {
        assert_eq!(a.status, 400, "{what}: {:?}", a.body);
        assert_eq!(error_code(&a.body), Some(-32600), "{what}: {:?}", a.body);
        assert_eq!(error_reason(&a.body), Some("ambiguous_credentials"), "{what}: {:?}", a.body);
        assert!(a.body.get("result").is_none(), "{what}");
    };

    // A tools/call with two keys (either order, or the same key twice): no key acts.
    let call = request(2, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()})).to_string();
    let modern = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "whoami")];
    for (first, second) in [(&platform, &acme), (&acme, &platform), (&acme, &acme)] {
        let mut h = vec![("authorization", first.as_str()), ("authorization", second.as_str())];
        h.extend(modern);
        refused("tools/call", &post(&anonymous, &h, &call).await);
    }
    // tools/list and a legacy initialize likewise; no session is opened.
    let list = request(3, "tools/list", json!({"_meta": modern_meta()})).to_string();
    let h = [
        ("authorization", platform.as_str()),
        ("authorization", acme.as_str()),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/list"),
    ];
    refused("tools/list", &post(&anonymous, &h, &list).await);
    let init = request(
        4,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let h = [("authorization", platform.as_str()), ("authorization", acme.as_str())];
    let a = post(&anonymous, &h, &init.to_string()).await;
    refused("initialize", &a);
    assert!(a.headers.get("mcp-session-id").is_none(), "no session for ambiguous credentials");
    // A package download too.
    let c = system_tests::client();
    let got = c
        .get(format!("{}/packages/pkg_00000000000000000000000000000000", server.base))
        .header("authorization", &platform)
        .header("authorization", &acme)
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(got.ok(), Some(400), "a download with two keys");
    // One key still works.
    assert_eq!(http_tool(&admin, 5, "whoami", json!({})).await.status, 200);

    let (dir, status) = server.stop();
    assert!(status.success());
    let records = audit_records(&dir.path);
    let ambiguous: Vec<&Value> = records.iter().filter(|r| r["reason"] == "ambiguous_credentials").collect();
    let count = |tool: Value| -> u64 {
        ambiguous.iter().filter(|r| r["tool"] == tool).filter_map(|r| r["count"].as_u64()).sum()
    };
    assert_eq!(count(Value::Null), 3, "the tools/calls, aggregated: {records:?}");
    assert_eq!(count(json!("tools/list")), 1, "{records:?}");
    assert_eq!(count(json!("initialize")), 1, "{records:?}");
    assert_eq!(count(json!("package.download")), 1, "{records:?}");
    assert!(
        ambiguous.iter().all(|r| r["chain"] == "_system" && r["principal"] == "anonymous" && r["decision"] == "deny"),
        "{ambiguous:?}"
    );
    let (code, out, _) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}");
}
