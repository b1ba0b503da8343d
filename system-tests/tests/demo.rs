//! `tollgate demo --json` (issue 18, Done-when 5): the demo doubles as a
//! smoke test, so its summary is asserted step by step — every step in
//! order, each with what it proved — and `--keep DIR` keeps the data dir
//! with the package's HTML report where the demo says.

use serde_json::Value;
use system_tests::*;

const STEPS: [&str; 14] = [
    "init",
    "serve",
    "tenants",
    "spoof",
    "quota",
    "rate_limit",
    "key_rotation",
    "package",
    "confirm",
    "legacy",
    "kill_switch",
    "stdio",
    "verify_chains",
    "verify_package",
];

#[test]
fn demo_json_reports_every_step_and_what_it_proved() {
    let keep = std::env::temp_dir().join(format!("tollgate-st-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&keep);
    let (code, out, err) =
        run_tollgate(&["demo".to_owned(), "--json".into(), "--keep".into(), keep.to_string_lossy().into_owned()]);
    assert_eq!(code, Some(0), "demo: {out}{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("--json ({e}): {out}"));
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["kept"], true);
    let steps = summary["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, STEPS, "every step, in order");
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["step"], i + 1);
        assert_eq!(s["ok"], true, "{s}");
        assert!(s["error"].is_null(), "{s}");
        assert!(s["lines"].as_array().is_some_and(|l| !l.is_empty()), "a step shows something: {s}");
    }
    let facts = |name: &str| steps.iter().find(|s| s["name"] == name).map(|s| s["facts"].clone()).unwrap_or_default();
    assert_eq!(facts("serve")["role"], "platform_admin");
    assert!(facts("tenants")["acme"].as_str().is_some_and(|t| t.starts_with("tn_")));
    assert_eq!(
        (facts("spoof")["code"].as_i64(), facts("spoof")["reason"].as_str()),
        (Some(-31403), Some("tenant_mismatch"))
    );
    let quota = facts("quota");
    assert_eq!((quota["code"].as_i64(), quota["admitted"].as_u64()), (Some(-31402), Some(3)), "{quota}");
    assert_eq!(quota["admitted_after_upgrade"], true);
    let rate = facts("rate_limit");
    assert_eq!((rate["code"].as_i64(), rate["admitted"].as_u64()), (Some(-31429), Some(3)), "{rate}");
    assert!(rate["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0 && ms <= 60_000), "{rate}");
    let rotation = facts("key_rotation");
    assert_eq!((rotation["old_key_works"].as_bool(), rotation["new_key_works"].as_bool()), (Some(true), Some(true)));
    let package = facts("package");
    let html = std::path::PathBuf::from(package["html_report"].as_str().expect("html_report"));
    assert!(html.starts_with(&keep) && html.is_file(), "the HTML report is where the demo says: {}", html.display());
    assert!(std::fs::read_to_string(&html).is_ok_and(|t| t.contains("<html")), "it is HTML");
    assert!(facts("confirm")["revoked"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(facts("legacy")["era"], "legacy");
    let kill = facts("kill_switch");
    assert_eq!(
        (kill["single_tenant_refuses_tenant_keys"].as_bool(), kill["restored"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(kill["single_tenant_tools"].as_u64() < kill["multi_tenant_tools"].as_u64(), "{kill}");
    assert_eq!(facts("stdio")["confirmed"], true);
    assert_eq!(facts("verify_chains")["valid"], true);
    assert_eq!(facts("verify_package")["tampered_copy_refused"], true);
    // The kept dir is a real data dir: its chains verify on their own.
    let (code, out, err) = audit_verify(&keep, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    // --keep never reuses a dir that holds data: the demo refuses at its first step and exits non-zero.
    let (code, out, _) =
        run_tollgate(&["demo".to_owned(), "--json".into(), "--keep".into(), keep.to_string_lossy().into_owned()]);
    assert_eq!(code, Some(1));
    let again: Value = serde_json::from_str(out.trim()).expect("JSON even when it fails");
    assert_eq!((again["ok"].as_bool(), again["steps"][0]["ok"].as_bool()), (Some(false), Some(false)), "{again}");
    assert!(again["steps"][0]["error"].as_str().is_some_and(|e| e.contains("already initialized")), "{again}");
    let _ = std::fs::remove_dir_all(&keep);
}

#[test]
fn the_demo_without_keep_removes_its_data_dir() {
    let (code, out, err) = run_tollgate(&["demo", "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let summary: Value = serde_json::from_str(out.trim()).expect("JSON");
    let dir = summary["data_dir"].as_str().expect("data_dir");
    assert_eq!(summary["kept"], false);
    assert!(!std::path::Path::new(dir).exists(), "{dir} was removed");
}
