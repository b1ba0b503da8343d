//! Bad input over HTTP, in both eras: each documented answer and status, and
//! the server stays up and answers afterwards.

use serde_json::{Value, json};
use system_tests::*;

fn code(a: &Answer) -> Option<i64> {
    a.body["error"]["code"].as_i64()
}

const MH: &[(&str, &str)] = &[("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")];

#[tokio::test]
async fn modern_bad_input_gets_documented_codes_and_statuses() {
    let server = HttpServer::start(&[]);
    let url = server.endpoint();
    let list = |meta: Value| request(1, "tools/list", json!({"_meta": meta})).to_string();

    // Invalid JSON and batches.
    let a = post(&url, MH, "{not json").await;
    assert_eq!((a.status, code(&a)), (400, Some(-32700)));
    let batch = format!("[{}]", list(modern_meta()));
    let a = post(&url, MH, &batch).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32600)));

    // Removed and unknown methods: -32601 / 404, id echoed.
    for method in ["initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe", "nope/x"] {
        let body = request(7, method, json!({"_meta": modern_meta()})).to_string();
        let a = post(&url, &[("mcp-protocol-version", MODERN), ("mcp-method", method)], &body).await;
        assert_eq!((a.status, code(&a), a.body["id"].clone()), (404, Some(-32601), json!(7)), "{method}");
    }

    // Missing or partial _meta: -32602 / 400.
    for meta in [
        Value::Null,
        json!({}),
        json!({"io.modelcontextprotocol/protocolVersion": MODERN}),
        json!({"io.modelcontextprotocol/clientCapabilities": {}}),
    ] {
        let body = if meta.is_null() { request(1, "tools/list", json!({})).to_string() } else { list(meta.clone()) };
        let a = post(&url, MH, &body).await;
        assert_eq!((a.status, code(&a)), (400, Some(-32602)), "{meta}");
    }

    // Unsupported version in header and body: -32022 with supported and requested echoed.
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let a =
        post(&url, &[("mcp-protocol-version", "v999.0.0"), ("mcp-method", "tools/list")], &list(meta.clone())).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32022)));
    assert_eq!(a.body["error"]["data"]["requested"], "v999.0.0");
    assert_eq!(a.body["error"]["data"]["supported"][0], MODERN);

    // Header mismatches: version, method, name (plain and base64), missing headers, bad base64.
    let a = post(&url, MH, &list(meta)).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32020)), "version header differs from body");
    let a = post(&url, &[("mcp-protocol-version", MODERN), ("mcp-method", "tools/call")], &list(modern_meta())).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32020)), "method header differs");
    let a = post(&url, &[("mcp-protocol-version", MODERN)], &list(modern_meta())).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32020)), "method header missing");
    let call = request(2, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()})).to_string();
    for name in [None, Some("server.info"), Some("=?base64?!!!?="), Some("=?base64?c2VydmVyLmluZm8=?=")] {
        let mut h = vec![("mcp-protocol-version", MODERN), ("mcp-method", "tools/call")];
        if let Some(n) = name {
            h.push(("mcp-name", n));
        }
        let a = post(&url, &h, &call).await;
        assert_eq!((a.status, code(&a)), (400, Some(-32020)), "{name:?}");
    }
    let h = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", " =?base64?d2hvYW1p?= ")];
    assert_eq!(post(&url, &h, &call).await.status, 200, "base64 Mcp-Name with surrounding space decodes");
    // A body _meta version without the header.
    let a = post(&url, &[], &list(modern_meta())).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32020)));

    // Unknown tool and version, wrong argument types.
    for name in ["no.such.tool", "whoami.v9"] {
        let a = modern_call(&url, 3, "tools/call", json!({"name": name, "arguments": {}})).await;
        assert_eq!((a.status, code(&a)), (400, Some(-32602)), "{name}");
        let available = a.body["error"]["data"]["available"].as_array().cloned().unwrap_or_default();
        assert!(available.contains(&json!("whoami")) && available.contains(&json!("whoami.v1")), "{available:?}");
    }
    let a = modern_call(&url, 4, "tools/call", json!({"name": "whoami", "arguments": {"extra": 1}})).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["result"]["isError"], true);
    let err: Value =
        serde_json::from_str(a.body["result"]["content"][0]["text"].as_str().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(err["code"], "invalid_arguments");
    let a = modern_call(&url, 5, "tools/call", json!({"name": "whoami", "arguments": [1]})).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32602)), "arguments must be an object");
    let a = modern_call(&url, 6, "tools/list", json!({"cursor": "bogus"})).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32602)), "bad cursor");

    // Oversized body, Accept, Content-Type, methods.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    assert_eq!(post(&url, MH, &big).await.status, 413);
    assert_eq!(post(&url, &[("accept", "application/json")], &list(modern_meta())).await.status, 406);
    assert_eq!(post(&url, &[("content-type", "text/plain")], &list(modern_meta())).await.status, 415);
    let c = system_tests::client();
    assert_eq!(c.get(&url.url).send().await.map(|r| r.status().as_u16()).ok(), Some(405));
    let del = c.delete(&url.url).header("mcp-protocol-version", MODERN).send().await;
    assert_eq!(del.map(|r| r.status().as_u16()).ok(), Some(405));

    // A notification is 202 with no body.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}).to_string();
    let a = post(&url, &[("mcp-protocol-version", MODERN), ("mcp-method", "notifications/cancelled")], &note).await;
    assert_eq!((a.status, a.body.clone()), (202, Value::Null));

    // Foreign Origin and Host.
    let body = list(modern_meta());
    assert_eq!(post(&url, &[MH[0], MH[1], ("origin", "http://evil.example.com")], &body).await.status, 403);
    assert_eq!(post(&url, &[MH[0], MH[1], ("host", "evil.example.com")], &body).await.status, 403);

    // Still up and answering.
    let a = modern_call(&url, 9, "tools/list", json!({})).await;
    assert_eq!(a.status, 200);
    assert!(a.body["result"]["tools"].as_array().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn legacy_bad_input_gets_documented_codes_and_statuses() {
    let mut server = HttpServer::start(&[]);
    let url = server.endpoint();
    let list = request(1, "tools/list", json!({})).to_string();

    // No session, unknown session.
    let a = post(&url, &[], &list).await;
    assert_eq!((a.status, a.body["error"]["data"]["reason"].clone()), (400, json!("session_required")));
    let a = post(&url, &[("mcp-session-id", "nope")], &list).await;
    assert_eq!(a.status, 404);

    // A session accepts any legacy version header; an unsupported one is 400.
    let s = legacy_session(&url, "2025-11-25").await;
    for v in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        assert_eq!(post(&url, &[("mcp-session-id", &s), ("mcp-protocol-version", v)], &list).await.status, 200, "{v}");
    }
    let a = post(&url, &[("mcp-session-id", &s), ("mcp-protocol-version", "1999-01-01")], &list).await;
    assert_eq!(a.status, 400);

    // Batches: refused on 2025-11-25, served on 2025-03-26.
    let batch = json!([request(1, "ping", json!({})), request(2, "tools/list", json!({}))]).to_string();
    let a = post(&url, &[("mcp-session-id", &s)], &batch).await;
    assert_eq!((a.status, code(&a)), (400, Some(-32600)));
    let old = legacy_session(&url, "2025-03-26").await;
    let a = post(&url, &[("mcp-session-id", &old)], &batch).await;
    assert_eq!(a.status, 200);
    let replies = a.body.as_array().cloned().unwrap_or_default();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["result"], json!({}));
    assert!(replies[1]["result"]["tools"].is_array());

    // Removed-in-2026 methods work here; modern ones do not; ping is exactly {}.
    let a = legacy_call(&url, &s, 3, "ping", json!({})).await;
    assert_eq!(a.body["result"], json!({}));
    let a = legacy_call(&url, &s, 4, "logging/setLevel", json!({"level": "debug"})).await;
    assert_eq!(a.body["result"], json!({}));
    let a = legacy_call(&url, &s, 5, "server/discover", json!({})).await;
    assert_eq!(code(&a), Some(-32601));
    let a = legacy_call(&url, &s, 6, "tools/call", json!({"name": "nope"})).await;
    assert_eq!(code(&a), Some(-32602));
    let a = post(&url, &[("mcp-session-id", &s)], "{oops").await;
    assert_eq!((a.status, code(&a)), (400, Some(-32700)));

    // A legacy result has no 2026 envelope.
    let a = legacy_call(&url, &s, 7, "tools/list", json!({})).await;
    assert!(a.body["result"].get("resultType").is_none() && a.body["result"].get("ttlMs").is_none());

    // Client responses and notifications are 202; DELETE ends the session.
    let resp = json!({"jsonrpc": "2.0", "id": 99, "result": {}}).to_string();
    assert_eq!(post(&url, &[("mcp-session-id", &s)], &resp).await.status, 202);
    let c = system_tests::client();
    let del = c
        .delete(&url.url)
        .header("mcp-session-id", &s)
        .bearer_auth(url.key.clone().unwrap_or_default())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok();
    assert_eq!(del, Some(200));
    assert_eq!(post(&url, &[("mcp-session-id", &s)], &list).await.status, 404);

    // Foreign Origin on initialize.
    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert_eq!(post(&url, &[("origin", "http://evil.example.com")], &init.to_string()).await.status, 403);

    assert!(server.alive());
    assert_eq!(legacy_call(&url, &old, 8, "ping", json!({})).await.body["result"], json!({}));
}
