//! The operator console through the binary (issue 18, done-when 2):
//! `admin.overview` and `admin.tenants` change nothing in the database but
//! their own calls' audit records, checkpoints and ledger rows (and the
//! rolling counters of those records); every tenant role is refused; the
//! overview's last-24-hours figures equal the audit log's, survive a restart
//! and follow the clock; `admin.tenants` clamps `limit`, filters, and its
//! cursor survives tenants being added. Time moves through `--clock-file`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use system_tests::package::*;
use system_tests::*;

const CONSOLE: &str = "admin_console = true\nmax_page_size = 2\n";

async fn ok(to: &Endpoint, name: &str, args: Value) -> Value {
    let a = http_tool(to, 1, name, args).await;
    tool_output(&a.body).unwrap_or_else(|| panic!("{name}: {:?}", a.body))
}

/// Every row of every table, by table, each table's rows sorted.
fn snapshot(db: &Path) -> BTreeMap<String, Vec<String>> {
    let tables = sqlite_lines(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    tables
        .into_iter()
        .map(|t| {
            let mut rows = sqlite_lines(db, &format!("SELECT * FROM \"{t}\""));
            rows.sort();
            (t, rows)
        })
        .collect()
}

/// Audit records weighted as the console counts them (an aggregated record stands for `count` denials).
fn weight(r: &Value) -> u64 {
    r.get("count").and_then(Value::as_u64).unwrap_or(1)
}

#[tokio::test]
async fn the_console_tools_change_nothing_but_their_own_calls_records_and_ledger_rows() {
    sqlite_only!(
        "the console's cross-tenant reads need definer functions on PostgreSQL (not built yet; docs/operations.md)"
    );
    let a = activity_with(CONSOLE).await;
    let admin = a.server.endpoint();
    let db = database(&a.server.dir.path);
    let before = snapshot(&db);
    let records_before: BTreeSet<String> = audit_records(&a.server.dir.path).iter().map(|r| r.to_string()).collect();

    let calls = [
        ("admin.overview", json!({})),
        ("admin.tenants", json!({})),
        ("admin.tenants", json!({"limit": 1000, "plan": "pro"})),
        ("admin.tenants", json!({"slug_prefix": "glo", "status": "active", "billing_status": "active"})),
        ("admin.overview", json!({})),
    ];
    for (tool, args) in &calls {
        ok(&admin, tool, args.clone()).await;
    }
    let after = snapshot(&db);

    // The call's own audit records: exactly one per call, allowed, the admin's, the console's tools.
    let own: Vec<Value> =
        audit_records(&a.server.dir.path).into_iter().filter(|r| !records_before.contains(&r.to_string())).collect();
    assert_eq!(own.len(), calls.len(), "{own:?}");
    assert!(own.iter().all(|r| r["decision"] == "allow" && r["chain"] == "_system"), "{own:?}");
    let tools: Vec<&str> = own.iter().map(|r| r["tool"].as_str().unwrap_or_default()).collect();
    assert_eq!(tools, calls.iter().map(|(t, _)| *t).collect::<Vec<_>>());
    let request_ids: BTreeSet<&str> = own.iter().filter_map(|r| r["request_id"].as_str()).collect();

    let ignored = ["audit_records", "checkpoints", "usage_events", "usage_totals", "call_counts"];
    for (table, rows) in &before {
        if !ignored.contains(&table.as_str()) {
            assert_eq!(Some(rows), after.get(table), "{table} changed");
        }
    }
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "no table came or went");
    // Checkpoints: only new ones.
    let kept = |t: &str| before[t].iter().all(|row| after[t].contains(row));
    assert!(kept("checkpoints") && kept("usage_events"), "an old checkpoint or ledger row changed");
    // Ledger: one tool_calls row per call, on the platform's ledger, with the calls' request ids.
    let new_events: Vec<&String> =
        after["usage_events"].iter().filter(|r| !before["usage_events"].contains(r)).collect();
    assert_eq!(new_events.len(), calls.len(), "{new_events:?}");
    for row in &new_events {
        let cols: Vec<&str> = row.split('|').collect();
        assert_eq!((cols[1], cols[2], cols[3]), ("_platform", "tool_calls", "1"), "{row}");
        assert!(request_ids.contains(cols[5]), "{row} is not one of the calls'");
    }
    // The running totals and the counters moved by exactly the calls, nothing else.
    let changed = |t: &str| -> Vec<(String, String)> {
        let old: BTreeSet<&String> = before[t].iter().collect();
        let new: BTreeSet<&String> = after[t].iter().collect();
        let gone: Vec<&&String> = old.difference(&new).collect();
        let came: Vec<&&String> = new.difference(&old).collect();
        assert_eq!(came.len(), 1, "{t}: exactly one row moved: {came:?}");
        assert!(gone.len() <= 1, "{t}: {gone:?}");
        vec![(gone.first().map(|s| (**s).clone()).unwrap_or_default(), (**came[0]).clone())]
    };
    let n = calls.len() as i64;
    let bumped = |(old, new): &(String, String), prefix: &str| {
        let count = |s: &str| s.rsplit('|').next().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0);
        assert!(new.starts_with(prefix), "{new} is not {prefix}…");
        assert!(old.is_empty() || old.starts_with(prefix), "{old}");
        assert_eq!(count(new) - count(old), n, "{old} -> {new}");
    };
    bumped(&changed("usage_totals")[0], "_platform|tool_calls|");
    bumped(&changed("call_counts")[0], "_system|2030-01-15T12|allow||");
}

#[tokio::test]
async fn every_tenant_role_is_refused_and_the_overview_counts_match_the_audit_log() {
    sqlite_only!(
        "the console's cross-tenant reads need definer functions on PostgreSQL (not built yet; docs/operations.md)"
    );
    let a = activity_with(CONSOLE).await;
    let admin = a.server.endpoint();
    // Every tenant role, none of which may see or call the console.
    let mut tenant_principals = vec![("tenant_admin", a.acme_admin.clone()), ("auditor", a.acme_auditor.clone())];
    for role in ["operator", "viewer"] {
        let issued = ok(&a.acme_admin, "key.issue", json!({"role": role, "label": role})).await;
        tenant_principals.push((role, admin.with_key(issued["api_key"].as_str())));
    }
    for (role, key) in &tenant_principals {
        let listed = modern_call(key, 2, "tools/list", json!({})).await.body.to_string();
        assert!(!listed.contains("\"admin."), "{role} sees the console: {listed}");
        for tool in ["admin.overview", "admin.tenants"] {
            let refused = http_tool(key, 3, tool, json!({})).await;
            assert_eq!(refused.status, 403, "{role} {tool}: {:?}", refused.body);
            assert_eq!(error_reason(&refused.body), Some("role_required"), "{role} {tool}");
        }
    }

    // The last 24 hours: exactly what the audit log holds from then on (the activity is all
    // from 2030-01-15 12:00; `init` wrote its record by the real clock, outside the window).
    let check_counts = |records: &[Value], overview: &Value| {
        let last = &overview["last_24h"];
        let since = last["since"].as_str().unwrap_or_default();
        let records: Vec<&Value> =
            records.iter().filter(|r| r["ts"].as_str().is_some_and(|ts| ts >= since && ts < "2030-01-16")).collect();
        assert!(records.len() > 20, "{}", records.len());
        let denied: u64 = records.iter().filter(|r| r["decision"] == "deny").map(|r| weight(r)).sum();
        let allowed: u64 = records.iter().filter(|r| r["decision"] == "allow").map(|r| weight(r)).sum();
        assert_eq!((last["allowed"].as_u64(), last["denied"].as_u64()), (Some(allowed), Some(denied)), "{last}");
        let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
        for r in records.iter().filter(|r| r["decision"] == "deny") {
            *by_reason.entry(r["reason"].as_str().unwrap_or_default().to_owned()).or_default() += weight(r);
            assert!(r["ts"].as_str().is_some_and(|ts| ts.starts_with("2030-01-15T12")));
        }
        assert_eq!(last["denials_by_reason"], json!(by_reason));
        assert!(by_reason.get("role_required").is_some_and(|n| *n >= 8), "{by_reason:?}");
        assert!(by_reason.contains_key("tenant_mismatch"), "the activity's spoof: {by_reason:?}");
    };
    let records = audit_records(&a.server.dir.path);
    let overview = ok(&admin, "admin.overview", json!({})).await;
    check_counts(&records, &overview);
    assert_eq!(overview["last_24h"]["since"], "2030-01-14T13:00:00Z");
    assert_eq!(overview["tenants"]["total"], 3, "default, acme, globex: {overview}");
    assert_eq!(overview["tenants"]["by_plan"]["pro"], 1);
    assert_eq!(overview["tenants"]["by_billing_status"]["active"], 3);
    assert!(overview.get("last_verification").is_none(), "nothing verified yet: {overview}");
    let gates: BTreeMap<String, Value> = overview["release_gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| (g["gate"].as_str().unwrap_or_default().to_owned(), g.clone()))
        .collect();
    assert_eq!(gates["schemas_match"]["ok"], true, "{gates:?}");
    assert_eq!(gates["signing_key_readable"]["ok"], true, "{gates:?}");
    assert_eq!(gates["chains_verified"]["ok"], false, "{gates:?}");
    assert_eq!(gates["flags_at_defaults"]["ok"], false);
    assert!(gates["flags_at_defaults"]["detail"].as_str().is_some_and(|d| d.contains("admin_console")));
    assert_eq!(overview["flags"].as_array().map(Vec::len), Some(5));

    // A verification is stored when it runs; once every chain was verified, the gate passes.
    let verified = ok(&a.acme_auditor, "audit.verify", json!({})).await;
    assert_eq!(verified["valid"], true);
    let overview = ok(&admin, "admin.overview", json!({})).await;
    assert_eq!(overview["last_verification"]["chain"], a.acme.as_str(), "{overview}");
    assert_eq!(overview["last_verification"]["valid"], true);
    let tenants = ok(&admin, "admin.tenants", json!({})).await;
    let mut ids: Vec<String> = Vec::new();
    let mut page = tenants;
    loop {
        ids.extend(page["tenants"].as_array().expect("rows").iter().map(|t| t["id"].as_str().unwrap_or("").to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => page = ok(&admin, "admin.tenants", json!({"cursor": c})).await,
            None => break,
        }
    }
    for id in &ids {
        ok(&admin, "audit.verify", json!({"tenant_id": id})).await;
    }
    ok(&admin, "audit.verify", json!({})).await;
    let overview = ok(&admin, "admin.overview", json!({})).await;
    let gate = overview["release_gates"].as_array().and_then(|g| g.iter().find(|g| g["gate"] == "chains_verified"));
    assert_eq!(gate.map(|g| g["ok"].clone()), Some(json!(true)), "{overview}");

    // Persisted: the same figures after a restart.
    let (dir, _) = a.server.stop();
    let records = audit_records(&dir.path);
    let clock_arg = a.clock.to_string_lossy().into_owned();
    let server = HttpServer::start_in(dir, &["--clock-file", &clock_arg]);
    let overview = ok(&server.endpoint(), "admin.overview", json!({})).await;
    check_counts(&records, &overview);
    assert_eq!(overview["uptime_secs"], 0, "the clock has not moved since this start");

    // A day later the window holds none of it, and uptime follows the clock.
    set_clock(&a.clock, "2030-01-16T13:00:05Z");
    let overview = ok(&server.endpoint(), "admin.overview", json!({})).await;
    assert_eq!(overview["last_24h"]["calls"], 0, "{overview}");
    assert_eq!(overview["uptime_secs"], 90_004, "12:00:01 to 13:00:05 the next day");
    let gate = overview["release_gates"].as_array().and_then(|g| g.iter().find(|g| g["gate"] == "chains_verified"));
    assert_eq!(gate.map(|g| g["ok"].clone()), Some(json!(false)), "verifications are a day old: {overview}");
}

#[tokio::test]
async fn admin_tenants_clamps_limit_filters_and_its_cursor_survives_new_tenants() {
    sqlite_only!(
        "the console's cross-tenant reads need definer functions on PostgreSQL (not built yet; docs/operations.md)"
    );
    let a = activity_with(CONSOLE).await;
    let admin = a.server.endpoint();
    let first = ok(&admin, "admin.tenants", json!({"limit": 1000})).await;
    let rows = first["tenants"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "clamped to max_page_size: {first}");
    let cursor = first["next_cursor"].as_str().expect("more pages").to_owned();
    let zero = ok_failure(&admin, json!({"limit": 0})).await;
    assert_eq!((zero["code"].as_str(), zero["field"].as_str()), (Some("invalid_arguments"), Some("/limit")));
    let bad = ok_failure(&admin, json!({"cursor": "not a cursor"})).await;
    assert_eq!(bad["code"], "invalid_arguments");

    // Tenants added between pages: the rest of the walk is exactly the tenants after the cursor, once each.
    for slug in ["aaa-new", "mmm-new", "zzz-new"] {
        ok(&admin, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
    }
    let mut seen: Vec<String> = rows.iter().map(|t| t["id"].as_str().unwrap_or("").to_owned()).collect();
    let last_of_first = seen[1].clone();
    let mut page = ok(&admin, "admin.tenants", json!({"cursor": cursor, "limit": 2})).await;
    loop {
        seen.extend(
            page["tenants"].as_array().expect("rows").iter().map(|t| t["id"].as_str().unwrap_or("").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => page = ok(&admin, "admin.tenants", json!({"cursor": c, "limit": 2})).await,
            None => break,
        }
    }
    let all = sqlite_lines(&database(&a.server.dir.path), "SELECT id FROM tenants ORDER BY id");
    let expected: Vec<String> =
        all.iter().filter(|id| seen[..2].contains(id) || id.as_str() > last_of_first.as_str()).cloned().collect();
    assert_eq!(seen, expected, "in id order, none repeated, none after the cursor missed");

    // Filters, and each row's usage against its limits.
    let pro = ok(&admin, "admin.tenants", json!({"plan": "pro"})).await;
    let pro_rows = pro["tenants"].as_array().expect("rows");
    assert_eq!(pro_rows.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(), [json!(a.acme)]);
    let used = sqlite_lines(
        &database(&a.server.dir.path),
        &format!("SELECT used FROM usage_totals WHERE tenant_id = '{}' AND counter = 'tool_calls'", a.acme),
    );
    let calls = pro_rows[0]["usage"].as_array().and_then(|u| u.iter().find(|c| c["counter"] == "tool_calls"));
    let calls = calls.expect("tool_calls line");
    assert_eq!(calls["used"].to_string(), used[0]);
    assert_eq!(calls["remaining"], calls["limit"].as_u64().unwrap_or(0) - calls["used"].as_u64().unwrap_or(0));
    let by_prefix = ok(&admin, "admin.tenants", json!({"slug_prefix": "glo"})).await;
    assert_eq!(by_prefix["tenants"].as_array().map(|r| r.len()), Some(1));
    assert_eq!(by_prefix["tenants"][0]["slug"], "globex");
    ok(&admin, "tenant.suspend", json!({"tenant_id": a.globex})).await;
    let suspended = ok(&admin, "admin.tenants", json!({"status": "suspended"})).await;
    assert_eq!(suspended["tenants"].as_array().map(|r| r.len()), Some(1));
    assert_eq!(suspended["tenants"][0]["id"], a.globex.as_str());
    let past_due = ok(&admin, "admin.tenants", json!({"billing_status": "past_due"})).await;
    assert_eq!(past_due["tenants"], json!([]));
}

async fn ok_failure(to: &Endpoint, args: Value) -> Value {
    let a = http_tool(to, 4, "admin.tenants", args).await;
    tool_failure(&a.body).unwrap_or_else(|| panic!("expected a tool failure: {:?}", a.body))
}
