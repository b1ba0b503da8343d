//! `subscriptions/listen` through the binary over HTTP (issue 6 Done-when 4,
//! issue 7 Done-when 7): the acknowledgment comes first, every notification
//! carries its stream's subscription id, a stream hears only its own
//! tenant's events and only the kinds it asked for, and a server that shuts
//! down ends each stream with its closing result. No timed waits: every
//! assertion reads the next message of a stream.

use serde_json::{Value, json};
use system_tests::*;

fn server() -> HttpServer {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    HttpServer::start_in(dir, &[])
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = modern_call(ep, 1, "tools/call", json!({"name": name, "arguments": arguments})).await;
    tool_output(&a.body).unwrap_or_else(|| panic!("{name} failed: {:?}", a.body))
}

async fn tenant(admin: &Endpoint, slug: &str) -> (String, Endpoint) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": "pro"})).await;
    (boot["tenant_id"].as_str().expect("tenant_id").to_owned(), admin.with_key(boot["api_key"].as_str()))
}

async fn listen(ep: &Endpoint, id: i64, notifications: Value) -> SseStream {
    let params = json!({"notifications": notifications, "_meta": modern_meta()});
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "subscriptions/listen")];
    let stream = SseStream::open(ep, &headers, &request(id, "subscriptions/listen", params).to_string()).await;
    assert_eq!(stream.status, 200);
    assert!(stream.content_type.starts_with("text/event-stream"), "{}", stream.content_type);
    stream
}

fn subscription_id(message: &Value) -> Value {
    let meta = message.get("params").or_else(|| message.get("result")).and_then(|p| p.get("_meta"));
    meta.and_then(|m| m.get("io.modelcontextprotocol/subscriptionId")).cloned().unwrap_or(Value::Null)
}

async fn tool_names(ep: &Endpoint) -> Vec<String> {
    let a = modern_call(ep, 2, "tools/list", json!({})).await;
    a.body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn streams_hear_their_own_tenant_and_kinds_and_end_with_a_closing_result() {
    let server = server();
    let admin = server.endpoint();
    let (alpha_id, alpha) = tenant(&admin, "alpha").await;
    let (beta_id, beta) = tenant(&admin, "beta").await;

    let mut alpha_tools = listen(&alpha, 101, json!({"toolsListChanged": true})).await;
    let mut alpha_prompts =
        listen(&alpha, 102, json!({"promptsListChanged": true, "resourceSubscriptions": ["x"]})).await;
    let mut beta_tools = listen(&beta, 103, json!({"toolsListChanged": true})).await;
    for (stream, id, honoured) in [
        (&mut alpha_tools, 101, json!({"toolsListChanged": true})),
        (&mut alpha_prompts, 102, json!({})),
        (&mut beta_tools, 103, json!({"toolsListChanged": true})),
    ] {
        let ack = stream.next().await.expect("an acknowledgment");
        assert_eq!(ack["method"], "notifications/subscriptions/acknowledged", "{ack}");
        assert_eq!(subscription_id(&ack), json!(id));
        assert_eq!(ack["params"]["notifications"], honoured, "only what the server honours");
    }

    // Alpha drops to free (no key_rotation): alpha's tool stream is told, and its list shrinks.
    assert!(tool_names(&alpha).await.contains(&"key.rotate".to_owned()));
    ok(&admin, "plan.set", json!({"tenant_id": alpha_id, "plan": "free"})).await;
    let note = alpha_tools.next().await.expect("alpha hears its change");
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    assert_eq!(subscription_id(&note), json!(101));
    assert!(!tool_names(&alpha).await.contains(&"key.rotate".to_owned()), "the list really changed");

    // Then beta's change: the first thing beta's stream hears is beta's own event.
    ok(&admin, "plan.set", json!({"tenant_id": beta_id, "plan": "enterprise"})).await;
    let first = beta_tools.next().await.expect("beta hears its change");
    assert_eq!(first["method"], "notifications/tools/list_changed", "{first}");
    assert_eq!(subscription_id(&first), json!(103));

    // Shutdown ends every stream with its closing result; the prompts-only stream heard nothing before it.
    let stopper = tokio::task::spawn_blocking(move || server.stop());
    for (stream, id) in [(&mut alpha_tools, 101), (&mut alpha_prompts, 102), (&mut beta_tools, 103)] {
        let closing = stream.next().await.expect("a closing message");
        assert_eq!(closing["id"], id, "the next message is the closing result: {closing}");
        assert_eq!(closing["result"]["resultType"], "complete");
        assert_eq!(subscription_id(&closing), json!(id));
        assert!(stream.next().await.is_none(), "the stream ends after its closing result");
    }
    let (_dir, status) = stopper.await.expect("stop");
    assert!(status.success(), "graceful exit: {status:?}");
}

#[tokio::test]
async fn listening_needs_credentials_and_the_2026_protocol() {
    let server = server();
    let anonymous = server.endpoint().with_key(None);
    let params = json!({"notifications": {"toolsListChanged": true}, "_meta": modern_meta()});
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "subscriptions/listen")];
    let refused = post(&anonymous, &headers, &request(1, "subscriptions/listen", params).to_string()).await;
    assert_eq!((refused.status, error_code(&refused.body)), (401, Some(-31401)), "{:?}", refused.body);
    let session = legacy_session(&server.endpoint(), "2025-11-25").await;
    let legacy = legacy_call(&server.endpoint(), &session, 2, "subscriptions/listen", json!({})).await;
    assert_eq!(error_code(&legacy.body), Some(-32601), "{:?}", legacy.body);
}

#[test]
fn a_stdio_stream_is_acknowledged_tagged_and_closed_with_a_result_and_a_cancellation() {
    let mut s = StdioServer::start(&["--conformance"]);
    let listen = json!({"notifications": {"toolsListChanged": true}, "_meta": modern_meta()});
    s.send(&request(9, "subscriptions/listen", listen));
    let ack = s.recv();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged", "{ack}");
    assert_eq!(subscription_id(&ack), json!(9));
    let done = s.tool(10, "test_trigger_tool_change", json!({}));
    assert!(tool_failure(&done).is_none(), "{done}");
    // The change was announced before the call's reply; `tool` skipped it, so ask again and read in order.
    s.send(&request(
        11,
        "tools/call",
        json!({"name": "test_trigger_tool_change", "arguments": {}, "_meta": modern_meta()}),
    ));
    let note = s.recv();
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    assert_eq!(subscription_id(&note), json!(9));
    assert_eq!(s.recv()["id"], 11);
    // End of input: the stream's closing result, then the server's cancellation of it.
    let rest = s.finish_and_drain();
    let closing = rest.iter().position(|m| m["id"] == 9).expect("a closing result");
    assert_eq!(rest[closing]["result"]["resultType"], "complete");
    assert_eq!(subscription_id(&rest[closing]), json!(9));
    let cancelled = rest.iter().position(|m| m["method"] == "notifications/cancelled").expect("a cancellation");
    assert!(cancelled > closing, "the result comes first: {rest:?}");
    assert_eq!(rest[cancelled]["params"]["requestId"], 9);
}

#[tokio::test]
async fn listen_streams_can_never_take_every_connection() {
    let dir = DataDir::init();
    std::fs::write(
        dir.path.join("tollgate.toml"),
        "per_address_rps = 100000\nper_address_burst = 100000\nmax_connections = 6\n",
    )
    .expect("config");
    let server = HttpServer::start_in(dir, &[]);
    let admin = server.endpoint();
    let (_, acme) = tenant(&admin, "acme").await;
    // Half of the six connections may be listen streams; the fourth is refused at once.
    let mut held = Vec::new();
    for id in 1..=3 {
        let mut s = listen(&acme, id, json!({"toolsListChanged": true})).await;
        assert!(s.next().await.is_some(), "acknowledged");
        held.push(s);
    }
    let params = json!({"notifications": {"toolsListChanged": true}, "_meta": modern_meta()});
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "subscriptions/listen")];
    let refused = post(&acme, &headers, &request(4, "subscriptions/listen", params).to_string()).await;
    assert_eq!((refused.status, error_reason(&refused.body)), (429, Some("too_many_streams")), "{:?}", refused.body);
    // Everyone else is still served.
    assert!(tool_names(&admin).await.contains(&"whoami".to_owned()));
}

#[tokio::test]
async fn a_revoked_keys_stream_ends_and_the_others_go_on() {
    let server = server();
    let admin = server.endpoint();
    let (acme_id, acme) = tenant(&admin, "acme").await;
    let issued = ok(&acme, "key.issue", json!({"role": "viewer", "label": "dashboard"})).await;
    let viewer = acme.with_key(issued["api_key"].as_str());
    let mut doomed = listen(&viewer, 21, json!({"toolsListChanged": true})).await;
    let mut kept = listen(&acme, 22, json!({"toolsListChanged": true})).await;
    assert!(doomed.next().await.is_some() && kept.next().await.is_some(), "both acknowledged");
    ok(&acme, "key.revoke", json!({"key_id": issued["key_id"]})).await;
    // The revoked key's stream ends with its closing result; the admin's still hears events.
    let closing = doomed.next().await.expect("a closing message");
    assert_eq!((closing["id"].clone(), closing["result"]["resultType"].clone()), (json!(21), json!("complete")));
    assert!(doomed.next().await.is_none());
    ok(&admin, "plan.set", json!({"tenant_id": acme_id, "plan": "free"})).await;
    let note = kept.next().await.expect("the admin's stream goes on");
    assert_eq!(note["method"], "notifications/tools/list_changed");
}
