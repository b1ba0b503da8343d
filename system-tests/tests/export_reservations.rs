//! Replay and quota are decided before any work (issue 13): an export writes
//! its package only once a reservation (a pending idempotency entry and quota
//! holds) is committed, so a replayed, duplicate or over-quota export builds
//! nothing, and no reservation outlives the server.

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

fn count(dir: &std::path::Path, sql: &str) -> u64 {
    sqlite_lines(&database(dir), sql).first().and_then(|l| l.parse().ok()).unwrap_or(0)
}

fn reservations_left(dir: &std::path::Path) -> u64 {
    count(dir, "SELECT (SELECT COUNT(*) FROM idempotency_pending) + (SELECT COUNT(*) FROM quota_holds)")
}

/// The package id an export answered, or `None` for a duplicate refused as still in progress.
fn exported(a: &Answer) -> Option<String> {
    if let Some(out) = tool_output(&a.body) {
        return Some(out["package_id"].as_str().expect("package_id").to_owned());
    }
    let failure = tool_failure(&a.body).unwrap_or_else(|| panic!("neither a package nor a tool failure: {:?}", a.body));
    assert_eq!(failure["code"], "in_progress", "{failure}");
    None
}

#[tokio::test]
async fn exports_with_one_idempotency_key_build_one_package() {
    let a = activity().await;
    let to = &a.acme_auditor;
    let (first, second) = tokio::join!(
        http_tool_keyed(to, 1, "audit.export_package", json!({}), "export-once"),
        http_tool_keyed(to, 2, "audit.export_package", json!({}), "export-once"),
    );
    // Later retries (after more records were written) are replays of the first.
    let third = http_tool_keyed(to, 3, "audit.export_package", json!({}), "export-once").await;
    let fourth = http_tool_keyed(to, 4, "audit.export_package", json!({}), "export-once").await;
    let ids: Vec<String> = [&first, &second, &third, &fourth].into_iter().filter_map(exported).collect();
    assert!(ids.len() >= 3, "only a concurrent duplicate may be refused: {ids:?}");
    assert!(ids.iter().all(|id| *id == ids[0]), "every answer names the one package: {ids:?}");
    assert_eq!(kept_packages(&a.server.dir.path), vec![ids[0].clone()], "one package on disk");
    let dir = &a.server.dir.path;
    let acme = &a.acme;
    let charged = count(
        dir,
        &format!("SELECT SUM(quantity) FROM usage_events WHERE tenant_id = '{acme}' AND counter = 'audit_exports'"),
    );
    assert_eq!(charged, 1, "charged once");
    let records = audit_chain(dir, acme);
    let exports: Vec<&Value> = records.iter().filter(|r| r["tool"] == "audit.export_package").collect();
    assert_eq!(exports.len(), 4, "one record per call: {exports:?}");
    let reasons: Vec<&Value> = exports.iter().map(|r| &r["reason"]).collect();
    assert_eq!(exports.iter().filter(|r| r["reason"].is_null()).count(), 1, "{reasons:?}");
    assert!(
        exports
            .iter()
            .filter(|r| !r["reason"].is_null())
            .all(|r| r["reason"] == "idempotent_replay" || (r["reason"] == "in_progress" && r["decision"] == "deny")),
        "{reasons:?}"
    );
    assert_eq!(reservations_left(dir), 0, "every reservation was released with its call");
}

#[tokio::test]
async fn an_export_over_the_tool_calls_quota_builds_nothing() {
    let a = activity().await;
    let admin = a.server.endpoint();
    let limited =
        http_tool(&admin, 1, "plan.set", json!({"tenant_id": a.acme, "plan": "pro", "limits": {"tool_calls": 1}}))
            .await;
    assert!(tool_output(&limited.body).is_some(), "{:?}", limited.body);
    let r = http_tool(&a.acme_auditor, 2, "audit.export_package", json!({})).await;
    assert_eq!((r.status, error_reason(&r.body)), (402, Some("quota_exceeded")), "{:?}", r.body);
    assert_eq!(r.body["error"]["data"]["counter"], "tool_calls");
    let r = http_tool_keyed(&a.acme_auditor, 3, "audit.export_package", json!({}), "over-quota").await;
    assert_eq!(error_reason(&r.body), Some("quota_exceeded"), "{:?}", r.body);
    assert_eq!(kept_packages(&a.server.dir.path), Vec::<String>::new(), "no package on disk");
    let denials = audit_chain(&a.server.dir.path, &a.acme)
        .into_iter()
        .filter(|r| r["tool"] == "audit.export_package" && r["reason"] == "quota_exceeded")
        .count();
    assert_eq!(denials, 2, "each refusal is audited");
    assert_eq!(reservations_left(&a.server.dir.path), 0);
}

#[tokio::test]
async fn concurrent_exports_never_admit_more_than_the_quota() {
    let a = activity().await;
    let admin = a.server.endpoint();
    let limited =
        http_tool(&admin, 1, "plan.set", json!({"tenant_id": a.acme, "plan": "pro", "limits": {"audit_exports": 1}}))
            .await;
    assert!(tool_output(&limited.body).is_some(), "{:?}", limited.body);
    let to = &a.acme_auditor;
    let (x, y, z) = tokio::join!(
        http_tool(to, 2, "audit.export_package", json!({})),
        http_tool(to, 3, "audit.export_package", json!({"to_seq": 3})),
        http_tool(to, 4, "audit.export_package", json!({"to_seq": 5})),
    );
    let admitted: Vec<&Answer> = [&x, &y, &z].into_iter().filter(|r| tool_output(&r.body).is_some()).collect();
    assert_eq!(admitted.len(), 1, "{:?} {:?} {:?}", x.body, y.body, z.body);
    // A third export while two run may be refused for the tenant's heavy-call
    // limit before its quota is even looked at; either way it builds nothing.
    for r in [&x, &y, &z].into_iter().filter(|r| tool_output(&r.body).is_none()) {
        let reason = error_reason(&r.body);
        assert!(matches!(reason, Some("quota_exceeded" | "too_many_heavy_calls")), "{:?}", r.body);
    }
    assert_eq!(kept_packages(&a.server.dir.path).len(), 1, "only the admitted export built a package");
    assert_eq!(reservations_left(&a.server.dir.path), 0);
}
