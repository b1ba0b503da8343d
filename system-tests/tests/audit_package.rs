//! The customer audit package through the real binary (issue 8): exported
//! over HTTP with `audit.export_package` and downloaded from
//! `GET /packages/{id}`, exported offline with `tollgate audit export`,
//! byte-identical when rebuilt, audited and metered, and verified by both
//! verifiers against a pinned key.

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

async fn export(to: &Endpoint, args: Value) -> Value {
    let r = http_tool(to, 7, "audit.export_package", args).await;
    tool_output(&r.body).unwrap_or_else(|| panic!("audit.export_package: {:?}", r.body))
}

fn count(dir: &std::path::Path, sql: &str) -> u64 {
    sqlite_lines(&database(dir), sql).first().and_then(|l| l.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn the_same_range_rebuilt_after_more_calls_is_byte_identical_online_and_offline() {
    let a = activity().await;
    let first = export(&a.acme_auditor, json!({})).await;
    let to_seq = first["to_seq"].as_u64().expect("to_seq");
    assert!(to_seq >= 10, "{first}");
    assert_eq!(first["download_url"], format!("/packages/{}", first["package_id"].as_str().unwrap()));
    let (status, tar1) =
        download(&a.server.base, first["package_id"].as_str().unwrap(), a.acme_auditor.key.as_deref()).await;
    assert_eq!(status, 200);
    assert_eq!(tar1.len() as u64, first["size"].as_u64().unwrap());

    // More calls, in a later second, then the same range again.
    set_clock(&a.clock, "2030-01-15T12:00:07Z");
    for i in 0..3 {
        http_tool(&a.acme_admin, 40 + i, "key.issue", json!({"role": "viewer", "label": format!("late{i}")})).await;
    }
    let second = export(&a.acme_admin, json!({"to_seq": to_seq})).await;
    assert_eq!(second["package_id"], first["package_id"]);
    assert_eq!(second["manifest_sha256"], first["manifest_sha256"]);
    let (_, tar2) = download(&a.server.base, second["package_id"].as_str().unwrap(), a.acme_admin.key.as_deref()).await;
    assert!(tar1 == tar2, "the rebuilt tar differs");
    let whole = export(&a.acme_admin, json!({})).await;
    assert!(whole["to_seq"].as_u64().unwrap() > to_seq, "the default range ends at the last record: {whole}");

    // An offline export is refused while the server holds the data dir.
    let scratch = Scratch::new("identical");
    let (code, _, err) = export_offline(&a.server.dir.path, "acme", &scratch.join("refused"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("server is running"), "{err}");
    assert!(!scratch.join("refused").exists());

    // Offline, twice: each export appends its own audit record in between.
    let dir = a.server.kill();
    let to = to_seq.to_string();
    for name in ["one", "two"] {
        let (code, out, err) = export_offline(&dir.path, "acme", &scratch.join(name), &["--to-seq", &to]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    let (one, two) = (read_tree(&scratch.join("one")), read_tree(&scratch.join("two")));
    assert_eq!(one.len(), 10, "{:?}", one.keys().collect::<Vec<_>>());
    assert!(one == two, "the rebuilt directories differ");
    let (tar_one, tar_two) =
        (std::fs::read(scratch.join("one.tar")).unwrap(), std::fs::read(scratch.join("two.tar")).unwrap());
    assert!(tar_one == tar_two, "the offline tars differ");
    assert!(tar_one == tar1, "the offline tar differs from the one the server built");

    // Every export is audited and metered: 3 tool calls and 2 offline exports.
    let acme = &a.acme;
    let audited = count(
        &dir.path,
        &format!(
            "SELECT COUNT(*) FROM audit_records WHERE chain = '{acme}' AND record LIKE '%\"tool\":\"audit.export_package\"%' AND record LIKE '%\"decision\":\"allow\"%'"
        ),
    );
    assert_eq!(audited, 5);
    let metered = count(
        &dir.path,
        &format!("SELECT SUM(quantity) FROM usage_events WHERE tenant_id = '{acme}' AND counter = 'audit_exports'"),
    );
    assert_eq!(metered, 5);
    let downloads = count(
        &dir.path,
        &format!("SELECT COUNT(*) FROM audit_records WHERE chain = '{acme}' AND record LIKE '%package.download%'"),
    );
    assert_eq!(downloads, 2, "each download is audited");

    // Both verifiers accept it against the pinned fingerprint, directory and tar.
    let (pubkey, fingerprint) = audit_pubkey(&dir.path);
    for path in [scratch.join("one"), scratch.join("one.tar")] {
        for v in verify_both(&path, &["--fingerprint", &fingerprint], false) {
            assert_eq!(v.code, Some(0), "{}: {}{}", v.who, v.stdout, v.stderr);
            assert!(v.stdout.contains("(pinned)"), "{}: {}", v.who, v.stdout);
        }
    }
    for v in verify_both(&scratch.join("one.tar"), &["--pubkey", &pubkey], true) {
        assert_eq!(v.code, Some(0), "{}: {}{}", v.who, v.stdout, v.stderr);
    }
    let [_, py] = verify_both(&scratch.join("one"), &["--pubkey", &pubkey], true);
    assert!(py.stderr.contains("pure-Python"), "{}", py.stderr);
    // Without a pin both refuse to judge (usage error); trusting the embedded key is loud.
    for v in verify_both(&scratch.join("one"), &[], false) {
        assert_eq!(v.code, Some(2), "{}: {}{}", v.who, v.stdout, v.stderr);
    }
    for v in verify_both(&scratch.join("one"), &["--trust-embedded-key"], false) {
        assert_eq!(v.code, Some(0), "{}: {}{}", v.who, v.stdout, v.stderr);
        assert!(v.stderr.contains("WARNING"), "{}: {}", v.who, v.stderr);
        assert!(v.stdout.contains("NOT PINNED"), "{}: {}", v.who, v.stdout);
    }
}

#[tokio::test]
async fn downloads_need_the_owning_tenants_credentials_and_expire() {
    let a = activity().await;
    let out = export(&a.acme_auditor, json!({})).await;
    let id = out["package_id"].as_str().unwrap();
    let base = &a.server.base;
    assert_eq!(download(base, id, None).await.0, 401);
    assert_eq!(download(base, id, Some("tg_nope_nope")).await.0, 401);
    assert_eq!(download(base, id, a.globex_admin.key.as_deref()).await.0, 404, "another tenant sees nothing");
    assert_eq!(download(base, id, Some(&a.server.dir.admin_key)).await.0, 404, "not a tenant principal");
    assert_eq!(download(base, "pkg_00000000000000000000000000000000", a.acme_auditor.key.as_deref()).await.0, 404);
    assert_eq!(download(base, "..%2f..%2ftollgate.db", a.acme_auditor.key.as_deref()).await.0, 404);
    assert_eq!(download(base, id, a.acme_admin.key.as_deref()).await.0, 200);
    set_clock(&a.clock, "2030-01-17T12:00:00Z");
    assert_eq!(download(base, id, a.acme_admin.key.as_deref()).await.0, 410, "expired after a day");
}

#[tokio::test]
async fn exports_are_role_plan_and_quota_governed() {
    let a = activity().await;
    let admin = a.server.endpoint();
    // A viewer may not export; a free plan is not entitled; the pro quota is 30 a month.
    let viewer = http_tool(&a.acme_admin, 1, "key.issue", json!({"role": "viewer", "label": "v"})).await;
    let viewer = admin.with_key(tool_output(&viewer.body).unwrap()["api_key"].as_str());
    let r = http_tool(&viewer, 2, "audit.export_package", json!({})).await;
    assert_eq!(error_reason(&r.body), Some("role_required"), "{:?}", r.body);
    let r = http_tool(&a.globex_admin, 3, "audit.export_package", json!({})).await;
    assert_eq!(error_reason(&r.body), Some("not_entitled"), "{:?}", r.body);
    let r = http_tool(&a.acme_admin, 4, "audit.export_package", json!({"tenant_id": "tn_0000000000000000"})).await;
    assert_eq!(error_reason(&r.body), Some("tenant_mismatch"), "{:?}", r.body);
    let r = http_tool(&a.acme_admin, 5, "audit.export_package", json!({"from_seq": 5, "to_seq": 2})).await;
    assert!(tool_failure(&r.body).is_some(), "{:?}", r.body);
    let limited =
        http_tool(&admin, 6, "plan.set", json!({"tenant_id": a.acme, "plan": "pro", "limits": {"audit_exports": 1}}))
            .await;
    assert!(tool_output(&limited.body).is_some(), "{:?}", limited.body);
    export(&a.acme_admin, json!({})).await;
    let r = http_tool(&a.acme_admin, 8, "audit.export_package", json!({})).await;
    assert_eq!(error_reason(&r.body), Some("quota_exceeded"), "{:?}", r.body);
}
