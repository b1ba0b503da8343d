//! Spoofs are classified as spoofs on every tool (issue 13, Done-when 4).
//!
//! In the multi-tenant edition every tenant-scoped tool takes an optional
//! `tenant_id`, and the tenant is bound before the arguments are validated:
//! another tenant's id is -31403 `tenant_mismatch`, one audit record with that
//! reason, and one more `tollgate_spoof_attempts_total`, whatever else the
//! arguments say; one's own id is accepted. The tools are enumerated from
//! `tools/list` (a tool is tenant-scoped when its input schema has a
//! `tenant_id`), so a new tool joins without editing this file. In the
//! single-tenant edition no tool takes a `tenant_id`: it is refused as an
//! unknown argument whose message names only what the client sent.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use system_tests::*;

/// Tools that act on no tenant (and so take no `tenant_id`). Any other tool
/// must take one: a new tool without it fails here until it is decided.
const NOT_TENANT_SCOPED: [&str; 6] =
    ["identity.redeem", "plan.catalog", "server.info", "tenant.bootstrap", "tenant.list", "whoami"];

/// The value of one sample line, e.g. `tollgate_spoof_attempts_total`.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

async fn spoofs_counted(metrics_url: &str) -> f64 {
    let text = client().get(metrics_url).send().await.expect("scrape").text().await.expect("body");
    sample(&text, "tollgate_spoof_attempts_total")
}

/// Every tool `tools/list` shows this caller (all pages), by name.
async fn listed(to: &Endpoint) -> Vec<Value> {
    let (mut tools, mut params) = (Vec::new(), json!({}));
    for page in 0.. {
        assert!(page < 20, "tools/list does not end");
        let a = modern_call(to, 90, "tools/list", params.clone()).await;
        let result = &a.body["result"];
        tools.extend(result["tools"].as_array().unwrap_or_else(|| panic!("tools/list: {:?}", a.body)).iter().cloned());
        match result["nextCursor"].as_str() {
            Some(c) => params = json!({"cursor": c}),
            None => break,
        }
    }
    tools
}

fn takes_tenant_id(tool: &Value) -> bool {
    tool["inputSchema"]["properties"].get("tenant_id").is_some()
}

fn name(tool: &Value) -> String {
    tool["name"].as_str().expect("name").to_owned()
}

#[tokio::test]
async fn a_foreign_tenant_id_is_a_spoof_on_every_tenant_scoped_tool_and_ones_own_is_accepted() {
    let env = [("TOLLGATE_TENANT_DELETE", "true")];
    let (server, log) = HttpServer::start_logged(DataDir::init(), &["--metrics-listen", "127.0.0.1:0"], &env);
    let seen = log.text();
    let metrics_url =
        seen.lines().find_map(|l| l.strip_prefix("metrics on ")).unwrap_or_else(|| panic!("{seen}")).to_owned();
    let platform = server.endpoint();
    let mut tenants = Vec::new();
    for slug in ["spoof-a", "spoof-b"] {
        let args = json!({"slug": slug, "display_name": slug, "plan": "enterprise"});
        let out = tool_output(&http_tool(&platform, 1, "tenant.bootstrap", args).await.body).expect("bootstrap");
        tenants.push((
            out["tenant_id"].as_str().expect("id").to_owned(),
            out["api_key"].as_str().expect("key").to_owned(),
        ));
    }
    let ((a, a_key), (b, _)) = (tenants[0].clone(), tenants[1].clone());
    let a_admin = platform.with_key(Some(&a_key));

    // The multi-tenant edition's tools, as the platform admin and A's admin see them.
    let mut tools: Vec<Value> = listed(&platform).await;
    tools.extend(listed(&a_admin).await);
    let scoped: BTreeSet<String> = tools.iter().filter(|t| takes_tenant_id(t)).map(name).collect();
    let unscoped: BTreeSet<String> = tools.iter().filter(|t| !takes_tenant_id(t)).map(name).collect();
    let expected: BTreeSet<String> = NOT_TENANT_SCOPED.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unscoped, expected, "every tenant-scoped tool takes a tenant_id in the multi-tenant edition");
    for must in ["key.list", "key.issue", "key.revoke_all", "tenant.get", "audit.verify", "tenant.delete"] {
        assert!(scoped.contains(must), "{must} is listed and takes a tenant_id: {scoped:?}");
    }

    // Another tenant's id: a spoof, whatever else the arguments say (none here).
    let before = spoofs_counted(&metrics_url).await;
    let a_records_before = audit_chain(&server.dir.path, &a).len();
    let mut wrong = Vec::new();
    for (i, tool) in scoped.iter().enumerate() {
        let r = http_tool(&a_admin, 100 + i as i64, tool, json!({"tenant_id": b})).await;
        let answer =
            (r.status, error_code(&r.body), error_reason(&r.body), r.body["error"]["data"]["tenant_id"].clone());
        if answer != (403, Some(-31403), Some("tenant_mismatch"), json!(b)) {
            wrong.push(format!("{tool}: HTTP {} {}", r.status, r.body));
        }
    }
    assert!(wrong.is_empty(), "a foreign tenant_id is not tenant_mismatch on:\n{}", wrong.join("\n"));
    let spoofs = spoofs_counted(&metrics_url).await - before;
    assert_eq!(spoofs, scoped.len() as f64, "every spoof is counted once");

    // One audit record per attempt, in A's chain, with that reason; none in B's.
    let records = audit_chain(&server.dir.path, &a);
    let new: Vec<&Value> = records[a_records_before..].iter().collect();
    assert_eq!(new.len(), scoped.len(), "one record per attempt: {new:#?}");
    for (record, tool) in new.iter().zip(&scoped) {
        assert_eq!(
            (record["tool"].as_str(), record["decision"].as_str()),
            (Some(tool.as_str()), Some("deny")),
            "{record}"
        );
        assert_eq!(record["reason"], "tenant_mismatch", "{record}");
    }
    assert!(audit_chain(&server.dir.path, &b).iter().all(|r| r["principal"] != a_key.split('_').nth(1).unwrap_or("")));

    // One's own id is accepted: whatever the answer, it is not a spoof.
    for (i, tool) in scoped.iter().enumerate() {
        let r = http_tool(&a_admin, 200 + i as i64, tool, json!({"tenant_id": a})).await;
        assert_ne!(error_reason(&r.body), Some("tenant_mismatch"), "{tool} with A's own tenant_id: {}", r.body);
    }
    assert_eq!(spoofs_counted(&metrics_url).await - before, spoofs, "naming one's own tenant is no spoof");
}

#[tokio::test]
async fn single_tenant_refuses_a_tenant_id_as_an_unknown_argument_on_every_tool() {
    let server = HttpServer::start(&[]);
    let platform = server.endpoint();
    let out = tool_output(
        &http_tool(&platform, 1, "tenant.bootstrap", json!({"slug": "spoof-other", "display_name": "Other"}))
            .await
            .body,
    )
    .expect("bootstrap");
    let other = out["tenant_id"].as_str().expect("id").to_owned();
    let (dir, status) = server.stop();
    assert!(status.success(), "{status:?}");

    let (server, _log) = HttpServer::start_logged(dir, &[], &[("TOLLGATE_MULTI_TENANT", "false")]);
    let admin = server.endpoint();
    let tools = listed(&admin).await;
    assert!(tools.len() > 5, "{tools:?}");
    let mut wrong = Vec::new();
    for (i, tool) in tools.iter().map(name).enumerate() {
        let r = http_tool(&admin, 10 + i as i64, &tool, json!({"tenant_id": other})).await;
        let failure = tool_failure(&r.body).unwrap_or_default();
        let answer = (failure["code"].clone(), failure["field"].clone(), failure["message"].clone());
        if answer != (json!("invalid_arguments"), json!("/tenant_id"), json!("unknown argument `tenant_id`")) {
            wrong.push(format!("{tool}: HTTP {} {}", r.status, r.body));
        }
        // Nothing else in the answer speaks of tenants.
        let text = r.body.to_string().replace("tenant_id", "");
        if text.to_lowercase().contains("tenant") {
            wrong.push(format!("{tool}: the answer says tenant: {}", r.body));
        }
    }
    assert!(wrong.is_empty(), "single-tenant answers to a tenant_id:\n{}", wrong.join("\n"));
}
