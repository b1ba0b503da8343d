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
        "tenant.delete",
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
