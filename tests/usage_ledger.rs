//! `usage.report` equals the ledger, and the ledger equals what was admitted,
//! over random call sequences (property test through the in-process server).

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate::clock::Clock;
use tollgate::cmd::client::modern_meta;
use tollgate::config::Config;
use tollgate::identity::Credential;
use tollgate::protocol::endpoint::{McpServer, ServerOptions};
use tollgate::protocol::era::Route;
use tollgate::store::{Store, StoreOptions, datadir};
use tollgate::wire::TransportKind;
use tollgate::wire::jsonrpc::Request;

#[derive(Debug, Clone)]
enum Op {
    Whoami,
    IssueKey,
    BadArguments,
    UnknownTool,
    Report,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![Just(Op::Whoami), Just(Op::IssueKey), Just(Op::BadArguments), Just(Op::UnknownTool), Just(Op::Report)]
}

async fn call(server: &McpServer, key: &str, name: &str, arguments: Value) -> Result<Value, i32> {
    let mut params = serde_json::Map::new();
    params.insert("_meta".into(), modern_meta());
    params.insert("name".into(), json!(name));
    params.insert("arguments".into(), arguments);
    let req = Request { id: tollgate::wire::jsonrpc::Id::from_value(json!(1)), method: "tools/call".into(), params };
    let route = Route::Modern { headers: None };
    server.request(&req, &route, TransportKind::Http, None, Credential::Bearer(key.into())).await.map_err(|e| e.code)
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
    rt.block_on(async move {
        let dir = std::env::temp_dir().join(format!("tollgate-ledger-{}", tollgate::audit::new_request_id()));
        let init = datadir::init(&dir, Clock::system()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = Store::open(&dir, Clock::system(), StoreOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let server = McpServer::new(ServerOptions::default(), Arc::clone(&store), Config::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let boot = call(
            &server,
            &init.api_key,
            "tenant.bootstrap",
            json!({"slug": "acme", "display_name": "Acme", "plan": "pro"}),
        )
        .await
        .map_err(|c| TestCaseError::fail(format!("bootstrap: {c}")))?;
        let key = boot["structuredContent"]["api_key"].as_str().unwrap_or_default().to_owned();
        let tenant = boot["structuredContent"]["tenant_id"].as_str().unwrap_or_default().to_owned();
        let (mut tool_calls, mut keys_issued) = (0u64, 0u64);
        for op in ops {
            let outcome = match op {
                Op::Whoami => call(&server, &key, "whoami", json!({})).await,
                Op::IssueKey => call(&server, &key, "key.issue", json!({"role": "viewer", "label": "p"})).await,
                Op::BadArguments => call(&server, &key, "key.issue", json!({"role": "nobody"})).await,
                Op::UnknownTool => call(&server, &key, "no.such.tool", json!({})).await,
                Op::Report => call(&server, &key, "usage.report", json!({})).await,
            };
            // The model: every admitted call costs one tool_call; a successful key.issue one key.
            match (&op, &outcome) {
                (Op::BadArguments | Op::UnknownTool, _) => {}
                (_, Ok(result)) => {
                    tool_calls += 1;
                    if matches!(op, Op::IssueKey) && result["isError"] != json!(true) {
                        keys_issued += 1;
                    }
                }
                (_, Err(code)) => return Err(TestCaseError::fail(format!("{op:?} was denied: {code}"))),
            }
        }
        let report =
            call(&server, &key, "usage.report", json!({})).await.map_err(|c| TestCaseError::fail(c.to_string()))?;
        tool_calls += 1;
        let reported = |counter: &str| -> u64 {
            report["structuredContent"]["counters"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["counter"] == counter))
                .and_then(|c| c["used"].as_u64())
                .unwrap_or(u64::MAX)
        };
        let ledger = |counter: &'static str| {
            let tenant = tenant.clone();
            store.read(move |c| tollgate::store::billing::used(c, &tenant, counter, "0000", "9999")).unwrap_or(u64::MAX)
        };
        // The report is taken before its own call is charged.
        prop_assert_eq!(reported("tool_calls") + 1, ledger("tool_calls"));
        prop_assert_eq!(ledger("tool_calls"), tool_calls);
        prop_assert_eq!(reported("keys_issued"), ledger("keys_issued"));
        // The running totals quota checks read agree with the ledger.
        let period = tollgate::billing::period::containing(Clock::system().now()).name;
        for counter in ["tool_calls", "keys_issued"] {
            let (t, p) = (tenant.clone(), period.clone());
            let total = store.read(move |c| tollgate::store::billing::total(c, &t, counter, &p)).unwrap_or(u64::MAX);
            prop_assert_eq!(total, ledger(counter));
        }
        prop_assert_eq!(ledger("keys_issued"), keys_issued);
        store.shutdown();
        drop(server);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn usage_report_equals_the_ledger_over_random_call_sequences(ops in proptest::collection::vec(op(), 0..40)) {
        run(ops)?;
    }
}
