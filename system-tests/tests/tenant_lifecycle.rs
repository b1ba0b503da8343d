//! Tenant data lifecycle through the real binary (issue 8, done-when 4):
//! `tenant.export_data`, `tenant.legal_hold` and `tenant.delete` — refused
//! with -31403 `feature_disabled` while the flag is off; with it on,
//! plan-then-confirm, wrong, foreign, stale, expired and reused tokens
//! refused, a legal hold blocks, and afterwards the slug stays reserved and
//! the tenant's sealed audit chain still verifies with both verifiers.

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

async fn call(to: &Endpoint, name: &str, args: Value) -> Value {
    http_tool(to, 3, name, args).await.body
}

fn failure_message(body: &Value) -> String {
    tool_failure(body).unwrap_or_else(|| panic!("expected a tool failure: {body:?}"))["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn tenant_delete_is_refused_while_its_flag_is_off_and_the_refusal_is_audited() {
    let a = activity().await;
    let admin = a.server.endpoint();
    let listed = modern_call(&admin, 2, "tools/list", json!({})).await.body.to_string();
    assert!(!listed.contains("\"tenant.delete\""), "a tool its flag turns off is not listed");
    let body = call(&admin, "tenant.delete", json!({"tenant_id": a.acme})).await;
    assert_eq!(error_code(&body), Some(-31403), "{body:?}");
    assert_eq!(error_reason(&body), Some("feature_disabled"));
    assert_eq!(body["error"]["data"]["flag"], "tenant_delete");
    // Refused at resolution, before the tenant is bound: recorded on the platform's chain.
    let audited = audit_chain(&a.server.dir.path, "_system")
        .into_iter()
        .any(|r| r["tool"] == "tenant.delete" && r["decision"] == "deny" && r["reason"] == "feature_disabled");
    assert!(audited, "the refusal is audited");
    assert!(
        tool_output(&call(&admin, "tenant.get", json!({"tenant_id": a.acme})).await).is_some(),
        "nothing was deleted"
    );
}

#[tokio::test]
async fn export_data_then_plan_confirm_delete_with_tokens_legal_hold_and_tombstone() {
    let a = activity_with("tenant_delete = true\n").await;
    let admin = a.server.endpoint();
    let acme = a.acme.clone();

    // tenant.export_data: a deterministic artifact list, written as a package, metered.
    let r = http_tool(&a.acme_admin, 1, "tenant.export_data", json!({"tenant_id": acme})).await;
    let exported = tool_output(&r.body).unwrap_or_else(|| panic!("{:?}", r.body));
    let paths: Vec<&str> = exported["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(paths.contains(&"exports/keys.json") && paths.contains(&"audit/records.jsonl"), "{paths:?}");
    let (status, _) =
        download(&a.server.base, exported["package_id"].as_str().unwrap(), a.acme_admin.key.as_deref()).await;
    assert_eq!(status, 200);
    let r = http_tool(&a.acme_auditor, 1, "tenant.export_data", json!({"tenant_id": acme})).await;
    assert_eq!(error_reason(&r.body), Some("role_required"));

    // Plan: what goes, what stays, and a token.
    let planned = tool_output(&call(&admin, "tenant.delete", json!({"tenant_id": acme})).await).expect("plan");
    assert_eq!(planned["status"], "planned");
    assert!(planned["plan"]["removes"]["api_keys"].as_u64().unwrap() >= 3, "{planned}");
    assert!(planned["plan"]["retains"]["audit_records"].as_u64().unwrap() >= 10, "{planned}");
    let stale = planned["confirm_token"].as_str().unwrap().to_owned();

    // A wrong token, and a token issued for another tenant.
    let m = failure_message(
        &call(
            &admin,
            "tenant.delete",
            json!({"tenant_id": acme, "confirm_token": format!("tgdel_{}", "0".repeat(64))}),
        )
        .await,
    );
    assert!(m.starts_with("invalid_token"), "{m}");
    let globex = tool_output(&call(&admin, "tenant.list", json!({})).await).unwrap()["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "globex")
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .unwrap();
    let other = tool_output(&call(&admin, "tenant.delete", json!({"tenant_id": globex})).await).unwrap();
    let m = failure_message(
        &call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": other["confirm_token"]})).await,
    );
    assert!(m.starts_with("invalid_token"), "{m}");

    // The data changed since the plan: its token no longer confirms anything.
    http_tool(&a.acme_admin, 2, "key.issue", json!({"role": "viewer", "label": "after the plan"})).await;
    let m = failure_message(&call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": stale})).await);
    assert!(m.starts_with("plan_changed"), "{m}");

    // An expired token.
    let plan = tool_output(&call(&admin, "tenant.delete", json!({"tenant_id": acme})).await).unwrap();
    set_clock(&a.clock, "2030-01-15T12:20:00Z");
    let m = failure_message(
        &call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": plan["confirm_token"]})).await,
    );
    assert!(m.starts_with("token_expired"), "{m}");

    // A legal hold blocks both planning and confirming.
    let plan = tool_output(&call(&admin, "tenant.delete", json!({"tenant_id": acme})).await).unwrap();
    let token = plan["confirm_token"].as_str().unwrap().to_owned();
    let held =
        call(&admin, "tenant.legal_hold", json!({"tenant_id": acme, "hold": true, "reason": "case 2030-17"})).await;
    assert_eq!(tool_output(&held).unwrap()["legal_hold"]["reason"], "case 2030-17");
    let m = failure_message(&call(&admin, "tenant.delete", json!({"tenant_id": acme})).await);
    assert!(m.starts_with("legal_hold") && m.contains("case 2030-17"), "{m}");
    let m = failure_message(&call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": token})).await);
    assert!(m.starts_with("legal_hold"), "{m}");
    call(&admin, "tenant.legal_hold", json!({"tenant_id": acme, "hold": false})).await;

    // Confirmed: deleted, the chain sealed by this call's own record.
    let done = tool_output(&call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": token})).await)
        .unwrap_or_else(|| panic!("delete failed"));
    assert_eq!(done["status"], "deleted");
    let final_seq = done["final_seq"].as_u64().unwrap();
    // Its package waiting for download is gone with it, files and all.
    let package_id = exported["package_id"].as_str().unwrap();
    let (status, _) = download(&a.server.base, package_id, Some(&a.server.dir.admin_key)).await;
    assert_eq!(status, 404, "a deleted tenant's package is not served");
    let leftovers: Vec<_> = std::fs::read_dir(a.server.dir.path.join("packages"))
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(package_id)).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let chain = audit_chain(&a.server.dir.path, &acme);
    let last = chain.last().unwrap();
    assert_eq!(
        (last["seq"].as_u64(), &last["tool"], &last["decision"]),
        (Some(final_seq), &json!("tenant.delete"), &json!("allow"))
    );

    // The token cannot be used again; the tenant's keys are dead; the slug is reserved.
    assert!(
        tool_failure(&call(&admin, "tenant.delete", json!({"tenant_id": acme, "confirm_token": token})).await)
            .is_some()
    );
    let r = http_tool(&a.acme_admin, 4, "whoami", json!({})).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    let again = call(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme again"})).await;
    assert_eq!(tool_failure(&again).unwrap()["code"], "conflict", "{again:?}");
    assert!(tool_failure(&call(&admin, "tenant.get", json!({"tenant_id": acme})).await).is_some());
    let db = database(&a.server.dir.path);
    let left = |sql: &str| sqlite_lines(&db, &sql.replace("{t}", &acme))[0].clone();
    assert_eq!(left("SELECT COUNT(*) FROM api_keys WHERE tenant_id = '{t}'"), "0");
    assert_eq!(left("SELECT COUNT(*) FROM idempotency WHERE tenant_id = '{t}'"), "0");
    assert_ne!(left("SELECT COUNT(*) FROM usage_events WHERE tenant_id = '{t}'"), "0", "the ledger is kept");
    assert_eq!(chain.len() as u64, final_seq, "nothing was written after the seal");

    // The retained chain still verifies: live, and as a package with both verifiers.
    let dir = a.server.kill();
    let (code, out, err) = audit_verify(&dir.path, &["--tenant", &acme]);
    assert_eq!(code, Some(0), "{out}{err}");
    let scratch = Scratch::new("deleted");
    let (code, out, err) = export_offline(&dir.path, &acme, &scratch.join("pkg"), &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, fingerprint) = audit_pubkey(&dir.path);
    for v in verify_both(&scratch.join("pkg"), &["--fingerprint", &fingerprint], false) {
        assert_eq!(v.code, Some(0), "{}: {}{}", v.who, v.stdout, v.stderr);
    }
    let tenant: Value =
        serde_json::from_slice(&std::fs::read(scratch.join("pkg/exports/tenant.json")).unwrap()).unwrap();
    assert!(tenant["deleted_at"].is_string(), "{tenant}");
    assert_eq!(
        audit_chain(&dir.path, &acme).len() as u64,
        final_seq,
        "the offline export did not write to the sealed chain"
    );
}

/// A 2026-07-28 `tenant.delete` from a client that can answer elicitation.
async fn delete_asking(to: &Endpoint, tenant: &str, retry: Value) -> Value {
    let mut meta = modern_meta();
    meta["io.modelcontextprotocol/clientCapabilities"] = json!({"elicitation": {}});
    let mut params = json!({"name": "tenant.delete", "arguments": {"tenant_id": tenant}, "_meta": meta});
    if let (Some(p), Some(r)) = (params.as_object_mut(), retry.as_object()) {
        p.extend(r.clone());
    }
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "tenant.delete")];
    post(to, &headers, &request(5, "tools/call", params).to_string()).await.body
}

#[tokio::test]
async fn a_client_that_can_answer_elicitation_confirms_the_plan_instead_of_a_token() {
    let a = activity_with("tenant_delete = true\n").await;
    let admin = a.server.endpoint();
    let listed = modern_call(&admin, 2, "tools/list", json!({})).await.body.to_string();
    assert!(listed.contains("\"tenant.delete\""), "listed once its flag is on");
    // A flood window of acme's is still open when it is deleted (flushed only at shutdown).
    let slow = json!({"tenant_id": a.acme, "plan": "pro", "limits": {"rate_per_key": 1}});
    assert!(tool_output(&call(&admin, "plan.set", slow).await).is_some());
    for _ in 0..3 {
        call(&a.acme_admin, "whoami", json!({})).await;
    }
    let asked = delete_asking(&admin, &a.acme, json!({})).await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let question = asked["result"]["inputRequests"]["confirm"]["params"]["message"].as_str().unwrap_or_default();
    assert!(question.contains(&a.acme) && question.contains("Kept:") && question.contains("sha256:"), "{question}");
    let state = asked["result"]["requestState"].clone();
    // Declined: nothing is deleted.
    let no = json!({"confirm": {"action": "decline"}});
    let declined = delete_asking(&admin, &a.acme, json!({"inputResponses": no, "requestState": state})).await;
    assert_eq!(tool_failure(&declined).map(|f| f["code"].clone()), Some(json!("declined")), "{declined}");
    assert!(tool_output(&call(&admin, "tenant.get", json!({"tenant_id": a.acme})).await).is_some());
    // Asked again and accepted: deleted, the chain sealed, no token ever issued.
    let asked = delete_asking(&admin, &a.acme, json!({})).await;
    let yes = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    let retry = json!({"inputResponses": yes, "requestState": asked["result"]["requestState"]});
    let done = delete_asking(&admin, &a.acme, retry).await;
    let out = tool_output(&done).unwrap_or_else(|| panic!("{done}"));
    assert_eq!(out["status"], "deleted");
    assert!(out.get("confirm_token").is_none() && out["final_seq"].as_u64().is_some(), "{out}");
    assert!(tool_output(&call(&admin, "tenant.get", json!({"tenant_id": a.acme})).await).is_none(), "gone");
    // After the seal nothing lands in acme's chain: the late flood record goes to `_system`.
    let final_seq = out["final_seq"].as_u64().unwrap_or_default();
    let (dir, status) = a.server.stop();
    assert!(status.success());
    assert_eq!(audit_chain(&dir.path, &a.acme).len() as u64, final_seq, "nothing was written after the seal");
    let late = audit_chain(&dir.path, "_system")
        .into_iter()
        .any(|r| r["reason"] == "rate_limited" && r["tenant"] == a.acme.as_str());
    assert!(late, "the flood window of the deleted tenant is recorded on _system, naming it");
    for chain in [a.acme.as_str(), "_system"] {
        let (code, out, err) = audit_verify(&dir.path, &["--tenant", chain]);
        assert_eq!(code, Some(0), "{chain}: {out}{err}");
    }
}

#[tokio::test]
async fn a_new_tenant_exports_its_data_before_it_has_any_audit_record() {
    let server = HttpServer::start(&[]);
    let platform = server.endpoint();
    let boot = json!({"slug": "fresh", "display_name": "Fresh", "plan": "pro"});
    let boot = tool_output(&call(&platform, "tenant.bootstrap", boot).await).expect("tenant.bootstrap");
    let tenant = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    assert!(audit_chain(&server.dir.path, &tenant).is_empty(), "the new tenant's chain starts empty");

    // The export's own call opens the chain; the package covers that first record.
    let admin = platform.with_key(boot["api_key"].as_str());
    let body = call(&admin, "tenant.export_data", json!({"tenant_id": tenant})).await;
    let exported = tool_output(&body).unwrap_or_else(|| panic!("tenant.export_data: {body:?}"));
    assert_eq!(
        (&exported["from_seq"], &exported["to_seq"], &exported["record_count"]),
        (&json!(1), &json!(1), &json!(1))
    );
    let (status, tar) =
        download(&server.base, exported["package_id"].as_str().expect("id"), admin.key.as_deref()).await;
    assert_eq!(status, 200);
    let scratch = Scratch::new("fresh-export");
    let path = scratch.join("fresh.tar");
    std::fs::write(&path, tar).expect("write tar");
    let (_, fingerprint) = audit_pubkey(&server.dir.path);
    for v in verify_both(&path, &["--fingerprint", &fingerprint], false) {
        assert_eq!(v.code, Some(0), "{} refused it:\n{}{}", v.who, v.stdout, v.stderr);
    }

    // Two records of the one call, the opening one then its result (then the download's).
    let chain = audit_chain(&server.dir.path, &tenant);
    assert_eq!(chain.len(), 3, "{chain:?}");
    assert_eq!(chain[0]["reason"], "chain_opened", "{chain:?}");
    assert!(chain[..2].iter().all(|r| r["tool"] == "tenant.export_data" && r["decision"] == "allow"), "{chain:?}");
    assert_eq!(chain[2]["tool"], "package.download", "{chain:?}");
    assert_eq!(chain[0]["request_id"], chain[1]["request_id"], "{chain:?}");
    assert!(chain[1]["reason"].is_null() && chain[1]["result_digest"].is_string(), "{chain:?}");
}
