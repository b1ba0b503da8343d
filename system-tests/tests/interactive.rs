//! Interactive tools (issue 6) through the binary: the same confirmation
//! (`key.revoke_all`) answered through `input_required` (2026-07-28, HTTP and
//! stdio) and through `elicitation/create` (2025, HTTP and stdio); declining,
//! a missing response, a tampered, expired, replayed or foreign state; a
//! client without the capability; reduced input requests. Time moves through
//! the server's `--clock-file`, never by sleeping.

use serde_json::{Value, json};
use system_tests::*;

const T0: &str = "2030-03-01T10:00:00Z";
const ELICIT: &str = r#"{"elicitation": {}}"#;

fn caps(json: &str) -> Value {
    serde_json::from_str(json).expect("capabilities JSON")
}

/// A server with a clock file and limits that stay out of the way.
fn server(extra: &[&str]) -> (HttpServer, std::path::PathBuf) {
    let dir = DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    let clock = dir.path.join("clock");
    std::fs::write(&clock, T0).expect("clock");
    let clock_arg = clock.to_string_lossy().into_owned();
    let mut args = vec!["--clock-file", clock_arg.as_str()];
    args.extend_from_slice(extra);
    (HttpServer::start_in(dir, &args), clock)
}

/// A 2026-07-28 `tools/call` with these client capabilities and retry fields.
async fn call(ep: &Endpoint, name: &str, arguments: Value, capabilities: Value, retry: Value) -> Answer {
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/clientCapabilities"] = capabilities;
    let mut params = json!({"name": name, "arguments": arguments, "_meta": meta});
    if let (Some(p), Some(r)) = (params.as_object_mut(), retry.as_object()) {
        p.extend(r.clone());
    }
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", name)];
    post(ep, &headers, &request(7, "tools/call", params).to_string()).await
}

async fn ok(ep: &Endpoint, name: &str, arguments: Value) -> Value {
    let a = call(ep, name, arguments, json!({}), json!({})).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    tool_output(&a.body).unwrap_or_else(|| panic!("{name} failed: {:?}", a.body))
}

/// A tenant with its admin's endpoint and two more active keys.
async fn tenant_with_keys(admin: &Endpoint, slug: &str) -> (Endpoint, Vec<String>) {
    let boot = ok(admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": "pro"})).await;
    let owner = admin.with_key(boot["api_key"].as_str());
    let mut ids = Vec::new();
    for label in ["ci", "batch"] {
        ids.push(
            ok(&owner, "key.issue", json!({"role": "viewer", "label": label})).await["key_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    ids.sort();
    (owner, ids)
}

fn accept() -> Value {
    json!({"confirm": {"action": "accept", "content": {"confirm": true}}})
}

/// The `input_required` result of a first round: its state, after checking its shape.
fn asked(a: &Answer, keys: &[String]) -> String {
    assert_eq!(a.status, 200, "{:?}", a.body);
    let result = &a.body["result"];
    assert_eq!(result["resultType"], "input_required", "{result}");
    let confirm = &result["inputRequests"]["confirm"];
    assert_eq!(confirm["method"], "elicitation/create");
    let message = confirm["params"]["message"].as_str().expect("message");
    for k in keys {
        assert!(message.contains(k.as_str()), "the question names key {k}: {message}");
    }
    assert_eq!(confirm["params"]["requestedSchema"]["required"], json!(["confirm"]));
    result["requestState"].as_str().expect("requestState").to_owned()
}

async fn active_keys(owner: &Endpoint) -> Vec<String> {
    let list = ok(owner, "key.list", json!({})).await;
    let mut ids: Vec<String> = list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["status"] == "active")
        .map(|k| k["key_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_modern_client_confirms_over_http_and_every_bad_state_is_refused() {
    let (server, clock) = server(&[]);
    let admin = server.endpoint();
    let (owner, keys) = tenant_with_keys(&admin, "acme").await;
    let before = active_keys(&owner).await;
    let tool = "key.revoke_all";

    // Round 1 asks, names the keys, and changes nothing.
    let state = asked(&call(&owner, tool, json!({}), caps(ELICIT), json!({})).await, &keys);
    assert_eq!(active_keys(&owner).await, before);

    // No answer with the state: asked again, with a new state.
    let again = call(&owner, tool, json!({}), caps(ELICIT), json!({"requestState": state})).await;
    let state2 = asked(&again, &keys);
    assert_ne!(state2, state);

    // Declined: a tool failure, nothing revoked.
    let decline = json!({"confirm": {"action": "decline"}});
    let declined =
        call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": decline, "requestState": state2})).await;
    assert_eq!(tool_failure(&declined.body).map(|f| f["code"].clone()), Some(json!("declined")), "{:?}", declined.body);
    assert_eq!(active_keys(&owner).await, before);

    // Replayed (state2 was used), tampered, foreign (another tool, other arguments): JSON-RPC errors.
    let replay =
        call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": state2})).await;
    assert_eq!((replay.status, error_reason(&replay.body)), (400, Some("request_state_replayed")), "{:?}", replay.body);
    let fresh = asked(&call(&owner, tool, json!({}), caps(ELICIT), json!({})).await, &keys);
    let tampered = format!("{fresh}x");
    let t = call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": tampered}))
        .await;
    assert_eq!((t.status, error_reason(&t.body)), (400, Some("request_state_invalid")), "{:?}", t.body);
    let other_tool = call(&owner, "whoami", json!({}), caps(ELICIT), json!({"requestState": fresh})).await;
    assert_eq!(error_reason(&other_tool.body), Some("request_state_foreign"), "{:?}", other_tool.body);
    let other_args = json!({"keep_caller": false});
    let o =
        call(&owner, tool, other_args, caps(ELICIT), json!({"inputResponses": accept(), "requestState": fresh})).await;
    assert_eq!(error_reason(&o.body), Some("request_state_foreign"), "{:?}", o.body);
    // Another principal presenting the state.
    let stranger =
        call(&admin, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": fresh})).await;
    assert_eq!(error_reason(&stranger.body), Some("request_state_foreign"), "{:?}", stranger.body);

    // Expired: the clock moves past the state's ten minutes.
    std::fs::write(&clock, "2030-03-01T10:10:01Z").expect("clock");
    let e =
        call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": fresh})).await;
    assert_eq!((e.status, error_reason(&e.body)), (400, Some("request_state_expired")), "{:?}", e.body);
    // A made-up confirmation without any state does not count: it is asked.
    let forged = call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept()})).await;
    let state3 = asked(&forged, &keys);

    // The key set changes after the question: the old confirmation is not enough.
    ok(&owner, "key.issue", json!({"role": "viewer", "label": "late"})).await;
    let changed =
        call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": state3})).await;
    let state4 = asked(&changed, &keys);
    assert_eq!(active_keys(&owner).await.len(), before.len() + 1, "nothing revoked yet");

    // Confirmed: every other key is revoked, the caller's stays.
    let done =
        call(&owner, tool, json!({}), caps(ELICIT), json!({"inputResponses": accept(), "requestState": state4})).await;
    let out = tool_output(&done.body).unwrap_or_else(|| panic!("{:?}", done.body));
    assert_eq!(out["revoked"].as_array().map(Vec::len), Some(3), "{out}");
    assert_eq!(active_keys(&owner).await.len(), 1, "only the caller's key is left");
    assert_eq!(done.body["result"]["resultType"], "complete");

    // Every round and every refusal is in the tenant's chain.
    let tenant = sqlite_lines(&database(&server.dir.path), "SELECT id FROM tenants WHERE slug = 'acme'");
    let reasons: Vec<String> = audit_chain(&server.dir.path, tenant[0].trim())
        .iter()
        .filter(|r| r["tool"] == tool)
        .map(|r| r["reason"].as_str().unwrap_or("ok").to_owned())
        .collect();
    for expected in [
        "input_required",
        "declined",
        "request_state_replayed",
        "request_state_invalid",
        "request_state_foreign",
        "request_state_expired",
        "ok",
    ] {
        assert!(reasons.iter().any(|r| r == expected), "no {expected} record in {reasons:?}");
    }
}

#[tokio::test]
async fn without_the_capability_the_call_cannot_proceed_or_asks_less() {
    let (server, _clock) = server(&["--conformance"]);
    let admin = server.endpoint();
    let (owner, _keys) = tenant_with_keys(&admin, "acme").await;
    let before = active_keys(&owner).await;
    // key.revoke_all can only ask by elicitation: -32021, HTTP 400, JSON (no stream started).
    let a = call(&owner, "key.revoke_all", json!({}), json!({"sampling": {}}), json!({})).await;
    assert_eq!(a.status, 400, "{:?}", a.body);
    assert!(a.events.is_empty(), "decided before any stream");
    assert_eq!(error_code(&a.body), Some(-32021));
    assert_eq!(a.body["error"]["data"]["requiredCapabilities"], json!({"elicitation": {}}));
    assert_eq!(active_keys(&owner).await, before);
    // A tool that can go on with what the client has asks only that.
    let fixture = "test_input_required_result_capabilities";
    let reduced = call(&admin, fixture, json!({}), json!({"sampling": {}}), json!({})).await;
    let requests = reduced.body["result"]["inputRequests"].as_object().cloned().unwrap_or_default();
    assert_eq!(requests.keys().collect::<Vec<_>>(), ["greeting"], "{:?}", reduced.body);
    let none = call(&admin, fixture, json!({}), json!({}), json!({})).await;
    assert_eq!((none.status, error_code(&none.body)), (400, Some(-32021)));
    assert_eq!(none.body["error"]["data"]["requiredCapabilities"], json!({"elicitation": {}, "sampling": {}}));
}

/// A 2025 session that declared elicitation.
async fn elicit_session(ep: &Endpoint, capabilities: Value) -> String {
    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let a = post(ep, &[], &init.to_string()).await;
    let id = a.headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("session").to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert_eq!(post(ep, &[("mcp-session-id", &id)], &note).await.status, 202);
    id
}

/// A 2025 `tools/call` whose questions are answered by `answer`; returns the questions and the result.
async fn legacy_exchange(ep: &Endpoint, session: &str, name: &str, answer: Value) -> (Vec<Value>, Value) {
    let body = request(3, "tools/call", json!({"name": name, "arguments": {}})).to_string();
    let mut stream = SseStream::open(ep, &[("mcp-session-id", session)], &body).await;
    let mut questions = Vec::new();
    while let Some(message) = stream.next().await {
        if message.get("method").is_some() && message.get("id").is_some() {
            let reply = json!({"jsonrpc": "2.0", "id": message["id"], "result": answer});
            assert_eq!(post(ep, &[("mcp-session-id", session)], &reply.to_string()).await.status, 202);
            questions.push(message);
        } else if message.get("id") == Some(&json!(3)) {
            return (questions, message);
        }
    }
    panic!("the exchange ended without a result")
}

#[tokio::test]
async fn a_legacy_client_confirms_over_http_by_elicitation() {
    let (server, _clock) = server(&[]);
    let admin = server.endpoint();
    let (owner, keys) = tenant_with_keys(&admin, "acme").await;
    let session = elicit_session(&owner, json!({"elicitation": {}})).await;
    let (questions, declined) = legacy_exchange(&owner, &session, "key.revoke_all", json!({"action": "decline"})).await;
    assert_eq!(questions.len(), 1);
    assert_eq!(questions[0]["method"], "elicitation/create");
    assert!(questions[0]["params"]["message"].as_str().is_some_and(|m| keys.iter().all(|k| m.contains(k.as_str()))));
    assert_eq!(tool_failure(&declined).map(|f| f["code"].clone()), Some(json!("declined")), "{declined}");
    assert!(declined["result"].get("resultType").is_none(), "no 2026 fields in a 2025 result");
    assert_eq!(active_keys(&owner).await.len(), 3);
    let (_, done) =
        legacy_exchange(&owner, &session, "key.revoke_all", json!({"action": "accept", "content": {"confirm": true}}))
            .await;
    assert_eq!(tool_output(&done).map(|o| o["revoked"].clone()), Some(json!(keys)), "{done}");
    // A malformed answer is a protocol error, not a confirmation.
    ok(&owner, "key.issue", json!({"role": "viewer", "label": "again"})).await;
    let (_, bad) =
        legacy_exchange(&owner, &session, "key.revoke_all", json!({"action": "accept", "content": {"confirm": "yes"}}))
            .await;
    assert_eq!(error_code(&bad), Some(-32602), "{bad}");
    assert_eq!(active_keys(&owner).await.len(), 2);
    // A session without the capability gets the tool's failure, never input_required.
    let plain = elicit_session(&owner, json!({})).await;
    let a = post(
        &owner,
        &[("mcp-session-id", &plain)],
        &request(4, "tools/call", json!({"name": "key.revoke_all", "arguments": {}})).to_string(),
    )
    .await;
    assert_eq!(
        tool_failure(&a.body).map(|f| f["code"].clone()),
        Some(json!("client_capability_missing")),
        "{:?}",
        a.body
    );
}

fn stdio_init(s: &mut StdioServer, capabilities: Value) {
    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": capabilities, "clientInfo": {"name": "t", "version": "1"}}),
    );
    assert!(s.call(&init).get("result").is_some());
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
}

#[test]
fn the_same_confirmation_over_stdio_in_both_eras() {
    let mut s = StdioServer::start(&[]);
    // Platform scope: the admin's key stays, the other platform keys go.
    let issue = |s: &mut StdioServer, id| {
        let r = s.tool(id, "key.issue", json!({"role": "platform_admin", "label": format!("ops-{id}")}));
        tool_output(&r).expect("issued")["key_id"].as_str().expect("id").to_owned()
    };
    let first = issue(&mut s, 1);

    // 2026-07-28: input_required, then the retry with the answer and the state.
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/clientCapabilities"] = caps(ELICIT);
    let ask = s.call(&request(2, "tools/call", json!({"name": "key.revoke_all", "arguments": {}, "_meta": meta})));
    assert_eq!(ask["result"]["resultType"], "input_required", "{ask}");
    let state = ask["result"]["requestState"].clone();
    let retry = json!({"name": "key.revoke_all", "arguments": {}, "_meta": meta, "inputResponses": accept(), "requestState": state});
    let done = s.call(&request(3, "tools/call", retry.clone()));
    assert_eq!(tool_output(&done).map(|o| o["revoked"].clone()), Some(json!([first])), "{done}");
    let replayed = s.call(&request(4, "tools/call", retry));
    assert_eq!(error_reason(&replayed), Some("request_state_replayed"), "{replayed}");

    // 2025: the server asks with elicitation/create on stdout; the answer comes back on stdin.
    let second = issue(&mut s, 5);
    stdio_init(&mut s, json!({"elicitation": {}}));
    s.send(&request(6, "tools/call", json!({"name": "key.revoke_all", "arguments": {}})));
    let question = s.recv();
    assert_eq!(question["method"], "elicitation/create", "{question}");
    assert!(question["params"]["message"].as_str().is_some_and(|m| m.contains(second.as_str())));
    s.send(
        &json!({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"confirm": true}}}),
    );
    let result = s.recv();
    assert_eq!(result["id"], 6);
    assert_eq!(tool_output(&result).map(|o| o["revoked"].clone()), Some(json!([second])), "{result}");
    assert!(s.finish().success());
}

#[tokio::test]
async fn only_the_sessions_own_principal_can_answer_its_questions() {
    let (server, _clock) = server(&[]);
    let admin = server.endpoint();
    let (owner, keys) = tenant_with_keys(&admin, "acme").await;
    let session = elicit_session(&owner, json!({"elicitation": {}})).await;
    let body = request(3, "tools/call", json!({"name": "key.revoke_all", "arguments": {}})).to_string();
    let mut stream = SseStream::open(&owner, &[("mcp-session-id", &session)], &body).await;
    let question = stream.next().await.expect("a question");
    assert_eq!(question["method"], "elicitation/create");
    let id = question["id"].as_str().expect("a string id");
    assert!(id.len() > 20, "question ids are not guessable: {id}");
    let yes =
        json!({"jsonrpc": "2.0", "id": id, "result": {"action": "accept", "content": {"confirm": true}}}).to_string();
    let headers = [("mcp-session-id", session.as_str())];
    // Without credentials, and as another principal: refused, and the question stays open.
    let anonymous = post(&owner.with_key(None), &headers, &yes).await;
    assert_eq!(anonymous.status, 401, "{:?}", anonymous.body);
    let stranger = post(&admin, &headers, &yes).await;
    assert_eq!(stranger.status, 404, "another principal is told the session does not exist");
    assert_eq!(active_keys(&owner).await.len(), 3, "nothing revoked by their answers");
    // The owner's answer counts.
    assert_eq!(post(&owner, &headers, &yes).await.status, 202);
    let result = stream.next().await.expect("the result");
    assert_eq!(tool_output(&result).map(|o| o["revoked"].clone()), Some(json!(keys)), "{result}");
}
