//! Structured logs (issue 9): with `RUST_LOG_FORMAT=json` every governed call
//! logs one JSON line whose `request_id` is the one its audit record carries;
//! no log line holds a secret or a raw argument.

use serde_json::{Value, json};
use system_tests::*;

#[tokio::test]
async fn json_logs_carry_the_audit_request_id_and_no_secret_or_argument() {
    let env = [("RUST_LOG", "info"), ("RUST_LOG_FORMAT", "json")];
    let (server, log) = HttpServer::start_logged(DataDir::init(), &[], &env);
    let admin = server.endpoint();
    let marker = "label-that-must-not-be-logged-7f3a";
    let boot = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "logs-a", "display_name": marker})).await;
    let secret = tool_output(&boot.body).expect("bootstrap")["api_key"].as_str().expect("key").to_owned();
    let issued =
        http_tool(&admin.with_key(Some(&secret)), 2, "key.issue", json!({"role": "viewer", "label": marker})).await;
    let second = tool_output(&issued.body).expect("issue")["api_key"].as_str().expect("key").to_owned();
    let (dir, status) = server.stop();
    assert!(status.success());
    let text = log.finish();

    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let calls: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "tools/call").collect();
    assert_eq!(calls.len(), 2, "one line per call:\n{text}");
    let records = audit_records(&dir.path);
    for call in &calls {
        let id = call["fields"]["request_id"].as_str().expect("request_id");
        assert_eq!(id.len(), 32);
        let audited = records.iter().find(|r| r["request_id"] == id);
        let audited = audited.unwrap_or_else(|| panic!("request {id} is not in the audit log"));
        assert_eq!(audited["tool"], call["fields"]["tool"]);
        assert_eq!(call["fields"]["decision"], "allow");
    }
    for needle in [marker, secret.as_str(), second.as_str(), &server_key(&dir)] {
        assert!(!text.contains(needle), "the logs contain {needle:?}");
    }
}

/// The platform admin's key (sent on every setup call).
fn server_key(dir: &DataDir) -> String {
    dir.admin_key.clone()
}
