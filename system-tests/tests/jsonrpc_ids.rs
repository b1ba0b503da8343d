//! JSON-RPC ids come back exactly as the client wrote them (issue 19,
//! defect 7): a 30-digit number, `-0`, a decimal with a trailing zero, an
//! exponent and an escaped string, in replies and in errors, over HTTP in
//! both eras and over stdio. The replies are compared as text, since a JSON
//! parser would hide the difference.

use serde_json::{Value, json};
use system_tests::*;

const IDS: &[&str] = &["123456789012345678901234567890", "-0", "1.50", "-1.0E+2", r#""\u0041b""#, "7"];

/// `message` with its id replaced by the raw text `id`.
fn with_id(message: &Value, id: &str) -> String {
    let mut m = message.clone();
    m["id"] = json!("__ID__");
    m.to_string().replace(r#""__ID__""#, id)
}

fn assert_echoed(what: &str, reply: &str, id: &str) {
    assert!(reply.contains(&format!(r#""id":{id},"#)), "{what}: id {id} not echoed exactly: {reply}");
}

/// A raw POST answered as text.
async fn post_text(url: &str, headers: &[(&str, &str)], body: String) -> (u16, String, reqwest::header::HeaderMap) {
    let mut req = client()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body).send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.expect("body"), headers)
}

#[tokio::test]
async fn ids_are_echoed_byte_for_byte_over_http_in_both_eras_errors_included() {
    let server = HttpServer::start(&[]);
    let ep = server.endpoint();
    let bearer = format!("Bearer {}", server.dir.admin_key);
    let auth = ("authorization", bearer.as_str());
    for id in IDS {
        // 2026-07-28: a result, a tool-level protocol error, an invalid envelope.
        let call = request(0, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()}));
        let h = [auth, ("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "whoami")];
        let (status, text, _) = post_text(&ep.url, &h, with_id(&call, id)).await;
        assert_eq!(status, 200, "{text}");
        assert_echoed("modern result", &text, id);
        let unknown = request(0, "tools/call", json!({"name": "nope", "arguments": {}, "_meta": modern_meta()}));
        let h = [auth, ("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "nope")];
        let (_, text, _) = post_text(&ep.url, &h, with_id(&unknown, id)).await;
        assert!(text.contains("-32602"), "{text}");
        assert_echoed("modern error", &text, id);
        let bad = json!({"jsonrpc": "1.0", "id": 0, "method": "tools/list"});
        let (status, text, _) = post_text(&ep.url, &[auth, ("mcp-protocol-version", MODERN)], with_id(&bad, id)).await;
        assert_eq!(status, 400, "{text}");
        assert_echoed("modern invalid request", &text, id);

        // 2025: initialize, a call on the session, an unknown method.
        let init = request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        );
        let (status, text, headers) = post_text(&ep.url, &[auth], with_id(&init, id)).await;
        assert_eq!(status, 200, "{text}");
        assert_echoed("legacy initialize", &text, id);
        let session = headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("session").to_owned();
        let h = [auth, ("mcp-session-id", session.as_str()), ("mcp-protocol-version", "2025-11-25")];
        let (_, text, _) = post_text(&ep.url, &h, with_id(&request(0, "tools/list", json!({})), id)).await;
        assert!(text.contains("\"tools\""), "{text}");
        assert_echoed("legacy result", &text, id);
        let (_, text, _) = post_text(&ep.url, &h, with_id(&request(0, "no/such", json!({})), id)).await;
        assert!(text.contains("-32601"), "{text}");
        assert_echoed("legacy error", &text, id);
    }
}

#[tokio::test]
async fn ids_are_echoed_byte_for_byte_over_stdio() {
    let mut stdio = StdioServer::start(&[]);
    for id in IDS {
        let list = request(0, "tools/list", json!({"_meta": modern_meta()}));
        stdio.send_raw(format!("{}\n", with_id(&list, id)).as_bytes());
        let reply = stdio.recv_line();
        assert!(reply.contains("\"tools\""), "{reply}");
        assert_echoed("stdio result", &reply, id);
        let bad = json!({"jsonrpc": "1.0", "id": 0, "method": "tools/list"});
        stdio.send_raw(format!("{}\n", with_id(&bad, id)).as_bytes());
        let reply = stdio.recv_line();
        assert!(reply.contains("-32600"), "{reply}");
        assert_echoed("stdio invalid request", &reply, id);
    }
    assert!(stdio.finish().success());
}
