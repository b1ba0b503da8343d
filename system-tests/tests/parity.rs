//! Transport and era parity: the same tool calls over stdio and HTTP, in both
//! eras, give identical tool results.

use serde_json::{Value, json};
use system_tests::*;

/// (tool, arguments) pairs covering results, tool errors and protocol errors.
fn calls() -> Vec<(&'static str, Value)> {
    vec![
        ("server.info", json!({})),
        ("server.info.v1", json!({})),
        ("whoami", json!({})),
        ("whoami", json!({"unexpected": true})),
        ("test_simple_text", json!({})),
        ("test_image_content", json!({})),
        ("test_error_handling", json!({})),
        ("no_such_tool", json!({})),
    ]
}

/// The era-independent part of an answer: the tool result's content, or the error.
fn core(reply: &Value, transport: &str) -> Value {
    if let Some(e) = reply.get("error") {
        return json!({"error": {"code": e["code"], "data": e["data"]}});
    }
    let mut r = reply["result"].clone();
    if let Some(obj) = r.as_object_mut() {
        obj.remove("_meta");
        obj.remove("resultType");
    }
    // whoami reports how it was reached; that is the one expected difference.
    let mut text = serde_json::to_string(&r).unwrap_or_default();
    for (from, to) in [(transport, "T"), ("modern", "E"), ("legacy", "E"), (MODERN, "V"), ("2025-11-25", "V")] {
        text = text
            .replace(&format!("\\\"{from}\\\""), &format!("\\\"{to}\\\""))
            .replace(&format!("\"{from}\""), &format!("\"{to}\""));
    }
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn legacy_init(id: i64) -> Value {
    request(
        id,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    )
}

#[tokio::test]
async fn the_same_calls_give_identical_results_on_every_transport_and_era() {
    let server = HttpServer::start(&["--conformance"]);
    let url = server.endpoint();
    let session = legacy_session(&url, "2025-11-25").await;
    // The same data dir and key on both transports, so the principal is the same too.
    let mut stdio = StdioServer::start_with(&server.dir.path, Some(&server.dir.admin_key), &["--conformance"]);
    stdio.call(&legacy_init(0));
    stdio.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    for (i, (name, args)) in calls().into_iter().enumerate() {
        let id = i64::try_from(i).unwrap_or(0) + 1;
        let params = json!({"name": name, "arguments": args});
        let http_modern = modern_call(&url, id, "tools/call", params.clone()).await.body;
        let http_legacy = legacy_call(&url, &session, id, "tools/call", params.clone()).await.body;
        let mut modern_params = params.clone();
        modern_params["_meta"] = modern_meta();
        let stdio_modern = stdio.call(&request(id, "tools/call", modern_params));
        let stdio_legacy = stdio.call(&request(id, "tools/call", params));

        // Within an era, the whole reply is the same on both transports (but for whoami's transport).
        assert_eq!(core(&http_modern, "http"), core(&stdio_modern, "stdio"), "{name}: modern http vs stdio");
        assert_eq!(core(&http_legacy, "http"), core(&stdio_legacy, "stdio"), "{name}: legacy http vs stdio");
        // Across eras, the tool result is the same; only the envelope differs.
        assert_eq!(core(&http_modern, "http"), core(&http_legacy, "http"), "{name}: modern vs legacy");
        if http_modern.get("result").is_some() {
            assert_eq!(http_modern["result"]["resultType"], "complete", "{name}");
            assert!(http_legacy["result"].get("resultType").is_none(), "{name}");
            assert!(stdio_modern["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "tollgate");
        }
    }
    assert!(stdio.finish().success());
}

#[tokio::test]
async fn tools_list_is_identical_across_transports_and_eras() {
    let server = HttpServer::start(&[]);
    let url = server.endpoint();
    let session = legacy_session(&url, "2025-06-18").await;
    let mut stdio = StdioServer::start_with(&server.dir.path, Some(&server.dir.admin_key), &[]);
    let modern_http = modern_call(&url, 1, "tools/list", json!({})).await.body;
    let legacy_http = legacy_call(&url, &session, 2, "tools/list", json!({})).await.body;
    let modern_stdio = stdio.call(&request(3, "tools/list", json!({"_meta": modern_meta()})));
    assert_eq!(modern_http["result"]["tools"], modern_stdio["result"]["tools"]);
    assert_eq!(modern_http["result"]["tools"], legacy_http["result"]["tools"]);
    assert_eq!(modern_http["result"]["cacheScope"], "private", "the list depends on the caller");
    assert!(modern_http["result"]["ttlMs"].as_u64().is_some());
    let names: Vec<&str> =
        modern_http["result"]["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    let expected = [
        "audit.verify",
        "identity.invite",
        "identity.list",
        "identity.redeem",
        "identity.unbind",
        "key.issue",
        "key.list",
        "key.revoke",
        "key.revoke_all",
        "key.rotate",
        "plan.catalog",
        "plan.get",
        "plan.set",
        "server.info",
        "tenant.bootstrap",
        "tenant.get",
        "tenant.legal_hold",
        "tenant.list",
        "tenant.resume",
        "tenant.suspend",
        "usage.report",
        "whoami",
    ];
    assert_eq!(names, expected, "plain names, latest versions, name order; no fixtures");
}

// ---------------------------------------------------------------------------
// One scripted tenant-admin session over stdio, HTTP, HTTPS and mTLS, in both
// eras (issue 9, Done-when 3). Every run gets its own data dir prepared the
// same way (a tenant, its admin key, a certificate bound as that admin), the
// same fixed clock, and the same calls; the JSON-RPC results must be
// identical once ids, whoami's transport and principal fields, key ids and
// newly issued secrets are normalised.
// ---------------------------------------------------------------------------

use system_tests::pki::{ClientIdentity, Pki};

const PARITY_CLOCK: &str = "2030-01-01T00:00:00Z";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Wire {
    Stdio,
    Http,
    Https,
    Mtls,
}

/// How the session reaches its server.
enum Conn {
    Stdio(StdioServer),
    Http { to: Endpoint, session: Option<String> },
}

impl Conn {
    async fn call(&mut self, id: i64, method: &str, params: Value) -> Value {
        match self {
            Conn::Stdio(s) => {
                let mut params = params;
                if s_is_modern(params.get("_meta")) {
                    params["_meta"] = modern_meta();
                }
                s.call(&request(id, method, params))
            }
            Conn::Http { to, session: None } => modern_call(to, id, method, params).await.body,
            Conn::Http { to, session: Some(sid) } => legacy_call(to, sid, id, method, params).await.body,
        }
    }
}

fn s_is_modern(meta: Option<&Value>) -> bool {
    meta.is_some_and(|m| m == "modern")
}

/// The scripted session: (method, params) with `$KEY` standing for the key id issued in step 4.
fn script() -> Vec<(&'static str, Value)> {
    vec![
        ("tools/list", json!({})),
        ("tools/call", json!({"name": "whoami", "arguments": {}})),
        ("tools/call", json!({"name": "tenant.get", "arguments": {}})),
        ("tools/call", json!({"name": "key.issue", "arguments": {"role": "viewer", "label": "parity"}})),
        ("tools/call", json!({"name": "key.list", "arguments": {}})),
        ("tools/call", json!({"name": "key.revoke", "arguments": {"key_id": "$KEY"}})),
        ("tools/call", json!({"name": "plan.get", "arguments": {}})),
        ("tools/call", json!({"name": "usage.report", "arguments": {}})),
        ("tools/call", json!({"name": "tenant.get", "arguments": {"tenant_id": "tn_0000000000000000"}})),
        ("tools/call", json!({"name": "key.revoke", "arguments": {"key_id": "kdoesnotexist0000"}})),
        ("tools/call", json!({"name": "no_such_tool", "arguments": {}})),
    ]
}

/// Replace what legitimately differs between runs and transports.
fn normalise(reply: &Value) -> Value {
    fn walk(v: &mut Value) {
        // JSON text blocks carry the same result again: compare them as JSON
        // (object key order is not part of the result).
        if let Value::String(s) = v
            && let Ok(inner) = serde_json::from_str::<Value>(s)
            && inner.is_object()
        {
            *v = json!({ "json_text": inner });
        }
        match v {
            Value::Object(map) => {
                for field in ["transport", "principal"] {
                    if map.contains_key(field) {
                        map.insert(field.to_owned(), json!("<normalised>"));
                    }
                }
                // A certificate principal's whoami omits the kind (see identity::PrincipalKind).
                map.remove("principal_kind");
                map.remove("_meta");
                map.remove("resultType");
                for (_, child) in map.iter_mut() {
                    walk(child);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut reply = reply.clone();
    if let Some(obj) = reply.as_object_mut() {
        obj.remove("id");
    }
    walk(&mut reply);
    let text = reply.to_string();
    let secrets = regex::Regex::new(r"tg_[0-9a-zA-Z]+_[0-9a-f]+").expect("regex");
    let key_ids = regex::Regex::new(r"\bk[0-9a-f]{16}\b").expect("regex");
    let text = secrets.replace_all(&text, "<secret>");
    let text = key_ids.replace_all(&text, "<key_id>");
    serde_json::from_str(&text).expect("still JSON")
}

/// Prepare a data dir (tenant, admin key, bound certificate) and run the script over `wire` in one era.
async fn run_session(pki: &Pki, cert: &ClientIdentity, wire: Wire, modern: bool) -> Vec<Value> {
    let dir = DataDir::init();
    let clock = dir.path.join("test-clock");
    std::fs::write(&clock, PARITY_CLOCK).expect("clock");
    let clock = clock.to_string_lossy().into_owned();
    let files = pki.write(&dir.path.join("pki"));
    let (cert_path, key_path, ca_path) = (
        files.cert.to_string_lossy().into_owned(),
        files.key.to_string_lossy().into_owned(),
        files.ca.to_string_lossy().into_owned(),
    );
    let tls_args = ["--clock-file", &clock, "--tls-cert", &cert_path, "--tls-key", &key_path, "--client-ca", &ca_path];
    let tls = HttpServer::start_in(dir, &tls_args);
    let https = |key: Option<&str>, c: Option<&ClientIdentity>| Endpoint {
        url: format!("{}/mcp", tls.base),
        key: key.map(str::to_owned),
        client: Some(pki.https_client(c)),
    };
    let boot = http_tool(
        &https(Some(&tls.dir.admin_key), None),
        1,
        "tenant.bootstrap",
        json!({"slug": "parity", "display_name": "Parity"}),
    )
    .await;
    let admin = tool_output(&boot.body).expect("bootstrap")["api_key"].as_str().expect("key").to_owned();
    let bind = http_tool(
        &https(Some(&admin), Some(cert)),
        2,
        "key.bind_cert",
        json!({"role": "tenant_admin", "label": "parity"}),
    )
    .await;
    assert!(tool_output(&bind.body).is_some(), "{:?}", bind.body);
    // The session's keys are newer than the setup's, so lists order the same way on every run.
    std::fs::write(&clock, "2030-01-01T00:00:01Z").expect("advance the clock");

    // What must outlive the session: the plain server, or the stdio run's data dir.
    let mut _keep_server = None;
    let mut _keep_dir = None;
    let to = match wire {
        Wire::Https => Some(https(Some(&admin), None)),
        Wire::Mtls => Some(https(None, Some(cert))),
        Wire::Http | Wire::Stdio => None,
    };
    let mut conn = match (wire, to) {
        (_, Some(to)) => Conn::Http { to, session: None },
        (Wire::Http, None) => {
            let (dir, _) = tls.stop();
            let plain = HttpServer::start_in(dir, &["--clock-file", &clock]);
            let to = Endpoint { url: format!("{}/mcp", plain.base), key: Some(admin.clone()), client: None };
            _keep_server = Some(plain);
            Conn::Http { to, session: None }
        }
        (_, None) => {
            let (dir, _) = tls.stop();
            let stdio = StdioServer::start_with(&dir.path, Some(&admin), &["--clock-file", &clock]);
            _keep_dir = Some(dir);
            Conn::Stdio(stdio)
        }
    };
    if !modern {
        match &mut conn {
            Conn::Http { to, session } => *session = Some(legacy_session(to, "2025-11-25").await),
            Conn::Stdio(s) => {
                s.call(&legacy_init(0));
                s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
            }
        }
    }
    let mut issued = String::new();
    let mut replies = Vec::new();
    for (i, (method, params)) in script().into_iter().enumerate() {
        let id = i64::try_from(i).unwrap_or(0) + 10;
        let mut params: Value = serde_json::from_str(&params.to_string().replace("$KEY", &issued)).expect("params");
        if modern && matches!(conn, Conn::Stdio(_)) {
            params["_meta"] = json!("modern");
        }
        let reply = conn.call(id, method, params).await;
        if let Some(k) = tool_output(&reply).and_then(|o| o["key_id"].as_str().map(str::to_owned))
            && issued.is_empty()
        {
            issued = k;
        }
        replies.push(reply);
    }
    replies
}

#[tokio::test]
async fn one_scripted_session_is_identical_over_stdio_http_https_and_mtls_in_both_eras() {
    let pki = Pki::new();
    let cert = pki.client("parity");
    for modern in [true, false] {
        let mut runs = Vec::new();
        for wire in [Wire::Stdio, Wire::Http, Wire::Https, Wire::Mtls] {
            runs.push((wire, run_session(&pki, &cert, wire, modern).await));
        }
        let (base_wire, base) = &runs[0];
        // The script succeeded where it should: whoami names the tenant admin's tenant, the issued key was revoked.
        let who = tool_output(&base[1]).expect("whoami");
        assert_eq!(who["role"], "tenant_admin", "{who}");
        assert_eq!(tool_output(&base[5]).map(|o| o["status"].clone()), Some(json!("revoked")), "{:?}", base[5]);
        assert_eq!(error_code(&base[10]), Some(-32602), "unknown tool: {:?}", base[10]);
        for (wire, replies) in &runs[1..] {
            assert_eq!(replies.len(), base.len());
            for (step, (a, b)) in base.iter().zip(replies).enumerate() {
                assert_eq!(normalise(a), normalise(b), "modern={modern} step {step}: {base_wire:?} vs {wire:?}");
            }
        }
        // The transport really differed: whoami says so before normalisation.
        let seen: Vec<Value> =
            runs.iter().map(|(_, r)| tool_output(&r[1]).expect("whoami")["transport"].clone()).collect();
        assert_eq!(seen, [json!("stdio"), json!("http"), json!("https"), json!("https")]);
        let mtls_principal = tool_output(&runs[3].1[1]).expect("whoami")["principal"].clone();
        assert_eq!(mtls_principal, json!(format!("cert:{}", cert.fingerprint)));
    }
}
