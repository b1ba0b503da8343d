//! `tollgate seed` (issue 18, Done-when 5): the same `--seed` gives the same
//! tenants, plans and call history; keys are fresh each time; the data holds
//! keys of every role, denials, a quota reached and an exported package, and
//! its chains verify.

use std::collections::BTreeMap;

use serde_json::Value;
use system_tests::*;

fn seed(dir: &std::path::Path, n: &str) -> Value {
    let (code, out, err) = run_tollgate(&[
        "seed".into(),
        "--json".into(),
        "--seed".into(),
        n.to_owned(),
        "--data-dir".into(),
        dir.to_string_lossy().into_owned(),
    ]);
    assert_eq!(code, Some(0), "seed: {out}{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("seed --json ({e}): {out}"))
}

/// Per tenant chain: (tool, decision, reason) of every record, in order.
fn history(dir: &std::path::Path) -> BTreeMap<String, Vec<(Value, Value, Value)>> {
    let mut by_chain: BTreeMap<String, Vec<(Value, Value, Value)>> = BTreeMap::new();
    for r in audit_records(dir) {
        let chain = r["chain"].as_str().unwrap_or_default().to_owned();
        if chain.starts_with("tn_") {
            by_chain.entry(chain).or_default().push((r["tool"].clone(), r["decision"].clone(), r["reason"].clone()));
        }
    }
    by_chain
}

fn shape(out: &Value) -> Vec<(Value, Value, Value, Vec<Value>)> {
    out["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| {
            let roles = t["keys"].as_array().expect("keys").iter().map(|k| k["role"].clone()).collect();
            (t["slug"].clone(), t["tenant_id"].clone(), t["plan"].clone(), roles)
        })
        .collect()
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tollgate-seed-{}-{name}", std::process::id()))
}

#[test]
fn the_same_seed_gives_the_same_tenants_plans_and_history_with_fresh_keys() {
    let (a, b, c) = (tmp("a"), tmp("b"), tmp("c"));
    for d in [&a, &b, &c] {
        let _ = std::fs::remove_dir_all(d);
    }
    let (first, second, other) = (seed(&a, "42"), seed(&b, "42"), seed(&c, "43"));
    assert_eq!(shape(&first), shape(&second), "same seed, same tenants, plans and roles");
    assert_eq!(history(&a), history(&b), "same seed, same call history per chain");
    assert_ne!((shape(&first), history(&a)), (shape(&other), history(&c)), "another seed, another shape");
    let keys = |o: &Value| -> Vec<String> {
        o["tenants"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["keys"].as_array().cloned().unwrap_or_default())
            .filter_map(|k| k["api_key"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(keys(&first).iter().all(|k| !keys(&second).contains(k)), "keys are always fresh");
    assert_ne!(audit_pubkey(&a), audit_pubkey(&b), "so is the signing key");

    // What an operator needs to try things on.
    let plans: Vec<&str> =
        first["tenants"].as_array().into_iter().flatten().filter_map(|t| t["plan"].as_str()).collect();
    for p in ["free", "pro", "enterprise"] {
        assert!(plans.contains(&p), "a tenant on {p}: {plans:?}");
    }
    for t in first["tenants"].as_array().into_iter().flatten() {
        let roles: Vec<&str> = t["keys"].as_array().into_iter().flatten().filter_map(|k| k["role"].as_str()).collect();
        for r in ["tenant_admin", "operator", "viewer", "auditor"] {
            assert!(roles.contains(&r), "{}: a {r} key", t["slug"]);
        }
    }
    let reasons: Vec<String> = history(&a)
        .values()
        .flatten()
        .filter(|(_, d, _)| d == "deny")
        .map(|(_, _, r)| r.as_str().unwrap_or("").to_owned())
        .collect();
    for r in ["role_required", "tenant_mismatch", "not_entitled", "quota_exceeded"] {
        assert!(reasons.iter().any(|x| x == r), "a {r} denial in the history: {reasons:?}");
    }
    let allowed = history(&a).values().flatten().filter(|(_, d, _)| d == "allow").count();
    assert!(allowed > 20, "a history of allowed calls ({allowed})");
    assert!(!kept_packages(&a).is_empty(), "an exported audit package");
    let (code, out, err) = audit_verify(&a, &[]);
    assert_eq!(code, Some(0), "seeded chains verify: {out}{err}");
    // A seeded dir is not seeded twice.
    let (code, _, err) = run_tollgate(&["seed".into(), "--data-dir".into(), a.to_string_lossy().into_owned()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("already initialized"), "{err}");
    for d in [&a, &b, &c] {
        let _ = std::fs::remove_dir_all(d);
    }
}
