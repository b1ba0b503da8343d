//! Binding OAuth subjects to tenants through the binary (issue 17,
//! Done-when 4): an invite redeemed with the subject's own token binds it;
//! an expired or reused code, a subject bound to another tenant, and a
//! tenant admin trying to bind (with a key, not the subject's token) all
//! fail with one and the same answer; unbinding applies to the very next
//! call; a viewer with every scope stays a viewer; a user named like a
//! client is not that client; a legacy session continues on a refreshed token.

use serde_json::{Value, json};
use system_tests::issuer::*;
use system_tests::*;

async fn tool(ep: &Endpoint, name: &str, arguments: Value) -> Answer {
    modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = tool(ep, name, arguments).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    assert_ne!(a.body["result"]["isError"], true, "{name}: {:?}", a.body);
    a.body["result"]["structuredContent"].clone()
}

/// The tool failure of a redemption that must fail.
async fn refused_redeem(ep: &Endpoint, code: &Value) -> Value {
    let a = tool(ep, "identity.redeem", json!({"code": code})).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    tool_failure(&a.body).unwrap_or_else(|| panic!("redeem should fail: {:?}", a.body))
}

async fn tenant(admin: &Endpoint, slug: &str) -> (String, Endpoint) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
    (boot["tenant_id"].as_str().expect("tenant_id").to_owned(), admin.with_key(boot["api_key"].as_str()))
}

async fn invite(tenant_admin: &Endpoint, role: &str, kind: &str, ttl: Option<u64>) -> Value {
    let mut args = json!({"role": role, "kind": kind});
    if let Some(t) = ttl {
        args["ttl_secs"] = json!(t);
    }
    ok(tenant_admin, "identity.invite", args).await["code"].clone()
}

#[tokio::test]
async fn subjects_are_bound_only_by_redeeming_an_invite_and_every_failed_attempt_answers_alike() {
    let key = SigningKey::ed25519("k1");
    let issuer = Issuer::start(vec![key.clone()]);
    let (server, clock) = oauth_server(&issuer.url);
    let admin = server.endpoint();
    let (a_id, admin_a) = tenant(&admin, "acme").await;
    let (_, admin_b) = tenant(&admin, "globex").await;
    let iss = issuer.url.clone();
    let token = |sub: &str, client: &str, now: i64, scope: &str| {
        let t = key.sign(&claims(&iss, sub, client, now, scope));
        admin.with_key(Some(&t))
    };
    let alice = token("alice", "app", T0_UNIX, ALL_SCOPES);

    // An invite redeemed binds.
    let code = invite(&admin_a, "operator", "user", None).await;
    let bound = ok(&alice, "identity.redeem", json!({"code": code})).await;
    assert_eq!(bound["role"], "operator");
    let me = ok(&alice, "whoami", json!({})).await;
    assert_eq!((me["tenant"].as_str(), me["role"].as_str()), (Some(a_id.as_str()), Some("operator")));
    let listed = ok(&admin_a, "identity.list", json!({})).await;
    assert_eq!(listed["bindings"][0]["subject"], "alice");
    assert_eq!(listed["bindings"][0]["issuer"], json!(iss));

    // Each failure answers exactly like an unknown code.
    let unknown = refused_redeem(&token("bob", "app", T0_UNIX, ALL_SCOPES), &json!("tgi_0000")).await;
    let reused = refused_redeem(&token("bob", "app", T0_UNIX, ALL_SCOPES), &code).await;
    let elsewhere = refused_redeem(&alice, &invite(&admin_b, "viewer", "user", None).await).await;
    let by_key = refused_redeem(&admin_a, &invite(&admin_a, "viewer", "user", None).await).await;
    let by_platform = refused_redeem(&admin, &invite(&admin_a, "viewer", "user", None).await).await;
    let wrong_kind =
        refused_redeem(&token("bob", "app", T0_UNIX, ALL_SCOPES), &invite(&admin_a, "viewer", "client", None).await)
            .await;
    let short = invite(&admin_a, "viewer", "user", Some(60)).await;
    set_clock(&clock, 120);
    let expired = refused_redeem(&token("bob", "app", T0_UNIX + 120, ALL_SCOPES), &short).await;
    for (what, failure) in [
        ("reused", &reused),
        ("bound elsewhere", &elsewhere),
        ("a tenant admin's key", &by_key),
        ("the platform admin", &by_platform),
        ("an invite for a client", &wrong_kind),
        ("expired", &expired),
    ] {
        assert_eq!(failure, &unknown, "{what} answers like an unknown code");
    }
    // Nobody can name a subject to bind it.
    let direct =
        tool(&admin_a, "identity.invite", json!({"role": "viewer", "kind": "user", "subject": "mallory"})).await;
    assert!(direct.body["error"].is_object() || tool_failure(&direct.body).is_some(), "{:?}", direct.body);

    // A viewer with every scope stays a viewer: role_required, no scope challenge.
    let frank = token("frank", "app", T0_UNIX + 120, ALL_SCOPES);
    ok(&frank, "identity.redeem", json!({"code": invite(&admin_a, "viewer", "user", None).await})).await;
    let a = tool(&frank, "identity.invite", json!({"role": "viewer", "kind": "user"})).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (403, json!("role_required")), "{:?}", a.body);
    assert!(a.headers.get("www-authenticate").is_none(), "more scope would not help");

    // A client-credentials token (sub = client_id) is a client; a user named like it is not.
    let service = token("svc-1", "svc-1", T0_UNIX + 120, "tollgate:read");
    let as_client =
        ok(&service, "identity.redeem", json!({"code": invite(&admin_a, "viewer", "client", None).await})).await;
    assert_eq!(as_client["principal"], "oauth:default:client:svc-1");
    let impostor = tool(&token("svc-1", "app", T0_UNIX + 120, ALL_SCOPES), "whoami", json!({})).await;
    assert_eq!((impostor.status, impostor.body["error"]["data"]["reason"].clone()), (403, json!("unbound_subject")));

    // A legacy (2025) session is bound to the subject: a refreshed token continues it.
    let session = legacy_session(&alice, "2025-06-18").await;
    let refreshed = token("alice", "app", T0_UNIX + 150, ALL_SCOPES);
    let call = legacy_call(&refreshed, &session, 2, "tools/call", json!({"name": "whoami", "arguments": {}})).await;
    assert_eq!(call.status, 200, "{:?}", call.body);
    assert_eq!(call.body["result"]["structuredContent"]["principal"], "oauth:default:user:alice");

    // Unbinding applies to the very next call.
    let removed = ok(&admin_a, "identity.unbind", json!({"issuer": iss, "subject": "alice"})).await;
    assert_eq!(removed["unbound"], 1);
    let a = tool(&refreshed, "whoami", json!({})).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (403, json!("unbound_subject")));
    // Another tenant cannot unbind what it does not hold.
    let other = tool(&admin_b, "identity.unbind", json!({"issuer": iss, "subject": "frank"})).await;
    assert!(tool_failure(&other.body).is_some_and(|f| f["code"] == "not_found"), "{:?}", other.body);
}
