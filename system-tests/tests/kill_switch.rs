//! The `multi_tenant` kill switch (issue 5, done-when 5): with
//! `multi_tenant = false` tollgate is a single-tenant product — no tenant
//! tools and no tenant wording anywhere in `tools/list`, no tenant in
//! `whoami`, tenant tools called by name refused with -31403
//! `feature_disabled`, other tenants' keys refused (401, audited on
//! `_system`) and their data invisible — and switching back restores
//! everything unchanged. The single-tenant edition pins the same version
//! numbers as the multi-tenant one (`whoami.v1`, `audit.verify.v1`). Every check runs over HTTP in both protocol eras:
//! 2026-07-28 (stateless) and a 2025-11-25 legacy session.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use system_tests::{
    Answer, DataDir, Endpoint, HttpServer, ServerLog, audit_verify, database, error_code, error_reason, http_tool,
    legacy_call, legacy_session, modern_call, post, request, sqlite_lines, tool_failure, tool_output,
};

const LEGACY: &str = "2025-11-25";
const SINGLE: &[(&str, &str)] = &[("TOLLGATE_MULTI_TENANT", "false")];

/// A protocol era to run a check in.
#[derive(Debug, Clone)]
enum Era {
    Modern,
    /// A legacy HTTP session (bound to the key that opened it).
    Legacy(String),
}

async fn eras(to: &Endpoint) -> [Era; 2] {
    [Era::Modern, Era::Legacy(legacy_session(to, LEGACY).await)]
}

async fn rpc(to: &Endpoint, era: &Era, id: i64, method: &str, params: Value) -> Answer {
    match era {
        Era::Modern => modern_call(to, id, method, params).await,
        Era::Legacy(session) => legacy_call(to, session, id, method, params).await,
    }
}

async fn tool(to: &Endpoint, era: &Era, id: i64, name: &str, arguments: Value) -> Answer {
    rpc(to, era, id, "tools/call", json!({"name": name, "arguments": arguments})).await
}

/// Every page of `tools/list`: the whole results (for text checks) and the tools.
async fn tools_list(to: &Endpoint, era: &Era) -> (Vec<Value>, Vec<Value>) {
    let (mut pages, mut tools) = (Vec::new(), Vec::new());
    let mut params = json!({});
    for page in 0.. {
        assert!(page < 20, "tools/list does not end");
        let a = rpc(to, era, 100 + page, "tools/list", params.clone()).await;
        assert_eq!(a.status, 200, "tools/list ({era:?}): {:?}", a.body);
        let result = a.body["result"].clone();
        tools.extend(result["tools"].as_array().expect("tools").iter().cloned());
        let next = result.get("nextCursor").and_then(Value::as_str).map(str::to_owned);
        pages.push(result);
        match next {
            Some(c) => params = json!({"cursor": c}),
            None => break,
        }
    }
    (pages, tools)
}

fn names(tools: &[Value]) -> Vec<String> {
    tools.iter().filter_map(|t| t["name"].as_str().map(str::to_owned)).collect()
}

/// Each place where `text` says "tenant" (any case), with some context.
fn tenant_mentions(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .match_indices("tenant")
        .map(|(i, _)| {
            let start = lower[..i].char_indices().rev().nth(30).map_or(0, |(j, _)| j);
            let end = lower[i..].char_indices().nth(36).map_or(lower.len(), |(j, _)| i + j);
            text[start..end].to_owned()
        })
        .collect()
}

/// Every key and string value of `v` that says "tenant" (any case), as
/// `json/pointer: "text"`.
fn tenant_paths(v: &Value, path: &str, out: &mut Vec<String>) {
    let says = |s: &str| s.to_lowercase().contains("tenant");
    match v {
        Value::String(s) if says(s) => out.push(format!("{path}: {s:?}")),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                tenant_paths(item, &format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let here = format!("{path}/{k}");
                if says(k) {
                    out.push(format!("{here} (a key)"));
                }
                tenant_paths(item, &here, out);
            }
        }
        _ => {}
    }
}

/// The id `init` gives the tenant `default` (deterministic from the slug).
fn default_tenant_id() -> String {
    let digest = format!("{:x}", Sha256::digest(b"tollgate-tenant:default"));
    format!("tn_{}", &digest[..16])
}

fn chain_records(dir: &std::path::Path, chain: &str) -> Vec<String> {
    sqlite_lines(&database(dir), &format!("SELECT record FROM audit_records WHERE chain = '{chain}' ORDER BY seq"))
}

/// A data dir where, in multi-tenant mode, the platform admin bootstrapped
/// tenant `other`, whose admin issued a viewer key.
struct Setup {
    dir: DataDir,
    /// The tenant `other`.
    other: String,
    other_admin: String,
    other_admin_id: String,
    viewer: String,
    viewer_id: String,
    /// `other`'s audit chain as it was when multi-tenant mode was switched off.
    other_chain: Vec<String>,
}

async fn setup() -> Setup {
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let r = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "other", "display_name": "Other Co"})).await;
    let boot = tool_output(&r.body).unwrap_or_else(|| panic!("bootstrap: {:?}", r.body));
    let other = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    let other_admin = boot["api_key"].as_str().expect("api_key").to_owned();
    let other_admin_id = boot["key_id"].as_str().expect("key_id").to_owned();
    let r = http_tool(
        &admin.with_key(Some(&other_admin)),
        2,
        "key.issue",
        json!({"role": "viewer", "label": "other-viewer"}),
    )
    .await;
    let issued = tool_output(&r.body).unwrap_or_else(|| panic!("key.issue: {:?}", r.body));
    // Baseline, multi-tenant: the admin sees the tenant tools in both eras
    // (so the wording checks below can fail), and `other`'s admin sees its tenant.
    for era in eras(&admin).await {
        let (pages, tools) = tools_list(&admin, &era).await;
        assert!(names(&tools).iter().any(|n| n == "tenant.bootstrap"), "{era:?}: {:?}", names(&tools));
        assert!(!tenant_mentions(&json!(pages).to_string()).is_empty());
    }
    let r = http_tool(&admin.with_key(Some(&other_admin)), 3, "whoami", json!({})).await;
    assert_eq!(tool_output(&r.body).map(|o| o["tenant"].clone()), Some(json!(other)), "{:?}", r.body);
    let (dir, status) = server.stop();
    assert!(status.success(), "tollgate serve did not exit cleanly on SIGTERM: {status:?}");
    let other_chain = chain_records(&dir.path, &other);
    assert!(!other_chain.is_empty());
    Setup {
        dir,
        other,
        other_admin,
        other_admin_id,
        viewer: issued["api_key"].as_str().expect("api_key").to_owned(),
        viewer_id: issued["key_id"].as_str().expect("key_id").to_owned(),
        other_chain,
    }
}

/// The same data dir served single-tenant (environment switch).
fn single(dir: DataDir) -> (HttpServer, ServerLog) {
    HttpServer::start_logged(dir, &[], SINGLE)
}

fn stop(server: HttpServer) -> DataDir {
    let (dir, status) = server.stop();
    assert!(status.success(), "tollgate serve did not exit cleanly on SIGTERM: {status:?}");
    dir
}

fn assert_feature_disabled(a: &Answer, what: &str) {
    assert_eq!(
        (a.status, error_code(&a.body), error_reason(&a.body)),
        (403, Some(-31403), Some("feature_disabled")),
        "{what}: {:?}",
        a.body
    );
}

/// The tenant tools, with arguments that would be valid in multi-tenant mode.
fn tenant_tools(other: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("tenant.bootstrap", json!({"slug": "newco", "display_name": "New Co"})),
        ("tenant.get", json!({"tenant_id": other})),
        ("tenant.get.v1", json!({"tenant_id": other})),
        ("tenant.list", json!({})),
        ("tenant.suspend", json!({"tenant_id": other})),
        ("tenant.resume", json!({"tenant_id": other})),
        // Tools of the multi-tenant edition only, pinned.
        ("tenant.list.v1", json!({})),
        ("plan.set.v1", json!({"tenant_id": other, "plan": "pro"})),
    ]
}

/// The single-tenant edition pins the same version numbers as the
/// multi-tenant one (editions are not versions): `whoami.v1` and
/// `audit.verify.v1` are its own, and the retired single-tenant pins
/// (`whoami.v3`, `key.list.v2`, ...) name nothing.
#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_pins_the_same_version_numbers_as_multi_tenant_in_either_era() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    for era in eras(&admin).await {
        for (i, name) in
            ["whoami.v1", "audit.verify.v1", "key.list.v1", "usage.report.v1", "plan.get.v1"].iter().enumerate()
        {
            let a = tool(&admin, &era, 200 + i as i64, name, json!({})).await;
            let out = tool_output(&a.body).unwrap_or_else(|| panic!("{era:?} {name}: {:?}", a.body));
            assert!(tenant_mentions(&out.to_string()).is_empty(), "{era:?} {name}: {out}");
        }
        for (i, name) in ["whoami.v2", "whoami.v3", "key.list.v2", "audit.verify.v2"].iter().enumerate() {
            let a = tool(&admin, &era, 220 + i as i64, name, json!({})).await;
            assert_eq!(error_code(&a.body), Some(-32602), "{era:?} {name} is retired: {:?}", a.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_tools_list_never_says_tenant_in_either_era_and_switching_back_restores_it() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    // Every problem of both eras is collected, so that one report shows them
    // all and the switch back below is checked either way.
    let mut problems = Vec::new();
    for era in eras(&admin).await {
        let (pages, tools) = tools_list(&admin, &era).await;
        let listed = names(&tools);
        assert!(listed.iter().any(|n| n == "whoami") && listed.iter().any(|n| n == "key.issue"), "{listed:?}");
        let tenant_tools: Vec<&String> = listed.iter().filter(|n| n.starts_with("tenant.")).collect();
        if !tenant_tools.is_empty() {
            problems.push(format!("{era:?}: tenant tools listed: {tenant_tools:?}"));
        }
        // Not in names, descriptions, titles, schemas (property names,
        // descriptions, enum values) or anywhere else in the result.
        for t in &tools {
            let mut paths = Vec::new();
            tenant_paths(t, "", &mut paths);
            if !paths.is_empty() {
                problems.push(format!("{era:?}: tool {} says tenant at\n    {}", t["name"], paths.join("\n    ")));
            }
        }
        let whole = tenant_mentions(&json!(pages).to_string());
        if !whole.is_empty() {
            problems.push(format!("{era:?}: the whole tools/list result says tenant {} times", whole.len()));
        }
    }
    // Switch back: the tenant tools are listed again, in both eras.
    let server = HttpServer::start_in(stop(server), &[]);
    let admin = server.endpoint();
    for era in eras(&admin).await {
        let listed = names(&tools_list(&admin, &era).await.1);
        for t in ["tenant.bootstrap", "tenant.get", "tenant.list", "tenant.suspend", "tenant.resume"] {
            assert!(listed.iter().any(|n| n == t), "{era:?}: {t} is back: {listed:?}");
        }
    }
    assert!(problems.is_empty(), "tools/list in single-tenant mode:\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_whoami_has_no_tenant_in_either_era() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    for era in eras(&admin).await {
        let a = tool(&admin, &era, 5, "whoami", json!({})).await;
        let out = tool_output(&a.body).unwrap_or_else(|| panic!("{era:?}: whoami: {:?}", a.body));
        assert_eq!(out["role"], "platform_admin", "{out}");
        assert!(out.get("tenant").is_none(), "{era:?}: whoami has a tenant field: {out}");
        assert!(tenant_mentions(&a.body["result"].to_string()).is_empty(), "{era:?}: {}", a.body["result"]);
        // The listed `whoami` is the version without a tenant in its output.
        let (_, tools) = tools_list(&admin, &era).await;
        let whoami = tools.iter().find(|t| t["name"] == "whoami").expect("whoami is listed");
        let fields = whoami["outputSchema"]["properties"].as_object().expect("output properties");
        assert!(fields.contains_key("principal") && !fields.contains_key("tenant"), "{era:?}: {fields:?}");
    }
    // Switch back: `other`'s admin sees its tenant again.
    let server = HttpServer::start_in(stop(server), &[]);
    let other_admin = server.endpoint().with_key(Some(&s.other_admin));
    for era in eras(&other_admin).await {
        let a = tool(&other_admin, &era, 6, "whoami", json!({})).await;
        assert_eq!(tool_output(&a.body).map(|o| o["tenant"].clone()), Some(json!(s.other)), "{era:?}: {:?}", a.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_tenant_tools_called_by_name_are_feature_disabled_in_either_era() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    for era in eras(&admin).await {
        for (i, (name, args)) in tenant_tools(&s.other).into_iter().enumerate() {
            let a = tool(&admin, &era, 10 + i as i64, name, args).await;
            assert_feature_disabled(&a, &format!("{era:?} {name}"));
        }
        // An unknown tool's error lists only what this mode offers.
        let a = tool(&admin, &era, 30, "tenant.nope", json!({})).await;
        assert_eq!(error_code(&a.body), Some(-32602), "{:?}", a.body);
        let available = &a.body["error"]["data"]["available"];
        assert!(available.as_array().is_some_and(|v| !v.is_empty()), "{:?}", a.body);
        assert!(
            tenant_mentions(&available.to_string()).is_empty(),
            "{era:?}: available lists tenant tools: {available}"
        );
    }
    // Nothing happened: `newco` was not created, `other` was not suspended.
    let server = HttpServer::start_in(stop(server), &[]);
    let admin = server.endpoint();
    let a = http_tool(&admin, 40, "tenant.list", json!({})).await;
    let out = tool_output(&a.body).unwrap_or_else(|| panic!("tenant.list: {:?}", a.body));
    let slugs: Vec<&str> =
        out["tenants"].as_array().expect("tenants").iter().filter_map(|t| t["slug"].as_str()).collect();
    assert!(!slugs.contains(&"newco"), "{slugs:?}");
    let a = http_tool(&admin, 41, "tenant.get", json!({"tenant_id": s.other})).await;
    assert_eq!(tool_output(&a.body).map(|o| o["status"].clone()), Some(json!("active")), "{:?}", a.body);
}

/// The contract is "tenant-only tools called by name answer -31403
/// `feature_disabled`" — whatever the arguments. Validating them first
/// answers with the hidden tool's schema instead ("`slug` is a required
/// property"), which both breaks the contract and reveals the tool.
#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_tenant_tools_with_incomplete_arguments_are_feature_disabled_too() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    let mut wrong = Vec::new();
    for era in eras(&admin).await {
        for (i, name) in
            ["tenant.bootstrap", "tenant.get", "tenant.list", "tenant.suspend", "tenant.resume"].iter().enumerate()
        {
            let a = tool(&admin, &era, 50 + i as i64, name, json!({})).await;
            if (a.status, error_code(&a.body), error_reason(&a.body)) != (403, Some(-31403), Some("feature_disabled")) {
                wrong.push(format!("{era:?} {name} {{}} -> HTTP {} {}", a.status, a.body));
            }
        }
    }
    assert!(wrong.is_empty(), "tenant tools called by name with incomplete arguments:\n{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_refuses_other_tenants_keys_with_401_audited_on_system_and_switching_back_restores_them() {
    let s = setup().await;
    let system_before = chain_records(&s.dir.path, "_system").len();
    let (server, _log) = single(s.dir);
    let url = server.endpoint();
    let mut refused = 0u64;
    for key in [&s.other_admin, &s.viewer] {
        let to = url.with_key(Some(key));
        // 2026-07-28: tools/list and tools/call.
        let a = modern_call(&to, 60, "tools/list", json!({})).await;
        let b = http_tool(&to, 61, "whoami", json!({})).await;
        // 2025-11-25: opening a session.
        let init = request(
            62,
            "initialize",
            json!({"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        let c = post(&to, &[], &init.to_string()).await;
        for (what, answer) in [("tools/list", &a), ("tools/call", &b), ("initialize", &c)] {
            assert_eq!(
                (answer.status, error_code(&answer.body)),
                (401, Some(-31401)),
                "{what} with a key of another tenant: {:?}",
                answer.body
            );
            let challenge = answer.headers.get("www-authenticate").and_then(|v| v.to_str().ok());
            assert!(challenge.is_some_and(|v| v.starts_with("Bearer")), "{what}: WWW-Authenticate: {challenge:?}");
            refused += 1;
        }
        assert!(c.headers.get("mcp-session-id").is_none(), "no session for a refused key");
    }
    // A legacy session opened by the admin refuses the other tenant's key too.
    let session = legacy_session(&url, LEGACY).await;
    let a = legacy_call(&url.with_key(Some(&s.other_admin)), &session, 63, "tools/list", json!({})).await;
    assert_eq!((a.status, error_code(&a.body)), (401, Some(-31401)), "{:?}", a.body);
    refused += 1;

    // Audited on `_system` (aggregated; flushed by the clean stop), never on
    // `other`'s chain, which single-tenant mode does not touch.
    let dir = stop(server);
    let system = chain_records(&dir.path, "_system");
    let denials: Vec<Value> = system[system_before..]
        .iter()
        .map(|r| serde_json::from_str::<Value>(r).expect("record"))
        .filter(|r| r["decision"] == "deny" && r["transport"] == "http")
        .collect();
    let counted: u64 = denials.iter().filter_map(|r| r["count"].as_u64()).sum();
    assert_eq!(counted, refused, "every refusal is counted on _system: {denials:#?}");
    let reasons: Vec<&Value> = denials.iter().map(|r| &r["reason"]).collect();
    assert!(
        denials.iter().all(|r| r["reason"] == "tenant_disabled" || r["reason"] == "session_principal_mismatch"),
        "{reasons:?}"
    );
    assert!(denials.iter().any(|r| r["reason"] == "tenant_disabled"), "{reasons:?}");
    assert_eq!(chain_records(&dir.path, &s.other), s.other_chain, "other's chain is untouched in single-tenant mode");
    let (code, out, err) = audit_verify(&dir.path, &[]);
    assert_eq!(code, Some(0), "{out}{err}");

    // Switch back: both keys work again, in both eras.
    let server = HttpServer::start_in(dir, &[]);
    for (key, role) in [(&s.other_admin, "tenant_admin"), (&s.viewer, "viewer")] {
        let to = server.endpoint().with_key(Some(key));
        for era in eras(&to).await {
            let a = tool(&to, &era, 64, "whoami", json!({})).await;
            let out = tool_output(&a.body).unwrap_or_else(|| panic!("{era:?} {role}: {:?}", a.body));
            assert_eq!((out["role"].clone(), out["tenant"].clone()), (json!(role), json!(s.other)), "{out}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_hides_other_tenants_data_and_switching_back_restores_it_intact() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    let mut replies = Vec::new();
    for era in eras(&admin).await {
        // Key lists show none of `other`'s keys.
        let a = tool(&admin, &era, 70, "key.list", json!({})).await;
        let out = tool_output(&a.body).unwrap_or_else(|| panic!("key.list: {:?}", a.body));
        let ids: Vec<&str> =
            out["keys"].as_array().expect("keys").iter().filter_map(|k| k["key_id"].as_str()).collect();
        assert!(!ids.contains(&s.other_admin_id.as_str()) && !ids.contains(&s.viewer_id.as_str()), "{era:?}: {ids:?}");
        // `other`'s key answers exactly like a key that does not exist.
        for (name, args, missing) in [
            ("key.revoke", json!({"key_id": s.viewer_id}), json!({"key_id": "k0000000000000000"})),
            (
                "key.rotate",
                json!({"key_id": s.viewer_id, "grace_seconds": 0}),
                json!({"key_id": "k0000000000000000", "grace_seconds": 0}),
            ),
        ] {
            let theirs = tool(&admin, &era, 71, name, args).await;
            let none = tool(&admin, &era, 71, name, missing).await;
            let failure = tool_failure(&theirs.body).unwrap_or_else(|| panic!("{era:?} {name}: {:?}", theirs.body));
            assert_eq!(failure["code"], "not_found", "{era:?} {name}: {failure}");
            assert_eq!(theirs.body, none.body, "{era:?} {name}: another tenant's key answers like a missing one");
            assert_eq!(theirs.status, none.status);
            replies.push(theirs.body);
        }
        let a = tool(&admin, &era, 72, "audit.verify", json!({})).await;
        assert!(tool_output(&a.body).is_some(), "{era:?} audit.verify: {:?}", a.body);
        replies.push(a.body);
        // Naming `other` does not reach its chain (in multi-tenant mode the
        // platform admin may verify any tenant's chain this way).
        let a = tool(&admin, &era, 73, "audit.verify", json!({"tenant_id": s.other})).await;
        assert!(a.status >= 400 || tool_failure(&a.body).is_some(), "{era:?} audit.verify of other: {:?}", a.body);
        assert!(tool_output(&a.body).is_none(), "{era:?}: {:?}", a.body);
    }
    for r in &replies {
        let text = r.to_string();
        assert!(!text.contains(&s.other) && !text.contains("other-viewer"), "a reply names the hidden tenant: {text}");
    }

    // Switch back: `other` and its keys are intact and usable.
    let dir = stop(server);
    assert_eq!(chain_records(&dir.path, &s.other), s.other_chain, "other's chain is untouched in single-tenant mode");
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let other_admin = admin.with_key(Some(&s.other_admin));
    for era in eras(&other_admin).await {
        let a = tool(&other_admin, &era, 80, "tenant.get", json!({})).await;
        let t = tool_output(&a.body).unwrap_or_else(|| panic!("{era:?} tenant.get: {:?}", a.body));
        assert_eq!((t["slug"].clone(), t["status"].clone()), (json!("other"), json!("active")), "{t}");
        let a = tool(&other_admin, &era, 81, "key.list", json!({})).await;
        let keys = tool_output(&a.body).unwrap_or_else(|| panic!("{era:?} key.list: {:?}", a.body));
        let viewer =
            keys["keys"].as_array().expect("keys").iter().find(|k| k["key_id"] == s.viewer_id.as_str()).cloned();
        assert_eq!(
            viewer.map(|v| (v["label"].clone(), v["status"].clone(), v["role"].clone())),
            Some((json!("other-viewer"), json!("active"), json!("viewer"))),
            "{era:?}: {keys}"
        );
    }
    let a = http_tool(&admin, 82, "tenant.list", json!({})).await;
    let out = tool_output(&a.body).unwrap_or_else(|| panic!("tenant.list: {:?}", a.body));
    assert!(out["tenants"].as_array().expect("tenants").iter().any(|t| t["id"] == s.other.as_str()), "{out}");
    let a = http_tool(&other_admin, 83, "audit.verify", json!({})).await;
    let out = tool_output(&a.body).unwrap_or_else(|| panic!("audit.verify: {:?}", a.body));
    assert_eq!(out["valid"], true, "{out}");
    let dir = stop(server);
    let chain = chain_records(&dir.path, &s.other);
    assert_eq!(chain[..s.other_chain.len()], s.other_chain[..], "other's earlier records are unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_config_file_switch_works_like_the_environment() {
    let s = setup().await;
    let config = s.dir.path.join("tollgate.toml");
    let template = std::fs::read_to_string(&config).expect("tollgate.toml");
    assert!(template.contains("multi_tenant = true"), "{template}");
    std::fs::write(&config, template.replace("multi_tenant = true", "multi_tenant = false")).expect("write");
    let server = HttpServer::start_in(s.dir, &[]);
    let admin = server.endpoint();
    let (pages, tools) = tools_list(&admin, &Era::Modern).await;
    assert!(!names(&tools).iter().any(|n| n.starts_with("tenant.")), "{:?}", names(&tools));
    let a = http_tool(&admin, 90, "tenant.list", json!({})).await;
    assert_feature_disabled(&a, "tenant.list");
    let a = http_tool(&admin.with_key(Some(&s.other_admin)), 91, "whoami", json!({})).await;
    assert_eq!(a.status, 401, "{:?}", a.body);
    drop(pages);
    let dir = stop(server);
    std::fs::write(&config, template).expect("write");
    let server = HttpServer::start_in(dir, &[]);
    let a = http_tool(&server.endpoint().with_key(Some(&s.other_admin)), 92, "whoami", json!({})).await;
    assert_eq!(tool_output(&a.body).map(|o| o["tenant"].clone()), Some(json!(s.other)), "{:?}", a.body);
}

/// "Calls act on the tenant `default`" (DESIGN.md, kill switch): a
/// single-tenant server must be able to run its one tenant — issue it a
/// viewer key, and record its calls in that tenant's chain.
#[tokio::test(flavor = "multi_thread")]
async fn single_tenant_calls_act_on_the_default_tenant() {
    let s = setup().await;
    let (server, _log) = single(s.dir);
    let admin = server.endpoint();
    let a = http_tool(&admin, 95, "key.issue", json!({"role": "viewer", "label": "dashboard"})).await;
    let issued = tool_output(&a.body)
        .unwrap_or_else(|| panic!("single-tenant mode cannot issue a viewer key for its tenant: {:?}", a.body));
    let viewer = admin.with_key(issued["api_key"].as_str());
    let a = http_tool(&viewer, 96, "whoami", json!({})).await;
    assert_eq!(tool_output(&a.body).map(|o| o["role"].clone()), Some(json!("viewer")), "{:?}", a.body);
    let dir = stop(server);
    let default = chain_records(&dir.path, &default_tenant_id());
    assert!(
        default.iter().any(|r| r.contains("\"tool\":\"whoami\"")),
        "the calls of single-tenant mode are recorded in the chain of tenant default ({})",
        default_tenant_id()
    );
}
