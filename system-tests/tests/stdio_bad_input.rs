//! Bad input over stdio: every bad line gets an error response, the server
//! goes on, and EOF ends it cleanly.

use serde_json::{Value, json};
use system_tests::*;

fn code(v: &Value) -> Option<i64> {
    v["error"]["code"].as_i64()
}

#[test]
fn stdio_answers_bad_lines_and_keeps_going() {
    let mut s = StdioServer::start(&[]);
    s.send_raw(b"{not json\n");
    assert_eq!(code(&s.recv()), Some(-32700));
    s.send_raw(b"\xff\xfe{}\n");
    assert_eq!(code(&s.recv()), Some(-32700), "non-UTF-8 line");
    let mut long = vec![b'x'; 5 * 1024 * 1024];
    long.push(b'\n');
    s.send_raw(&long);
    let r = s.recv();
    assert_eq!((code(&r), r["id"].clone()), (Some(-32600), Value::Null), "over-long line");

    // A legacy request before initialize gets the documented error.
    let r = s.call(&request(1, "tools/list", json!({})));
    assert_eq!((code(&r), r["error"]["data"]["reason"].clone()), (Some(-32600), json!("not_initialized")));

    // Modern path: partial _meta, unsupported version, removed method, unknown tool.
    let r = s.call(&request(2, "tools/list", json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}})));
    assert_eq!(code(&r), Some(-32602));
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/protocolVersion"] = json!("1999-01-01");
    let r = s.call(&request(3, "tools/list", json!({"_meta": meta})));
    assert_eq!((code(&r), r["error"]["data"]["requested"].clone()), (Some(-32022), json!("1999-01-01")));
    let r = s.call(&request(4, "ping", json!({"_meta": modern_meta()})));
    assert_eq!(code(&r), Some(-32601));
    let r = s.call(&request(5, "tools/call", json!({"name": "whoami.v7", "_meta": modern_meta()})));
    assert_eq!(code(&r), Some(-32602));
    let r =
        s.call(&request(6, "tools/call", json!({"name": "whoami", "arguments": {"x": "y"}, "_meta": modern_meta()})));
    assert_eq!(r["result"]["isError"], true);

    // Batches: refused before a 2025-03-26 session, served on one.
    let batch = json!([request(7, "ping", json!({}))]);
    s.send(&batch);
    assert_eq!(code(&s.recv()), Some(-32600));
    let init = request(
        8,
        "initialize",
        json!({"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert_eq!(s.call(&init)["result"]["protocolVersion"], "2025-03-26");
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    s.send(&json!([request(9, "ping", json!({})), request(10, "tools/list", json!({}))]));
    let replies = s.recv();
    assert_eq!(replies.as_array().map(Vec::len), Some(2), "{replies}");

    // Still answering, then a clean exit on EOF.
    let r = s.call(&request(11, "tools/call", json!({"name": "server.info", "arguments": {}})));
    assert_eq!(r["result"]["structuredContent"]["name"], "tollgate");
    assert!(s.finish().success());
}

#[test]
fn stdio_cancellation_stops_a_request_without_a_reply() {
    let mut s = StdioServer::start(&["--conformance"]);
    let mut meta = modern_meta();
    meta["progressToken"] = json!("p");
    s.send(&request(1, "tools/call", json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": meta})));
    // The first progress notification proves the request is running.
    assert_eq!(s.recv()["method"], "notifications/progress");
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}));
    s.send(&request(2, "tools/list", json!({"_meta": modern_meta()})));
    // Request 1 is never answered: everything up to request 2's answer is a
    // notification, and after it (the tool would have taken 150 ms) nothing more comes.
    loop {
        let m = s.recv();
        assert_ne!(m.get("id"), Some(&json!(1)), "a cancelled request was answered: {m}");
        if m.get("id") == Some(&json!(2)) {
            assert!(m["result"]["tools"].is_array());
            break;
        }
    }
    let rest = s.finish_and_drain();
    assert!(rest.iter().all(|m| m.get("id") != Some(&json!(1))), "{rest:?}");
}
