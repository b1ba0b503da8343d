//! An issuer's keys through the binary (issue 17, Done-when 3): a rotated
//! signing key is accepted without a restart; made-up `kid`s cause at most
//! one key-set fetch per `jwks_min_refresh_secs` (1,000 of them fetch nothing
//! within the interval, 100 one interval later fetch once; counted at the issuer);
//! an issuer unreachable at start leaves API keys working and OAuth calls
//! refused with 503 until its keys arrive. Time moves by the clock file.

use serde_json::{Value, json};
use system_tests::issuer::*;
use system_tests::*;

async fn whoami(ep: &Endpoint) -> Answer {
    modern_call(ep, 1, "tools/call", json!({"name": "whoami", "arguments": {}})).await
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    assert_ne!(a.body["result"]["isError"], true, "{name}: {:?}", a.body);
    a.body["result"]["structuredContent"].clone()
}

async fn bound_tenant(admin: &Endpoint, token: &str) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let tenant_admin = admin.with_key(boot["api_key"].as_str());
    let invite = ok(&tenant_admin, "identity.invite", json!({"role": "viewer", "kind": "user"})).await;
    ok(&admin.with_key(Some(token)), "identity.redeem", json!({"code": invite["code"]})).await;
}

/// `n` tokens with made-up `kid`s, sent 50 at a time; every one is refused as `token_signature`.
async fn made_up_kids(ep: &Endpoint, iss: &str, now: i64, n: usize) {
    let forger = SigningKey::ed25519("forger");
    for batch in 0..n.div_ceil(50) {
        let mut tasks = Vec::new();
        for i in 0..50.min(n - batch * 50) {
            let kid = format!("made-up-{batch}-{i}");
            let token = forger.sign_with(&claims(iss, "alice", "app", now, ALL_SCOPES), |h| h.kid = Some(kid));
            let ep = ep.with_key(Some(&token));
            tasks.push(tokio::spawn(async move { whoami(&ep).await }));
        }
        for t in tasks {
            let a = t.await.expect("task");
            assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("token_signature")));
        }
    }
}

#[tokio::test]
async fn a_rotated_key_is_accepted_without_restart_and_made_up_kids_fetch_at_most_once_per_interval() {
    let old = SigningKey::es256("2030-old");
    let issuer = Issuer::start(vec![old.clone()]);
    let (server, clock) = oauth_server(&issuer.url);
    let admin = server.endpoint();
    let iss = issuer.url.clone();
    let token = old.sign(&claims(&iss, "alice", "app", T0_UNIX, ALL_SCOPES));
    bound_tenant(&admin, &token).await;
    assert_eq!(whoami(&admin.with_key(Some(&token))).await.status, 200);
    let start = issuer.jwks_fetches();
    assert!(start >= 1, "the keys were fetched");

    // Within the interval since that fetch, 1,000 unknown kids fetch nothing.
    made_up_kids(&admin, &iss, T0_UNIX, 1000).await;
    assert_eq!(issuer.jwks_fetches(), start, "the negative cache holds within jwks_min_refresh_secs");

    // One interval later (60 s by default), 100 more fetch exactly once.
    set_clock(&clock, 61);
    made_up_kids(&admin, &iss, T0_UNIX + 61, 100).await;
    assert_eq!(issuer.jwks_fetches(), start + 1, "one fetch for 100 unknown kids");

    // The issuer rotates: the new key is accepted, the retired one is not.
    let new = SigningKey::ed25519("2030-new");
    issuer.set_keys(vec![new.clone()]);
    set_clock(&clock, 122);
    let rotated = new.sign(&claims(&iss, "alice", "app", T0_UNIX + 122, ALL_SCOPES));
    let a = whoami(&admin.with_key(Some(&rotated))).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["result"]["structuredContent"]["principal"], "oauth:default:user:alice");
    let retired = old.sign(&claims(&iss, "alice", "app", T0_UNIX + 122, ALL_SCOPES));
    let a = whoami(&admin.with_key(Some(&retired))).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (401, json!("token_signature")));
    assert_eq!(issuer.jwks_fetches(), start + 2);
}

#[tokio::test]
async fn an_issuer_unreachable_at_start_leaves_api_keys_working_and_oauth_refused_until_its_keys_arrive() {
    // A free loopback port nobody listens on (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let url = format!("http://127.0.0.1:{port}");
    let (server, clock) = oauth_server(&url);
    let admin = server.endpoint();
    assert_eq!(whoami(&admin).await.status, 200, "API keys are served");
    let key = SigningKey::ed25519("k1");
    let token = key.sign(&claims(&url, "alice", "app", T0_UNIX, ALL_SCOPES));
    let a = whoami(&admin.with_key(Some(&token))).await;
    assert_eq!(a.status, 503, "{:?}", a.body);
    assert_eq!(
        (a.body["error"]["code"].clone(), a.body["error"]["data"]["reason"].clone()),
        (json!(-31503), json!("issuer_unavailable"))
    );

    // The issuer comes up; one interval later a call fetches its keys and is authenticated
    // (the subject is not bound yet, so it hears unbound_subject: its token verified).
    let issuer = Issuer::start_at(&format!("127.0.0.1:{port}"), vec![key.clone()]);
    set_clock(&clock, 61);
    let token = key.sign(&claims(&url, "alice", "app", T0_UNIX + 61, ALL_SCOPES));
    let a = whoami(&admin.with_key(Some(&token))).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (403, json!("unbound_subject")), "{:?}", a.body);
    assert!(issuer.jwks_fetches() >= 1);
}

#[test]
fn an_unusable_oauth_setting_refuses_to_start_naming_it() {
    let dir = DataDir::init();
    let data = dir.path.to_string_lossy().into_owned();
    for (issuer, resource, setting) in [
        ("http://auth.example.com", RESOURCE, "oauth.issuers.url"),
        ("https://auth.example.com", "https://tollgate.test/", "oauth.resource"),
        ("https://auth.example.com", "tollgate.test/mcp", "oauth.resource"),
    ] {
        let args = [
            "serve",
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--oauth-issuer",
            issuer,
            "--oauth-resource",
            resource,
        ];
        let (code, _, err) = run_tollgate(&args);
        assert_eq!(code, Some(1), "{issuer} {resource}: {err}");
        assert!(err.contains(setting), "{err} names {setting}");
    }
}
