//! A transactional tool that stops to ask the client keeps no effect, even if
//! it swallows the stop and reports success: the round answers
//! `input_required`, and whatever the tool wrote in that round is rolled back.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tollgate::clock::Clock;
use tollgate::config::Config;
use tollgate::identity::Credential;
use tollgate::server::call::Governance;
use tollgate::store::{Store, StoreOptions, datadir};
use tollgate::tools::ToolOutcome;
use tollgate::tools::ask::Question;
use tollgate::tools::context::{AskVia, CallContext, Retry};
use tollgate::tools::registry::{Handler, Registry, ToolSpec};
use tollgate::wire::{Era, TransportKind};

fn context(key: &str, ask_via: AskVia) -> CallContext {
    let caps: Map<String, Value> = json!({"elicitation": {}}).as_object().cloned().unwrap_or_default();
    CallContext {
        era: Era::Modern,
        protocol_version: "2026-07-28".into(),
        transport: TransportKind::Http,
        client_capabilities: caps,
        log_level: None,
        progress_token: None,
        sink: None,
        request_id: "r1".into(),
        credential: Credential::Bearer(key.into()),
        session_principal: None,
        idempotency_key: None,
        rpc_id: json!(1),
        ask_via,
        retry: Retry::default(),
    }
}

#[tokio::test]
async fn a_tool_that_swallows_its_question_keeps_no_effect() {
    let dir = std::env::temp_dir().join(format!("tollgate-ask-{}", tollgate::audit::new_request_id()));
    let init = datadir::init(&dir, Clock::system()).expect("init");
    let store = Store::open(&dir, Clock::system(), StoreOptions::default()).expect("open");
    let mut registry = Registry::default();
    let careless = Handler::Transactional(Arc::new(|_, cx, w| {
        let hold =
            tollgate::store::lifecycle::LegalHold { reason: "r".into(), set_at: "now".into(), principal: "p".into() };
        let wrote = tollgate::store::lifecycle::set_legal_hold(w.conn, "t_x", &hold);
        // Asks, ignores that it must stop, and claims success.
        let _ = cx.input.ask(vec![("confirm", Question::confirm("Sure?"))], Value::Null);
        match wrote {
            Ok(_) => ToolOutcome::structured(json!({"done": true})),
            Err(e) => ToolOutcome::content(vec![json!({"type": "text", "text": e.to_string()})]),
        }
    }));
    registry.add_raw(ToolSpec::open("careless", 1, "careless", "d"), json!({"type": "object"}), careless).expect("add");
    let gov = Governance::new(Arc::clone(&store), Clock::system(), Config::default(), Arc::new(registry))
        .expect("governance");

    let result = gov
        .call_tool("careless".into(), json!({}), Arc::new(context(&init.api_key, gov.sealed_asker())))
        .await
        .expect("call");
    assert_eq!(result["resultType"], "input_required", "{result}");
    let hold = store.read(|c| tollgate::store::lifecycle::legal_hold(c, "t_x")).expect("read");
    assert_eq!(hold, None, "the asking round's write was rolled back");
    store.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
