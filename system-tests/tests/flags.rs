//! The flag registry through the binary (issue 18, done-when 1): each flag's
//! off state hides its tools from `tools/list` and refuses them by name with
//! -31403 `feature_disabled` and `data.flag`; the kill switch `multi_tenant`
//! is stronger (its edition has no tenant tools at all, whatever the other
//! flags say); `billing_api` off keeps quotas enforced from the tenant's
//! current plan; `server.info` shows every flag's state to the platform admin
//! only. Flags are set both ways the registry allows: `tollgate.toml` and
//! `TOLLGATE_<NAME>`.

use serde_json::{Value, json};
use system_tests::*;

/// Each flag with the tools it switches off.
const FLAGGED: &[(&str, &[&str])] = &[
    ("tenant_bootstrap", &["tenant.bootstrap"]),
    ("billing_api", &["plan.catalog", "plan.get", "plan.set"]),
    ("admin_console", &["admin.overview", "admin.tenants"]),
    ("tenant_delete", &["tenant.delete"]),
];

fn dir_with(config: &str) -> DataDir {
    let dir = DataDir::init();
    let base = "per_address_rps = 100000\nper_address_burst = 100000\n";
    std::fs::write(dir.path.join("tollgate.toml"), format!("{base}{config}")).expect("config");
    dir
}

async fn listed(to: &Endpoint) -> Vec<String> {
    let a = modern_call(to, 2, "tools/list", json!({})).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(a.body["result"].get("nextCursor").is_none(), "one page holds every tool");
    let tools = a.body["result"]["tools"].as_array().expect("tools").iter();
    tools.map(|t| t["name"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn ok(to: &Endpoint, name: &str, args: Value) -> Value {
    let a = http_tool(to, 1, name, args).await;
    tool_output(&a.body).unwrap_or_else(|| panic!("{name}: {:?}", a.body))
}

fn assert_disabled(answer: &Answer, flag: &str, tool: &str) {
    assert_eq!(answer.status, 403, "{tool}: {:?}", answer.body);
    assert_eq!(error_code(&answer.body), Some(-31403), "{tool}: {:?}", answer.body);
    assert_eq!(error_reason(&answer.body), Some("feature_disabled"), "{tool}");
    assert_eq!(answer.body["error"]["data"]["flag"], flag, "{tool}: {:?}", answer.body);
}

/// `server.info`'s flags as (name, enabled, default).
fn flag_states(info: &Value) -> Vec<(String, bool, bool)> {
    let flags = info["flags"].as_array().unwrap_or_else(|| panic!("no flags: {info}"));
    flags
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap_or_default().to_owned();
            (name, f["enabled"].as_bool().unwrap_or_default(), f["default"].as_bool().unwrap_or_default())
        })
        .collect()
}

#[tokio::test]
async fn every_flag_off_hides_its_tools_and_refuses_them_by_name_with_its_flag() {
    // Everything on (the file sets the default-off ones, the environment nothing): every tool is there.
    let on = HttpServer::start_in(dir_with("admin_console = true\ntenant_delete = true\n"), &[]);
    let admin = on.endpoint();
    let all = listed(&admin).await;
    for (_, tools) in FLAGGED {
        for tool in *tools {
            assert!(all.contains(&tool.to_string()), "{tool} is listed while its flag is on: {all:?}");
        }
    }
    let acme = ok(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let acme_id = acme["tenant_id"].as_str().expect("tenant_id").to_owned();
    let states = flag_states(&ok(&admin, "server.info", json!({})).await);
    assert!(states.iter().all(|(_, enabled, _)| *enabled), "{states:?}");
    let (dir, _) = on.stop();

    // Every flag but the kill switch off, through the environment (which overrides the file).
    let env: Vec<(String, &str)> =
        FLAGGED.iter().map(|(flag, _)| (format!("TOLLGATE_{}", flag.to_ascii_uppercase()), "false")).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (off, _log) = HttpServer::start_logged(dir, &[], &env);
    let admin = off.endpoint();
    let visible = listed(&admin).await;
    for (flag, tools) in FLAGGED {
        for tool in *tools {
            assert!(!visible.contains(&tool.to_string()), "{tool} is listed while {flag} is off: {visible:?}");
            let args = match *tool {
                "tenant.bootstrap" => json!({"slug": "globex", "display_name": "Globex"}),
                "plan.set" => json!({"tenant_id": acme_id, "plan": "pro"}),
                "plan.get" | "tenant.delete" => json!({"tenant_id": acme_id}),
                _ => json!({}),
            };
            assert_disabled(&http_tool(&admin, 5, tool, args.clone()).await, flag, tool);
            // A pinned version is the same tool, refused the same way.
            assert_disabled(&http_tool(&admin, 6, &format!("{tool}.v1"), args).await, flag, tool);
        }
    }
    // Nothing else went missing, and nothing a flag hides is named as "available" either.
    let hidden: Vec<&str> = FLAGGED.iter().flat_map(|(_, t)| t.iter().copied()).collect();
    let expected: Vec<&String> = all.iter().filter(|t| !hidden.contains(&t.as_str())).collect();
    assert_eq!(visible.iter().collect::<Vec<_>>(), expected);
    let unknown = http_tool(&admin, 7, "no.such.tool", json!({})).await;
    let available = unknown.body["error"]["data"]["available"].to_string();
    assert!(hidden.iter().all(|t| !available.contains(&format!("\"{t}\""))), "{available}");
    // The refusals are audited (a flag refuses before the tenant is bound: on the platform's chain).
    let (dir, _) = off.stop();
    let refused: Vec<Value> = audit_chain(&dir.path, "_system")
        .into_iter()
        .filter(|r| r["decision"] == "deny" && r["reason"] == "feature_disabled")
        .collect();
    for tool in &hidden {
        assert!(refused.iter().any(|r| r["tool"] == *tool), "{tool}'s refusal is not audited");
    }
    // Nothing was created while tenant.bootstrap was off.
    let slugs = sqlite_lines(&database(&dir.path), "SELECT slug FROM tenants ORDER BY slug");
    assert_eq!(slugs, ["acme", "default"], "only `init`'s tenant and the one made while the flag was on");
}

#[tokio::test]
async fn server_info_shows_every_flag_s_state_to_the_platform_admin_only() {
    let server = HttpServer::start_in(dir_with("admin_console = true\nbilling_api = false\n"), &[]);
    let admin = server.endpoint();
    let states = flag_states(&ok(&admin, "server.info", json!({})).await);
    let expected = [
        ("multi_tenant", true, true),
        ("tenant_bootstrap", true, true),
        ("billing_api", false, true),
        ("admin_console", true, false),
        ("tenant_delete", false, false),
    ];
    let expected: Vec<(String, bool, bool)> = expected.iter().map(|(n, e, d)| ((*n).to_owned(), *e, *d)).collect();
    assert_eq!(states, expected);
    let boot = ok(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    let tenant_admin = admin.with_key(boot["api_key"].as_str());
    let info = ok(&tenant_admin, "server.info", json!({})).await;
    assert!(info.get("flags").is_none(), "a tenant principal is not shown the flags: {info}");
    assert!(info["version"].is_string());
}

#[tokio::test]
async fn the_kill_switch_is_stronger_than_tenant_bootstrap() {
    // tenant_bootstrap on, multi_tenant off: the single-tenant edition has no tenant.bootstrap at all.
    let (server, _log) =
        HttpServer::start_logged(dir_with("tenant_bootstrap = true\n"), &[], &[("TOLLGATE_MULTI_TENANT", "0")]);
    let admin = server.endpoint();
    assert!(!listed(&admin).await.contains(&"tenant.bootstrap".to_owned()));
    let a = http_tool(&admin, 3, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    assert_disabled(&a, "multi_tenant", "tenant.bootstrap");
    let states = flag_states(&ok(&admin, "server.info", json!({})).await);
    assert!(states.contains(&("multi_tenant".to_owned(), false, true)), "{states:?}");
}

#[tokio::test]
async fn billing_api_off_hides_the_plan_tools_but_quotas_stay_enforced_from_the_current_plan() {
    let clock = |dir: &DataDir| dir.path.join("clock");
    let dir = dir_with("");
    std::fs::write(clock(&dir), "2030-01-15T12:00:00Z").expect("clock");
    let clock_arg = clock(&dir).to_string_lossy().into_owned();
    let server = HttpServer::start_in(dir, &["--clock-file", &clock_arg]);
    let admin = server.endpoint();
    let boot = ok(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme", "plan": "pro"})).await;
    let acme = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    let limits = json!({"tool_calls": 3, "rate_per_key": 100000, "rate_per_account": 100000});
    ok(&admin, "plan.set", json!({"tenant_id": acme, "plan": "pro", "limits": limits})).await;
    let key = boot["api_key"].as_str().expect("key").to_owned();
    let (dir, _) = server.stop();

    let (server, _log) =
        HttpServer::start_logged(dir, &["--clock-file", &clock_arg], &[("TOLLGATE_BILLING_API", "off")]);
    let tenant_admin = server.endpoint().with_key(Some(&key));
    let visible = listed(&tenant_admin).await;
    assert!(!visible.iter().any(|t| t.starts_with("plan.")), "{visible:?}");
    assert!(visible.contains(&"usage.report".to_owned()), "usage stays visible: {visible:?}");
    assert_disabled(&http_tool(&tenant_admin, 4, "plan.get", json!({})).await, "billing_api", "plan.get");
    // The quota of the plan set before the flag went off is still the limit: 3 calls, then 402.
    let mut answers = Vec::new();
    for i in 0..5 {
        answers.push(http_tool(&tenant_admin, 10 + i, "whoami", json!({})).await);
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 402, 402], "{:?}", answers.last().map(|a| &a.body));
    let refused = &answers[3].body;
    assert_eq!(error_reason(refused), Some("quota_exceeded"));
    assert_eq!(refused["error"]["data"]["limit"], 3, "{refused:?}");
}

#[test]
fn over_stdio_the_console_is_off_by_default_and_on_when_its_variable_says_so() {
    let dir = dir_with("");
    let key = dir.admin_key.clone();
    let mut off = StdioServer::start_with(&dir.path, Some(&key), &[]);
    let refused = off.tool(1, "admin.overview", json!({}));
    assert_eq!(error_code(&refused), Some(-31403), "{refused:?}");
    assert_eq!(refused["error"]["data"]["flag"], "admin_console");
    let listed = off.call(&request(2, "tools/list", json!({"_meta": modern_meta()})));
    assert!(!listed.to_string().contains("\"admin.overview\""), "{listed}");
    drop(off);
    let (mut on, _log) = StdioServer::start_logged(&dir.path, Some(&key), &[], &[("TOLLGATE_ADMIN_CONSOLE", "yes")]);
    let overview = tool_output(&on.tool(3, "admin.overview", json!({}))).expect("admin.overview answers");
    let changed =
        overview["release_gates"].as_array().and_then(|g| g.iter().find(|g| g["gate"] == "flags_at_defaults"));
    assert_eq!(changed.map(|g| g["detail"].clone()), Some(json!("changed: admin_console")), "{overview}");
}
