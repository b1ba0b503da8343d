//! Under 2026-07-28 a closed response stream cancels the request: the tool
//! stops, nothing is committed for it, and the server goes on.

use futures::StreamExt;
use serde_json::json;
use system_tests::*;

async fn progress_call(ep: &Endpoint) -> reqwest::Response {
    let mut meta = modern_meta();
    meta["progressToken"] = json!("p");
    let body = request(1, "tools/call", json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": meta}));
    system_tests::client()
        .post(&ep.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "test_tool_with_progress")
        .body(body.to_string())
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn a_closed_modern_stream_cancels_the_call_and_commits_nothing_for_it() {
    let server = HttpServer::start(&["--conformance"]);
    let ep = server.endpoint().with_key(None);

    // Start a call, read its first progress event (it is running), then hang up.
    let first = progress_call(&ep).await;
    assert_eq!(first.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/event-stream"));
    let mut events = first.bytes_stream();
    let chunk = events.next().await.expect("an event").expect("bytes");
    assert!(String::from_utf8_lossy(&chunk).contains("notifications/progress"));
    drop(events);

    // A second, identical call runs to its end; it takes longer than what was left of the first.
    let second = progress_call(&ep).await.text().await.expect("body");
    assert!(second.contains("Progress completed"), "{second}");

    let (dir, status) = server.stop();
    assert!(status.success());
    let runs = audit_records(&dir.path).into_iter().filter(|r| r["tool"] == "test_tool_with_progress").count();
    assert_eq!(runs, 1, "only the call that was not cancelled left a record");
}
