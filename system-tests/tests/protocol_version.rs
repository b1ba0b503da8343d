//! An unsupported `MCP-Protocol-Version` over HTTP: the precedence table of
//! docs/protocol.md, on every method, on a fresh request and on a 2025
//! session, with and without `params._meta`.

use serde_json::{Value, json};
use system_tests::*;

const SUPPORTED: [&str; 4] = [MODERN, "2025-11-25", "2025-06-18", "2025-03-26"];
const UNSUPPORTED: [&str; 2] = ["1999-01-01", "banana"];
const METHODS: [&str; 5] = ["ping", "tools/list", "tools/call", "initialize", "server/discover"];

/// Params for `method`, with `_meta` naming `version` when given.
fn params(method: &str, meta_version: Option<&str>) -> Value {
    let mut p = match method {
        "tools/call" => json!({"name": "whoami", "arguments": {}}),
        "initialize" => {
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})
        }
        _ => json!({}),
    };
    if let Some(v) = meta_version {
        let mut meta = modern_meta();
        meta["io.modelcontextprotocol/protocolVersion"] = json!(v);
        p["_meta"] = meta;
    }
    p
}

/// POST `method` with `MCP-Protocol-Version: header` (plus `Mcp-Method`, and
/// `Mcp-Name` for tools/call, both matching the body), on `session` if given.
async fn send(url: &Endpoint, session: Option<&str>, header: &str, method: &str, meta: Option<&str>) -> Answer {
    let mut h = vec![("mcp-protocol-version", header), ("mcp-method", method)];
    if method == "tools/call" {
        h.push(("mcp-name", "whoami"));
    }
    if let Some(s) = session {
        h.push(("mcp-session-id", s));
    }
    post(url, &h, &request(7, method, params(method, meta)).to_string()).await
}

/// The answer is `code` with HTTP 400, the request's id, and (for -32022)
/// the supported list and the requested version echoed exactly.
fn assert_refused(a: &Answer, code: i64, requested: Option<&str>, id: Value, what: &str) {
    assert_eq!(
        (a.status, a.body["error"]["code"].as_i64(), a.body["id"].clone()),
        (400, Some(code), id),
        "{what}: {a:?}"
    );
    if let Some(r) = requested {
        assert_eq!(a.body["error"]["data"]["supported"], json!(SUPPORTED), "{what}");
        assert_eq!(a.body["error"]["data"]["requested"], json!(r), "{what}");
    }
}

/// No message names 2026-07-28 (or any version) the client did not send.
fn assert_claims_nothing(a: &Answer, sent: &[&str], what: &str) {
    let message = a.body["error"]["message"].as_str().unwrap_or_default();
    for v in SUPPORTED.iter().chain(UNSUPPORTED.iter()) {
        assert!(sent.contains(v) || !message.contains(v), "{what}: message {message:?} names {v}");
    }
}

/// Every (unsupported version, method, fresh or on `session`) combination, with a label.
fn cases(session: &str) -> Vec<(&'static str, &'static str, Option<&str>, String)> {
    let mut all = vec![];
    for version in UNSUPPORTED {
        for method in METHODS {
            for on in [None, Some(session)] {
                all.push((version, method, on, format!("{version} {method} session={}", on.is_some())));
            }
        }
    }
    all
}

#[tokio::test]
async fn an_unsupported_version_header_without_meta_is_unsupported_version_on_every_method() {
    let server = HttpServer::start(&[]);
    let url = server.endpoint();
    let session = legacy_session(&url, "2025-11-25").await;
    for (version, method, on, what) in cases(&session) {
        let a = send(&url, on, version, method, None).await;
        assert_refused(&a, -32022, Some(version), json!(7), &what);
        assert_claims_nothing(&a, &[version], &what);
    }
    for version in UNSUPPORTED {
        // A 2025 client that only adds the header (no Mcp-Method) gets the same answer.
        let body = request(8, "ping", json!({})).to_string();
        let a = post(&url, &[("mcp-session-id", &session), ("mcp-protocol-version", version)], &body).await;
        assert_refused(&a, -32022, Some(version), json!(8), &format!("{version} bare ping on the session"));
    }
}

#[tokio::test]
async fn with_meta_a_differing_header_is_a_mismatch_then_the_version_is_unsupported() {
    let server = HttpServer::start(&[]);
    let url = server.endpoint();
    let session = legacy_session(&url, "2025-11-25").await;
    for (version, method, on, what) in cases(&session) {
        // Header and _meta agree on a version we do not speak.
        let a = send(&url, on, version, method, Some(version)).await;
        assert_refused(&a, -32022, Some(version), json!(7), &format!("{what}, same _meta"));
        assert_claims_nothing(&a, &[version], &what);
        // _meta names a version we speak, the header another: the header does not match.
        let a = send(&url, on, version, method, Some(MODERN)).await;
        assert_refused(&a, -32020, None, json!(7), &format!("{what}, _meta {MODERN}"));
        assert_eq!(a.body["error"]["data"]["header"], "MCP-Protocol-Version", "{what}");
        // The header names 2026-07-28, _meta another: still a mismatch (on methods
        // 2026-07-28 has; for `ping` and `initialize` its method check comes first).
        if method != "ping" && method != "initialize" {
            let a = send(&url, on, MODERN, method, Some(version)).await;
            assert_refused(&a, -32020, None, json!(7), &format!("{what}, header {MODERN}"));
        }
    }
}

#[tokio::test]
async fn notifications_and_responses_under_an_unsupported_version_are_refused_and_get_delete_stay_405() {
    let server = HttpServer::start(&[]);
    let url = server.endpoint();
    let session = legacy_session(&url, "2025-11-25").await;
    for version in UNSUPPORTED {
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
        let a = post(&url, &[("mcp-session-id", &session), ("mcp-protocol-version", version)], &note).await;
        assert_refused(&a, -32022, Some(version), Value::Null, &format!("{version} notification"));
        let response = json!({"jsonrpc": "2.0", "id": 1, "result": {}}).to_string();
        let a = post(&url, &[("mcp-protocol-version", version)], &response).await;
        assert_refused(&a, -32022, Some(version), Value::Null, &format!("{version} client response"));

        let c = system_tests::client();
        let key = url.key.clone().unwrap_or_default();
        let get = c.get(&url.url).header("mcp-protocol-version", version).bearer_auth(&key).send().await;
        assert_eq!(get.map(|r| r.status().as_u16()).ok(), Some(405), "{version} GET");
        let del = c
            .delete(&url.url)
            .header("mcp-protocol-version", version)
            .header("mcp-session-id", &session)
            .bearer_auth(&key)
            .send()
            .await;
        assert_eq!(del.map(|r| r.status().as_u16()).ok(), Some(405), "{version} DELETE");
    }
    // The session survived all of it and still answers under its own version.
    let a = post(
        &url,
        &[("mcp-session-id", &session), ("mcp-protocol-version", "2025-11-25")],
        &request(9, "ping", json!({})).to_string(),
    )
    .await;
    assert_eq!((a.status, a.body["result"].clone()), (200, json!({})));
    let a = modern_call(&url, 10, "tools/list", json!({})).await;
    assert_eq!(a.status, 200);
}
