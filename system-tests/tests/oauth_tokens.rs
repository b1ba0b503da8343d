//! OAuth access tokens through the binary (issue 17, Done-when 2): each bad
//! token of the matrix gets its documented status, code, reason and
//! `WWW-Authenticate`, is audited in an aggregated `_system` record, and no
//! identity an attacker chose is recorded for a token whose signature did
//! not verify. The RFC 9728 metadata describes exactly the configured resource.
//!
//! Tokens are minted by the tiny test issuer (`system_tests::issuer`) with
//! its own keys: a real authorization server does not issue expired,
//! mis-audienced, `alg: none` or HS256 tokens on request.

use serde_json::{Value, json};
use system_tests::issuer::*;
use system_tests::*;

async fn whoami(ep: &Endpoint) -> Answer {
    modern_call(ep, 1, "tools/call", json!({"name": "whoami", "arguments": {}})).await
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

fn challenge(a: &Answer) -> Option<String> {
    a.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Bootstrap a tenant; its id and its admin's endpoint.
async fn tenant(admin: &Endpoint, slug: &str) -> (String, Endpoint) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
    (boot["tenant_id"].as_str().expect("tenant_id").to_owned(), admin.with_key(boot["api_key"].as_str()))
}

/// Invite and redeem: `token`'s subject is bound to the admin's tenant with `role`.
async fn bind(tenant_admin: &Endpoint, token: &str, role: &str, kind: &str) -> Value {
    let invite = ok(tenant_admin, "identity.invite", json!({"role": role, "kind": kind})).await;
    ok(&tenant_admin.with_key(Some(token)), "identity.redeem", json!({"code": invite["code"]})).await
}

#[tokio::test]
async fn every_bad_token_of_the_matrix_is_refused_with_its_reason_and_challenge_and_audited_anonymously() {
    let (ed, es) = (SigningKey::ed25519("k1"), SigningKey::es256("k2"));
    let issuer = Issuer::start(vec![ed.clone(), es.clone()]);
    let (server, _clock) = oauth_server(&issuer.url);
    let admin = server.endpoint();
    let (tenant_a, admin_a) = tenant(&admin, "acme").await;
    let (tenant_b, _) = tenant(&admin, "globex").await;
    let now = T0_UNIX;
    let iss = issuer.url.as_str();
    let good = |sub: &str, scope: &str| es.sign(&claims(iss, sub, "app", now, scope));

    // A bound subject is served: whoami names the OAuth principal, its tenant and role.
    let alice = good("alice", ALL_SCOPES);
    let redeemed = bind(&admin_a, &alice, "tenant_admin", "user").await;
    assert_eq!(redeemed["principal"], "oauth:default:user:alice");
    let me = whoami(&admin.with_key(Some(&alice))).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    let me = &me.body["result"]["structuredContent"];
    assert_eq!(
        (me["principal"].as_str(), me["tenant"].as_str(), me["role"].as_str()),
        (Some("oauth:default:user:alice"), Some(tenant_a.as_str()), Some("tenant_admin"))
    );

    // The matrix of tokens that must not authenticate (401, -31401, invalid_token).
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = claims(iss, "mallory", "app", now, ALL_SCOPES);
        if let Some(m) = c.as_object_mut() {
            edit(m);
        }
        c
    };
    let ghost = SigningKey::ed25519("ghost");
    let attacker_key = SigningKey::ed25519("evil");
    let attacker = Issuer::start(vec![attacker_key.clone()]);
    let tampered = {
        let valid = es.sign(&with(&|_| {}));
        let parts: Vec<&str> = valid.split('.').collect();
        let forged = raw_token(&json!({}), &with(&|m| drop(m.insert("sub".into(), json!("alice")))), b"");
        let payload = forged.split('.').nth(1).unwrap_or_default().to_owned();
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let matrix: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            es.sign(&with(&|m| {
                m.insert("iat".into(), json!(now - 900));
                m.insert("exp".into(), json!(now - 600));
            })),
            "token_expired",
        ),
        (
            "not yet valid",
            es.sign(&with(&|m| {
                m.insert("nbf".into(), json!(now + 600));
                m.insert("exp".into(), json!(now + 900));
            })),
            "token_not_yet_valid",
        ),
        ("too long-lived", es.sign(&with(&|m| drop(m.insert("exp".into(), json!(now + 7200))))), "token_lifetime"),
        (
            "wrong audience",
            es.sign(&with(&|m| drop(m.insert("aud".into(), json!("https://other.test/mcp"))))),
            "token_audience",
        ),
        (
            "a prefix of the audience",
            es.sign(&with(&|m| drop(m.insert("aud".into(), json!("https://tollgate.test"))))),
            "token_audience",
        ),
        (
            "wrong issuer",
            es.sign(&with(&|m| drop(m.insert("iss".into(), json!(attacker.url.clone()))))),
            "token_issuer",
        ),
        ("an ID token", es.sign_with(&with(&|_| {}), |h| h.typ = Some("JWT".into())), "token_type"),
        ("unknown kid", ghost.sign(&with(&|_| {})), "token_signature"),
        (
            "alg none",
            raw_token(&json!({"alg": "none", "typ": "at+jwt", "kid": "k1"}), &with(&|_| {}), b""),
            "token_signature",
        ),
        ("HS256 with the public key", hs256(&ed.public, "k1", &with(&|_| {})), "token_signature"),
        (
            "a jku pointing elsewhere",
            attacker_key.sign_with(&with(&|_| {}), |h| {
                h.jku = Some(format!("{}/jwks", attacker.url));
            }),
            "token_signature",
        ),
        ("a tampered payload", tampered, "token_signature"),
        (
            "a crit header",
            raw_token(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1", "crit": ["exp"]}), &with(&|_| {}), b"sig"),
            "token_malformed",
        ),
    ];
    for (what, token, reason) in &matrix {
        let a = whoami(&admin.with_key(Some(token))).await;
        assert_eq!(a.status, 401, "{what}: {:?}", a.body);
        assert_eq!(a.body["error"]["code"], -31401, "{what}");
        assert_eq!(a.body["error"]["data"]["reason"], *reason, "{what}");
        assert_eq!(
            challenge(&a).as_deref(),
            Some(
                format!("Bearer error=\"invalid_token\", resource_metadata=\"{METADATA_URL}\", scope=\"{ALL_SCOPES}\"")
                    .as_str()
            ),
            "{what}"
        );
    }
    assert_eq!(attacker.jwks_fetches() + attacker.other_fetches(), 0, "a jku is never followed");

    // No credential: the challenge points to the metadata without an error.
    let none = whoami(&admin.with_key(None)).await;
    assert_eq!(none.status, 401);
    assert_eq!(challenge(&none), Some(format!("Bearer resource_metadata=\"{METADATA_URL}\", scope=\"{ALL_SCOPES}\"")));

    // Too little scope, where more would help: 403 insufficient_scope naming the scope.
    let bob_read = good("bob", "tollgate:read");
    bind(&admin_a, &good("bob", ALL_SCOPES), "tenant_admin", "user").await;
    let a = tool(&admin.with_key(Some(&bob_read)), "key.list", json!({})).await;
    assert_eq!((a.status, a.body["error"]["code"].clone()), (403, json!(-31403)), "{:?}", a.body);
    assert_eq!(a.body["error"]["data"]["reason"], "insufficient_scope");
    assert_eq!(
        challenge(&a),
        Some(format!(
            "Bearer error=\"insufficient_scope\", scope=\"tollgate:admin\", resource_metadata=\"{METADATA_URL}\""
        ))
    );
    // No tollgate scope at all: the same, before any tool is looked at.
    let a = whoami(&admin.with_key(Some(&good("bob", "openid profile")))).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (403, json!("insufficient_scope")));
    assert!(challenge(&a).is_some_and(|c| c.contains("scope=\"tollgate:admin\"")));

    // A valid token of a subject nobody bound: 403 without a challenge (a new token would not help).
    let a = whoami(&admin.with_key(Some(&good("carol", ALL_SCOPES)))).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (403, json!("unbound_subject")));
    assert_eq!(challenge(&a), None);

    // Bound to tenant A, claims naming tenant B: the claims name nothing; A acts, B is a spoof.
    let claims_b = es.sign(&{
        let mut c = claims(iss, "alice", "app", now, ALL_SCOPES);
        c["tenant_id"] = json!(tenant_b);
        c["org"] = json!("globex");
        c
    });
    let me = whoami(&admin.with_key(Some(&claims_b))).await;
    assert_eq!(me.body["result"]["structuredContent"]["tenant"], json!(tenant_a));
    let spoof = tool(&admin.with_key(Some(&claims_b)), "key.list", json!({"tenant_id": tenant_b})).await;
    assert_eq!((spoof.status, spoof.body["error"]["data"]["reason"].clone()), (403, json!("tenant_mismatch")));

    // The metadata: exactly the configured resource, at the path-suffixed URL; no root document.
    let client = client();
    let doc: Value = client
        .get(format!("{}/.well-known/oauth-protected-resource/mcp", server.base))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["resource"], RESOURCE, "exactly, not a prefix");
    assert_eq!(doc["authorization_servers"], json!([issuer.url]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    let root = client.get(format!("{}/.well-known/oauth-protected-resource", server.base)).send().await.expect("root");
    assert_eq!(root.status().as_u16(), 404);

    // Audit: each refusal of the matrix is in one aggregated `_system` record by reason,
    // under `anonymous`; nothing anywhere names the attacker's chosen subject.
    let (dir, status) = server.stop();
    assert!(status.success());
    let system = audit_chain(&dir.path, "_system");
    for (what, _, reason) in &matrix {
        let records: Vec<&Value> = system.iter().filter(|r| r["reason"] == *reason && r["count"].is_u64()).collect();
        assert!(!records.is_empty(), "{what}: no aggregated record for {reason}");
        assert!(records.iter().all(|r| r["principal"] == "anonymous"), "{what}: {records:?}");
    }
    let count = |reason: &str| -> u64 {
        system.iter().filter(|r| r["reason"] == reason).filter_map(|r| r["count"].as_u64()).sum()
    };
    assert_eq!(count("token_signature"), 5, "unknown kid, none, HS256, jku, tampered");
    assert_eq!(count("token_audience"), 2);
    assert_eq!(count("unbound_subject"), 1);
    let everything = audit_records(&dir.path);
    assert!(everything.iter().all(|r| !r.to_string().contains("mallory")), "no attacker-chosen subject is recorded");
    let chain_a = audit_chain(&dir.path, &tenant_a);
    let scoped: Vec<&Value> = chain_a.iter().filter(|r| r["reason"] == "insufficient_scope").collect();
    assert!(
        scoped.iter().any(|r| r["principal"] == "oauth:default:user:bob"),
        "a verified subject is named: {scoped:?}"
    );
    let (code, out, _) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}");
}
