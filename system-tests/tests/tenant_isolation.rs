//! Tenant isolation (issue 5, Done-when 1), over HTTP and over stdio.
//!
//! A platform admin bootstraps tenants A and B. Then, for every tool, A's keys
//! (tenant admin, viewer, auditor) try to read or change B's data. Each cell of
//! the matrix asserts the exact answer:
//!
//! - any `tenant_id` that is not the caller's own, existing or not, is -31403
//!   `tenant_mismatch` (the bind-tenant step runs before the role step, so this
//!   holds for every role and every tool that takes a `tenant_id`);
//! - B's key id answers exactly like a key id that does not exist (tool error
//!   `not_found`, byte for byte the same result);
//! - platform-only tools are -31403 `role_required`;
//! - lists show only A's objects.
//!
//! Afterwards the audit log is read straight from the database: every attempt
//! is a record in A's chain with the expected principal, tool, decision and
//! reason, in order; B's chain (and every other chain) is unchanged; B's keys
//! and tenant still work exactly as before.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use system_tests::*;

/// A tenant id that exists nowhere (same shape as a real one).
const GHOST_TENANT: &str = "tn_5eed5eed5eed5eed";
/// A key id that exists nowhere (same shape as a real one).
const GHOST_KEY: &str = "kdeadbeefdeadbeef";

/// An issued key.
#[derive(Debug, Clone)]
struct Key {
    id: String,
    secret: String,
}

/// What the setup created.
#[derive(Debug, Clone)]
struct World {
    a: String,
    a_slug: String,
    b: String,
    b_slug: String,
    a_admin: Key,
    a_viewer: Key,
    a_auditor: Key,
    b_admin: Key,
    b_viewer: Key,
    /// The platform admin's key id (another scope's key too).
    platform_key_id: String,
}

/// How the test reaches the server.
enum Harness {
    Http { url: Endpoint, dir: PathBuf },
    Stdio { dir: PathBuf },
}

/// A connection acting with one key.
enum Via {
    Http(Endpoint),
    Stdio(StdioServer),
}

/// One reply: the JSON-RPC message and, over HTTP, the status.
#[derive(Debug)]
struct Reply {
    status: Option<u16>,
    body: Value,
}

impl Harness {
    fn dir(&self) -> &Path {
        match self {
            Harness::Http { dir, .. } | Harness::Stdio { dir } => dir,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Harness::Http { .. } => "http",
            Harness::Stdio { .. } => "stdio",
        }
    }

    /// A connection acting with `key` (a stdio process of its own on stdio).
    fn connect(&self, key: &str) -> Via {
        match self {
            Harness::Http { url, .. } => Via::Http(url.with_key(Some(key))),
            Harness::Stdio { dir } => Via::Stdio(StdioServer::start_with(dir, Some(key), &[])),
        }
    }
}

impl Via {
    async fn tool(&mut self, id: i64, name: &str, arguments: Value) -> Reply {
        match self {
            Via::Http(ep) => {
                let a = http_tool(ep, id, name, arguments).await;
                Reply { status: Some(a.status), body: a.body }
            }
            Via::Stdio(s) => Reply { status: None, body: s.tool(id, name, arguments) },
        }
    }

    /// A successful tool call's output (panics with the reply otherwise).
    async fn ok(&mut self, id: i64, name: &str, arguments: Value) -> Value {
        let r = self.tool(id, name, arguments).await;
        tool_output(&r.body).unwrap_or_else(|| panic!("{name} failed: {}", r.body))
    }

    /// Every tool name `tools/list` shows this caller (all pages).
    async fn tool_names(&mut self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut params = json!({});
            if let Some(c) = &cursor {
                params["cursor"] = json!(c);
            }
            let body = match self {
                Via::Http(ep) => modern_call(ep, 90, "tools/list", params).await.body,
                Via::Stdio(s) => {
                    params["_meta"] = modern_meta();
                    s.call(&request(90, "tools/list", params))
                }
            };
            let result = &body["result"];
            let tools = result["tools"].as_array().unwrap_or_else(|| panic!("tools/list: {body}"));
            names.extend(tools.iter().filter_map(|t| t["name"].as_str()).map(str::to_owned));
            match result["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return names,
            }
        }
    }

    fn close(self) {
        if let Via::Stdio(s) = self {
            assert!(s.finish().success(), "stdio server did not exit cleanly");
        }
    }
}

fn key_of(out: &Value) -> Key {
    Key {
        id: out["key_id"].as_str().expect("key_id").to_owned(),
        secret: out["api_key"].as_str().expect("api_key").to_owned(),
    }
}

/// Platform admin bootstraps A and B; A's admin issues a viewer and an
/// auditor key; B's admin issues a viewer key.
async fn setup(h: &Harness, platform_key: &str) -> World {
    let mut platform = h.connect(platform_key);
    let a =
        platform.ok(1, "tenant.bootstrap", json!({"slug": "iso-alpha", "display_name": "Alpha", "plan": "pro"})).await;
    let b =
        platform.ok(2, "tenant.bootstrap", json!({"slug": "iso-bravo", "display_name": "Bravo", "plan": "pro"})).await;
    platform.close();
    let (a_admin, b_admin) = (key_of(&a), key_of(&b));

    let mut conn = h.connect(&a_admin.secret);
    let a_viewer = key_of(&conn.ok(3, "key.issue", json!({"role": "viewer", "label": "alpha viewer"})).await);
    let a_auditor = key_of(&conn.ok(4, "key.issue", json!({"role": "auditor", "label": "alpha auditor"})).await);
    conn.close();
    let mut conn = h.connect(&b_admin.secret);
    let b_viewer = key_of(&conn.ok(5, "key.issue", json!({"role": "viewer", "label": "bravo viewer"})).await);
    conn.close();

    World {
        a: a["tenant_id"].as_str().expect("tenant_id").to_owned(),
        a_slug: "iso-alpha".into(),
        b: b["tenant_id"].as_str().expect("tenant_id").to_owned(),
        b_slug: "iso-bravo".into(),
        a_admin,
        a_viewer,
        a_auditor,
        b_admin,
        b_viewer,
        platform_key_id: platform_key.split('_').nth(1).expect("tg_<key_id>_<secret>").to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    Viewer,
    Auditor,
}

/// What a cell must answer.
#[derive(Clone, Copy)]
enum Expect {
    /// -31403 (HTTP 403) with this `data.reason`; audited `deny` with that reason.
    Forbidden(&'static str),
    /// Refused by the gate as a tool error (`isError`, this code); audited `deny`.
    GateToolError(&'static str),
    /// Admitted, and the tool itself failed with this code; audited `allow` with the code as reason.
    ToolFailed(&'static str),
    /// Admitted and succeeded; the check runs on the tool's output.
    Allowed(fn(&Value, &World)),
}

/// One cell: a caller, a tool, arguments, the expected answer, and optionally
/// the same call against a nonexistent target, which must answer the same.
struct Cell {
    who: Who,
    tool: &'static str,
    args: Value,
    expect: Expect,
    /// The arguments with the target replaced by a nonexistent one.
    twin: Option<Value>,
}

fn cell(who: Who, tool: &'static str, args: Value, expect: Expect) -> Cell {
    Cell { who, tool, args, expect, twin: None }
}

fn twin(who: Who, tool: &'static str, args: Value, ghost: Value, expect: Expect) -> Cell {
    Cell { who, tool, args, expect, twin: Some(ghost) }
}

fn check_whoami_admin(out: &Value, w: &World) {
    assert_eq!(out["tenant"], w.a.as_str(), "whoami names the caller's tenant: {out}");
    assert_eq!(out["principal"], w.a_admin.id.as_str(), "{out}");
    assert_eq!(out["role"], "tenant_admin", "{out}");
}

fn check_whoami_viewer(out: &Value, w: &World) {
    assert_eq!(out["tenant"], w.a.as_str(), "{out}");
    assert_eq!(out["principal"], w.a_viewer.id.as_str(), "{out}");
    assert_eq!(out["role"], "viewer", "{out}");
}

fn check_server_info(out: &Value, w: &World) {
    let text = out.to_string();
    for secret in [&w.b, &w.b_slug, &w.b_admin.id, &w.b_viewer.id] {
        assert!(!text.contains(secret.as_str()), "server.info names B's {secret}: {text}");
    }
}

fn check_own_tenant(out: &Value, w: &World) {
    assert_eq!(out["id"], w.a.as_str(), "tenant.get without tenant_id reads the caller's own tenant: {out}");
    assert_eq!(out["slug"], w.a_slug.as_str(), "{out}");
    assert!(!out.to_string().contains(w.b.as_str()), "{out}");
}

fn check_key_list(out: &Value, w: &World) {
    let ids: BTreeSet<&str> =
        out["keys"].as_array().expect("keys").iter().map(|k| k["key_id"].as_str().expect("key_id")).collect();
    let expected: BTreeSet<&str> =
        [&w.a_admin.id, &w.a_viewer.id, &w.a_auditor.id].into_iter().map(String::as_str).collect();
    assert_eq!(ids, expected, "key.list shows exactly A's keys");
    let text = out.to_string();
    for k in [&w.b_admin, &w.b_viewer, &w.a_admin, &w.a_viewer, &w.a_auditor] {
        assert!(!text.contains(&k.secret[k.secret.len() - 64..]), "key.list shows a secret: {text}");
    }
    assert!(!text.contains(&w.b_admin.id) && !text.contains(&w.b_viewer.id), "key.list names B's keys: {text}");
}

fn check_verify_own(out: &Value, w: &World) {
    assert_eq!(out["chain"], w.a.as_str(), "audit.verify verifies the caller's chain: {out}");
    assert_eq!(out["valid"], true, "{out}");
}

/// The matrix. `w` supplies B's ids; ghosts are the nonexistent twins.
fn matrix(w: &World, listed: &BTreeSet<String>) -> Vec<Cell> {
    use Expect::*;
    use Who::*;
    let (b, a) = (w.b.as_str(), w.a.as_str());
    let (bk, bv) = (w.b_admin.id.as_str(), w.b_viewer.id.as_str());
    let t = |id: &str| json!({"tenant_id": id});
    let mut cells = vec![
        // --- A's tenant admin ---
        cell(Admin, "whoami", json!({}), Allowed(check_whoami_admin)),
        // A tool that acts on no tenant takes no tenant_id: an unknown argument.
        cell(Admin, "whoami", t(b), GateToolError("invalid_arguments")),
        cell(Admin, "server.info", json!({}), Allowed(check_server_info)),
        cell(Admin, "tenant.get", json!({}), Allowed(check_own_tenant)),
        twin(Admin, "tenant.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Admin, "tenant.get.v1", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "tenant.list", json!({}), Forbidden("role_required")),
        cell(Admin, "tenant.list", json!({"limit": 100}), Forbidden("role_required")),
        twin(Admin, "tenant.suspend", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "tenant.suspend", t(a), Forbidden("role_required")),
        twin(Admin, "tenant.resume", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "tenant.resume", t(a), Forbidden("role_required")),
        cell(
            Admin,
            "tenant.bootstrap",
            json!({"slug": "iso-charlie", "display_name": "C"}),
            Forbidden("role_required"),
        ),
        // B's slug is taken: the answer must not say so (no `conflict`).
        cell(Admin, "tenant.bootstrap", json!({"slug": w.b_slug, "display_name": "B"}), Forbidden("role_required")),
        cell(Admin, "key.list", json!({}), Allowed(check_key_list)),
        // Every tenant-scoped tool takes a tenant_id: naming another tenant is a spoof.
        twin(Admin, "key.list", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Admin, "key.revoke", json!({"key_id": bk}), json!({"key_id": GHOST_KEY}), ToolFailed("not_found")),
        twin(Admin, "key.revoke", json!({"key_id": bv}), json!({"key_id": GHOST_KEY}), ToolFailed("not_found")),
        twin(
            Admin,
            "key.rotate",
            json!({"key_id": bk, "grace_seconds": 0}),
            json!({"key_id": GHOST_KEY, "grace_seconds": 0}),
            ToolFailed("not_found"),
        ),
        twin(
            Admin,
            "key.rotate",
            json!({"key_id": bv, "grace_seconds": 60}),
            json!({"key_id": GHOST_KEY, "grace_seconds": 60}),
            ToolFailed("not_found"),
        ),
        // The platform's own key is another scope's key too.
        twin(
            Admin,
            "key.revoke",
            json!({"key_id": w.platform_key_id}),
            json!({"key_id": GHOST_KEY}),
            ToolFailed("not_found"),
        ),
        // No escalation out of the tenant: a platform key cannot be minted by a tenant admin...
        cell(Admin, "key.issue", json!({"role": "platform_admin", "label": "x"}), ToolFailed("invalid_arguments")),
        // ...and naming another tenant on key.issue is a spoof.
        twin(
            Admin,
            "key.issue",
            json!({"role": "viewer", "label": "x", "tenant_id": b}),
            json!({"role": "viewer", "label": "x", "tenant_id": GHOST_TENANT}),
            Forbidden("tenant_mismatch"),
        ),
        // key.revoke_all acts on the caller's own scope: naming another is a spoof.
        twin(Admin, "key.revoke_all", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "audit.verify", json!({}), Allowed(check_verify_own)),
        twin(Admin, "audit.verify", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "audit.verify", t("_system"), Forbidden("tenant_mismatch")),
        // Data lifecycle (issue 8): the flag refuses tenant.delete before anything is read.
        twin(Admin, "tenant.delete", t(b), t(GHOST_TENANT), Forbidden("feature_disabled")),
        twin(
            Admin,
            "tenant.legal_hold",
            json!({"tenant_id": b, "hold": true, "reason": "x"}),
            json!({"tenant_id": GHOST_TENANT, "hold": true, "reason": "x"}),
            Forbidden("tenant_mismatch"),
        ),
        cell(
            Admin,
            "tenant.legal_hold",
            json!({"tenant_id": a, "hold": true, "reason": "x"}),
            Forbidden("role_required"),
        ),
        twin(Admin, "audit.export_package", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Admin, "tenant.export_data", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        // --- A's viewer ---
        cell(Viewer, "whoami", json!({}), Allowed(check_whoami_viewer)),
        twin(Viewer, "audit.export_package", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Viewer, "audit.export_package", json!({}), Forbidden("role_required")),
        twin(Viewer, "tenant.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Viewer, "tenant.get", json!({}), Forbidden("role_required")),
        twin(Viewer, "audit.verify", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Viewer, "key.list", json!({}), Forbidden("role_required")),
        twin(Viewer, "key.revoke", json!({"key_id": bk}), json!({"key_id": GHOST_KEY}), Forbidden("role_required")),
        twin(
            Viewer,
            "key.rotate",
            json!({"key_id": bk, "grace_seconds": 0}),
            json!({"key_id": GHOST_KEY, "grace_seconds": 0}),
            Forbidden("role_required"),
        ),
        cell(Viewer, "key.issue", json!({"role": "viewer", "label": "x"}), Forbidden("role_required")),
        cell(Viewer, "key.revoke_all", json!({}), Forbidden("role_required")),
        cell(Viewer, "tenant.list", json!({}), Forbidden("role_required")),
        twin(Viewer, "tenant.suspend", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Viewer, "tenant.bootstrap", json!({"slug": "iso-delta", "display_name": "D"}), Forbidden("role_required")),
        // --- A's auditor ---
        cell(Auditor, "audit.verify", json!({}), Allowed(check_verify_own)),
        twin(Auditor, "audit.verify", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Auditor, "tenant.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Auditor, "key.list", json!({}), Forbidden("role_required")),
        twin(Auditor, "key.revoke", json!({"key_id": bv}), json!({"key_id": GHOST_KEY}), Forbidden("role_required")),
        cell(Auditor, "tenant.list", json!({}), Forbidden("role_required")),
    ];
    // Billing tools (DESIGN.md "Tools"), covered as soon as the server lists them.
    let plan_set = |id: &str| json!({"tenant_id": id, "plan": "enterprise"});
    let billing = vec![
        cell(Admin, "plan.catalog", json!({}), Allowed(|_, _| ())),
        twin(Admin, "plan.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Auditor, "plan.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Viewer, "plan.get", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Admin, "plan.set", plan_set(b), plan_set(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Viewer, "plan.set", plan_set(b), plan_set(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Admin, "plan.set", plan_set(a), Forbidden("role_required")),
        twin(Admin, "usage.report", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Auditor, "usage.report", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Viewer, "usage.report", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
    ];
    cells.extend(billing.into_iter().filter(|c| listed.contains(c.tool)));
    // OAuth subject tools: an invite, a list or an unbind naming B is a spoof; a key cannot redeem.
    let invite = |id: &str| json!({"role": "viewer", "kind": "user", "tenant_id": id});
    let unbind = |id: &str| json!({"issuer": "https://auth.example", "subject": "s", "tenant_id": id});
    cells.extend([
        twin(Admin, "identity.invite", invite(b), invite(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(Viewer, "identity.invite", json!({"role": "viewer", "kind": "user"}), Forbidden("role_required")),
        cell(Admin, "identity.list", json!({}), Allowed(|_, _| ())),
        twin(Admin, "identity.list", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Auditor, "identity.list", t(b), t(GHOST_TENANT), Forbidden("tenant_mismatch")),
        twin(Admin, "identity.unbind", unbind(b), unbind(GHOST_TENANT), Forbidden("tenant_mismatch")),
        cell(
            Admin,
            "identity.unbind",
            json!({"issuer": "https://auth.example", "subject": "s"}),
            ToolFailed("not_found"),
        ),
        cell(Admin, "identity.redeem", json!({"code": "tgi_0"}), ToolFailed("failed_precondition")),
    ]);
    cells
}

/// The audit record a cell must leave: (principal, tool, decision, reason).
type Expected = (String, String, &'static str, Option<String>);

fn expected_record(w: &World, who: Who, tool: &str, expect: Expect) -> Expected {
    let principal = match who {
        Who::Admin => &w.a_admin.id,
        Who::Viewer => &w.a_viewer.id,
        Who::Auditor => &w.a_auditor.id,
    };
    let tool = tool.strip_suffix(".v1").unwrap_or(tool).to_owned();
    let (decision, reason) = match expect {
        Expect::Forbidden(r) | Expect::GateToolError(r) => ("deny", Some(r.to_owned())),
        Expect::ToolFailed(c) => ("allow", Some(c.to_owned())),
        Expect::Allowed(_) => ("allow", None),
    };
    (principal.clone(), tool, decision, reason)
}

/// Check one reply against the cell's expectation.
fn check_reply(h: &str, c: &Cell, args: &Value, r: &Reply, w: &World) {
    let what = format!("[{h}] {:?} {} {args}", c.who, c.tool);
    match c.expect {
        Expect::Forbidden(reason) => {
            assert_eq!(error_code(&r.body), Some(-31403), "{what}: {}", r.body);
            assert_eq!(error_reason(&r.body), Some(reason), "{what}: {}", r.body);
            if let Some(s) = r.status {
                assert_eq!(s, 403, "{what}: -31403 is HTTP 403");
            }
            if reason == "tenant_mismatch" {
                // The data names only what the caller sent.
                assert_eq!(r.body["error"]["data"]["tenant_id"], args["tenant_id"], "{what}: {}", r.body);
            }
        }
        Expect::GateToolError(code) | Expect::ToolFailed(code) => {
            let failure = tool_failure(&r.body).unwrap_or_else(|| panic!("{what}: expected a tool error: {}", r.body));
            assert_eq!(failure["code"], code, "{what}: {}", r.body);
            if let Some(s) = r.status {
                assert_eq!(s, 200, "{what}: a tool error is a result");
            }
        }
        Expect::Allowed(check) => {
            let out = tool_output(&r.body).unwrap_or_else(|| panic!("{what}: expected success: {}", r.body));
            if let Some(s) = r.status {
                assert_eq!(s, 200, "{what}");
            }
            check(&out, w);
        }
    }
    // Whatever the answer, it never names B's objects beyond what the caller sent.
    let text = r.body.to_string();
    let sent = args.to_string();
    for b_thing in [&w.b, &w.b_slug, &w.b_admin.id, &w.b_viewer.id] {
        if !sent.contains(b_thing.as_str()) {
            assert!(!text.contains(b_thing.as_str()), "{what}: the answer names B's {b_thing}: {text}");
        }
    }
}

/// Replace the target id the caller sent with a placeholder.
fn neutral(body: &Value, target: &str) -> String {
    body.to_string().replace(target, "<target>")
}

async fn run_isolation(h: &Harness, platform_key: &str) {
    let w = setup(h, platform_key).await;
    let dir = h.dir().to_owned();

    // B as it is before the matrix, seen by B's admin and by the platform admin.
    let mut b_conn = h.connect(&w.b_admin.secret);
    let b_keys_before = b_conn.ok(10, "key.list", json!({})).await;
    b_conn.close();
    let mut platform = h.connect(platform_key);
    let b_tenant_before = platform.ok(11, "tenant.get", json!({"tenant_id": w.b})).await;
    platform.close();
    assert_eq!(b_tenant_before["status"], "active");
    assert_eq!(b_keys_before["keys"].as_array().map(Vec::len), Some(2), "{b_keys_before}");

    let before = audit_records(&dir);
    let a_seq_before = before.iter().filter(|r| r["chain"] == w.a.as_str()).count();
    assert!(a_seq_before >= 2, "setup calls of A's admin are in A's chain");

    // Every tool the server lists has cells: a new tool must join the matrix.
    let mut platform = h.connect(platform_key);
    let listed = platform.tool_names().await;
    platform.close();
    let cells = matrix(&w, &listed);
    let covered: BTreeSet<&str> = cells.iter().map(|c| c.tool.strip_suffix(".v1").unwrap_or(c.tool)).collect();
    let uncovered: Vec<&String> = listed.iter().filter(|t| !covered.contains(t.as_str())).collect();
    assert!(uncovered.is_empty(), "[{}] tools without a cell in the isolation matrix: {uncovered:?}", h.name());
    let usage_of_b = |dir: &Path| {
        sqlite_lines(&database(dir), &format!("SELECT * FROM usage_events WHERE tenant_id = '{}' ORDER BY id", w.b))
    };
    let b_usage_before = usage_of_b(&dir);

    // Run the matrix, one connection per caller, in cell order.
    let mut expected: Vec<Expected> = Vec::new();
    for who in [Who::Admin, Who::Viewer, Who::Auditor] {
        let key = match who {
            Who::Admin => &w.a_admin.secret,
            Who::Viewer => &w.a_viewer.secret,
            Who::Auditor => &w.a_auditor.secret,
        };
        let mut conn = h.connect(key);
        for (i, c) in cells.iter().enumerate().filter(|(_, c)| c.who == who) {
            let id = 100 + i64::try_from(i).unwrap_or(0);
            let r = conn.tool(id, c.tool, c.args.clone()).await;
            check_reply(h.name(), c, &c.args, &r, &w);
            expected.push(expected_record(&w, who, c.tool, c.expect));
            if let Some(ghost_args) = &c.twin {
                let g = conn.tool(id, c.tool, ghost_args.clone()).await;
                check_reply(h.name(), c, ghost_args, &g, &w);
                expected.push(expected_record(&w, who, c.tool, c.expect));
                let what = format!("[{}] {:?} {}: B's object vs a missing one", h.name(), who, c.tool);
                assert_eq!(r.status, g.status, "{what}");
                match c.expect {
                    // Another tenant's key answers exactly like a missing key: the same bytes.
                    Expect::ToolFailed(_) => assert_eq!(r.body, g.body, "{what}"),
                    // Otherwise the same answer but for echoing the id the caller sent.
                    _ => {
                        let (sent_b, sent_g) = (target_of(&c.args), target_of(ghost_args));
                        assert_eq!(neutral(&r.body, &sent_b), neutral(&g.body, &sent_g), "{what}");
                    }
                }
            }
        }
        conn.close();
    }

    // The audit log, straight from the database.
    let after = audit_records(&dir);
    let a_chain: Vec<&Value> = after.iter().filter(|r| r["chain"] == w.a.as_str()).collect();
    let new: Vec<&Value> = a_chain.iter().skip(a_seq_before).copied().collect();
    let got: Vec<Expected> = new
        .iter()
        .map(|r| {
            assert_eq!(r["tenant"], w.a.as_str(), "a record of A's chain is about A: {r}");
            (
                r["principal"].as_str().unwrap_or_default().to_owned(),
                r["tool"].as_str().unwrap_or_default().to_owned(),
                match r["decision"].as_str() {
                    Some("allow") => "allow",
                    Some("deny") => "deny",
                    other => panic!("decision {other:?} in {r}"),
                },
                r["reason"].as_str().map(str::to_owned),
            )
        })
        .collect();
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "[{}] audit record #{i} of the matrix in A's chain: {}", h.name(), new[i]);
    }
    assert_eq!(got.len(), expected.len(), "[{}] one record in A's chain per attempt, no more, no less", h.name());
    let seqs: Vec<u64> = a_chain.iter().filter_map(|r| r["seq"].as_u64()).collect();
    assert_eq!(seqs, (1..=a_chain.len() as u64).collect::<Vec<_>>(), "A's chain is gapless");

    // Nothing was written to B's chain, or to any chain but A's.
    let untouched = |records: &[Value]| -> Vec<Value> {
        records.iter().filter(|r| r["chain"] != w.a.as_str()).cloned().collect::<Vec<_>>()
    };
    let b_before: Vec<&Value> = before.iter().filter(|r| r["chain"] == w.b.as_str()).collect();
    let b_after: Vec<&Value> = after.iter().filter(|r| r["chain"] == w.b.as_str()).collect();
    assert_eq!(b_before, b_after, "[{}] the attempts left nothing in B's chain", h.name());
    assert_eq!(untouched(&before), untouched(&after), "[{}] no chain but A's changed", h.name());
    for r in &after {
        if r["chain"] == w.b.as_str() {
            for k in [&w.a_admin.id, &w.a_viewer.id, &w.a_auditor.id] {
                assert_ne!(r["principal"], k.as_str(), "A's key in B's chain: {r}");
            }
        }
    }

    assert_eq!(usage_of_b(&dir), b_usage_before, "[{}] A's attempts were not metered to B", h.name());

    // B is unchanged and works: its keys, its tenant, its chain.
    let mut b_conn = h.connect(&w.b_admin.secret);
    let who = b_conn.ok(20, "whoami", json!({})).await;
    assert_eq!(who["tenant"], w.b.as_str(), "B's admin key still works");
    assert_eq!(b_conn.ok(21, "key.list", json!({})).await, b_keys_before, "B's keys are unchanged");
    let own = b_conn.ok(22, "tenant.get", json!({})).await;
    assert_eq!(own["status"], "active");
    b_conn.close();
    let mut b_conn = h.connect(&w.b_viewer.secret);
    assert_eq!(b_conn.ok(23, "whoami", json!({})).await["tenant"], w.b.as_str(), "B's viewer key still works");
    b_conn.close();
    let mut platform = h.connect(platform_key);
    assert_eq!(platform.ok(24, "tenant.get", json!({"tenant_id": w.b})).await, b_tenant_before, "B is unchanged");
    for chain in [&w.a, &w.b] {
        let v = platform.ok(25, "audit.verify", json!({"tenant_id": chain})).await;
        assert_eq!(v["valid"], true, "[{}] chain {chain} verifies: {v}", h.name());
    }
    // Bootstrap was refused: no tenant was created by A's keys.
    let list = platform.ok(26, "tenant.list", json!({"limit": 100})).await;
    let slugs: BTreeSet<&str> =
        list["tenants"].as_array().expect("tenants").iter().filter_map(|t| t["slug"].as_str()).collect();
    assert!(!slugs.contains("iso-charlie") && !slugs.contains("iso-delta"), "{list}");
    assert!(slugs.contains("iso-alpha") && slugs.contains("iso-bravo"), "{list}");
    platform.close();
}

/// The id a call targets (tenant or key), for comparing twin answers.
fn target_of(args: &Value) -> String {
    let id = args.get("tenant_id").or_else(|| args.get("key_id")).and_then(Value::as_str);
    id.unwrap_or_else(|| panic!("a twin cell names its target: {args}")).to_owned()
}

#[tokio::test]
async fn tenant_a_cannot_read_or_change_tenant_b_over_http() {
    let server = HttpServer::start(&[]);
    let h = Harness::Http { url: server.endpoint(), dir: server.dir.path.clone() };
    run_isolation(&h, &server.dir.admin_key).await;
}

#[tokio::test]
async fn tenant_a_cannot_read_or_change_tenant_b_over_stdio() {
    let dir = DataDir::init();
    let h = Harness::Stdio { dir: dir.path.clone() };
    run_isolation(&h, &dir.admin_key).await;
}

/// A platform admin may name any tenant; naming one that does not exist is
/// `not_found`, and must not conjure an audit chain for it: records of
/// platform calls about no tenant belong on `_system`. Otherwise any string
/// becomes a chain, `audit.verify` calls a missing tenant's chain valid, and
/// a tenant bootstrapped later (its id is derived from its slug) starts life
/// with records that predate it.
#[tokio::test]
async fn a_platform_admin_naming_a_missing_tenant_creates_no_chain_for_it() {
    // Learn the id `iso-future` will get (ids depend only on the slug).
    let other = HttpServer::start(&[]);
    let boot = tool_output(
        &http_tool(&other.endpoint(), 1, "tenant.bootstrap", json!({"slug": "iso-future", "display_name": "F"}))
            .await
            .body,
    )
    .expect("bootstrap");
    let future_id = boot["tenant_id"].as_str().expect("tenant_id").to_owned();
    drop(other);

    let server = HttpServer::start(&[]);
    let ep = server.endpoint();
    let mut answers = Vec::new();
    for missing in [GHOST_TENANT, future_id.as_str()] {
        for tool in ["tenant.get", "audit.verify", "tenant.suspend"] {
            let a = http_tool(&ep, 2, tool, json!({"tenant_id": missing})).await;
            answers.push((tool, missing.to_owned(), a.status, a.body));
        }
    }
    let boot = tool_output(
        &http_tool(&ep, 3, "tenant.bootstrap", json!({"slug": "iso-future", "display_name": "F"})).await.body,
    )
    .expect("bootstrap");
    assert_eq!(boot["tenant_id"], future_id.as_str(), "tenant ids are derived from the slug");

    let records = audit_records(&server.dir.path);
    let chains: BTreeSet<&str> = records.iter().filter_map(|r| r["chain"].as_str()).collect();
    let future_chain: Vec<&Value> = records.iter().filter(|r| r["chain"] == future_id.as_str()).collect();
    // Collect every problem, so that one run shows them all.
    let mut problems = Vec::new();
    for (tool, missing, status, body) in &answers {
        let code = tool_failure(body).map(|f| f["code"].clone());
        if *status != 200 || code != Some(json!("not_found")) {
            problems.push(format!(
                "{tool} naming missing tenant {missing}: expected tool error not_found, got {status} {body}"
            ));
        }
    }
    if chains.contains(GHOST_TENANT) {
        problems.push(format!("an audit chain exists for the missing tenant {GHOST_TENANT}: chains {chains:?}"));
    }
    if !future_chain.is_empty() {
        problems.push(format!("the new tenant's chain starts with records from before it existed: {future_chain:?}"));
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

/// An empty `tenant_id` from a platform admin is the caller's mistake: a tool
/// error, audited like any call, not -31503 "storage unavailable" with
/// nothing recorded.
#[tokio::test]
async fn a_platform_admin_naming_an_empty_tenant_id_gets_a_tool_error_not_unavailable() {
    let server = HttpServer::start(&[]);
    let ep = server.endpoint();
    let before = audit_records(&server.dir.path).len();
    let mut n = 0;
    for tool in ["tenant.get", "audit.verify", "tenant.suspend"] {
        let a = http_tool(&ep, 1, tool, json!({"tenant_id": ""})).await;
        assert_ne!(
            error_code(&a.body),
            Some(-31503),
            "{tool} {{tenant_id: \"\"}} claims the store is down: {:?}",
            a.body
        );
        let code = tool_failure(&a.body).map(|f| f["code"].clone());
        assert!(
            code == Some(json!("invalid_arguments")) || code == Some(json!("not_found")),
            "{tool} {{tenant_id: \"\"}}: {} {:?}",
            a.status,
            a.body
        );
        n += 1;
    }
    assert_eq!(audit_records(&server.dir.path).len(), before + n, "every call left one audit record");
}
