//! `tollgate call` and `tollgate tools` (issue 18, Done-when 3): the CLI
//! client over HTTP, HTTPS (with mTLS) and stdio, in both protocol eras, and
//! every exit code it promises — 0 success, 1 tool failure, 2 usage error,
//! 3 denial, 4 a confirmation it could not ask, 5 no answer.
//!
//! Credentials only ever travel in the environment: every key here is given
//! by naming a variable (`--api-key-env`) or as `TOLLGATE_API_KEY`.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use system_tests::pki::{ClientIdentity, Pki};
use system_tests::*;

/// One run of the client: exit code, stdout, stderr.
struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.out.trim()).unwrap_or_else(|e| panic!("--json printed no JSON ({e}): {self:?}"))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\nstdout: {}\nstderr: {}", self.code, self.out, self.err)
    }
}

/// `tollgate ARGS` with exactly the environment in `env` (no inherited key or data dir), stdin not a terminal.
fn tollgate(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(binary());
    cmd.args(args).env_remove("TOLLGATE_API_KEY").env_remove("TOLLGATE_DATA_DIR").stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tollgate");
    Run {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// How one target is reached: the flags after `call TOOL` / `tools`.
#[derive(Clone)]
struct Target {
    name: &'static str,
    transport: &'static str,
    flags: Vec<String>,
}

impl Target {
    fn with_era(&self, legacy: bool) -> Vec<String> {
        let mut flags = self.flags.clone();
        if legacy {
            flags.push("--legacy".into());
        }
        flags
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `call TOOL --args ARGS --api-key-env KEY --json` plus the target's flags.
fn call(target: &[String], tool: &str, args: Value, key: &str) -> (Vec<String>, String) {
    let mut argv = s(&["call", tool, "--args"]);
    argv.push(args.to_string());
    argv.extend(s(&["--api-key-env", "KEY", "--json"]));
    argv.extend(target.iter().cloned());
    (argv, key.to_owned())
}

fn run_call(target: &[String], tool: &str, args: Value, key: &str) -> Run {
    let (argv, key) = call(target, tool, args, key);
    tollgate(&argv, &[("KEY", &key)])
}

/// A tenant on the server behind `target`: its admin key and a viewer key, made with the client itself.
fn tenant(target: &[String], admin: &str, slug: &str) -> (String, String) {
    let boot = json!({"slug": slug, "display_name": slug, "plan": "pro"});
    let made = run_call(target, "tenant.bootstrap", boot, admin);
    assert_eq!(made.code, Some(0), "bootstrap {slug}: {made:?}");
    let admin_key = made.json()["structuredContent"]["api_key"].as_str().expect("api_key").to_owned();
    let viewer = run_call(target, "key.issue", json!({"role": "viewer", "label": "ro"}), &admin_key);
    assert_eq!(viewer.code, Some(0), "viewer key: {viewer:?}");
    let viewer_key = viewer.json()["structuredContent"]["api_key"].as_str().expect("api_key").to_owned();
    (admin_key, viewer_key)
}

/// Every exit code over one target and era.
fn exercise(target: &Target, legacy: bool, admin: &str, tenant_admin: &str, viewer: &str) {
    let t = target.with_era(legacy);
    let era = if legacy { "legacy" } else { "modern" };
    let at = format!("{} {era}", target.name);

    // 0: the structured result, from the era and transport asked for.
    let who = run_call(&t, "whoami", json!({}), viewer);
    assert_eq!(who.code, Some(0), "{at} whoami: {who:?}");
    let me = &who.json()["structuredContent"];
    assert_eq!((me["era"].as_str(), me["transport"].as_str()), (Some(era), Some(target.transport)), "{at}: {me}");
    assert_eq!(me["role"], "viewer", "{at}: {me}");

    // 0: `tools` lists what the caller may use, with versions; a viewer sees no key.issue.
    let mut argv = s(&["tools", "--api-key-env", "KEY", "--json"]);
    argv.extend(t.iter().cloned());
    let listed = tollgate(&argv, &[("KEY", viewer)]);
    assert_eq!(listed.code, Some(0), "{at} tools: {listed:?}");
    let tools = listed.json()["tools"].as_array().cloned().unwrap_or_default();
    let whoami = tools.iter().find(|x| x["name"] == "whoami").unwrap_or_else(|| panic!("{at}: no whoami in {tools:?}"));
    assert_eq!(whoami["version"], 1, "{at}: {whoami}");
    assert!(whoami["description"].as_str().is_some_and(|d| !d.is_empty() && !d.contains('\n')), "{at}: {whoami}");
    assert!(!tools.iter().any(|x| x["name"] == "key.issue"), "{at}: a viewer is not offered key.issue");
    let mut human = s(&["tools", "--api-key-env", "KEY"]);
    human.extend(t.iter().cloned());
    let lines = tollgate(&human, &[("KEY", tenant_admin)]);
    assert_eq!(lines.code, Some(0), "{at} tools: {lines:?}");
    assert!(lines.out.lines().any(|l| l.starts_with("key.issue ") && l.contains(" v1 ")), "{at}: {}", lines.out);

    // 1: a tool failure (isError) prints its code.
    let failed = run_call(&t, "key.revoke", json!({"key_id": "k0000000000000000"}), tenant_admin);
    assert_eq!(failed.code, Some(1), "{at} revoke a missing key: {failed:?}");
    assert_eq!(failed.json()["isError"], true, "{at}");

    // 2: a usage error, before anything is sent.
    let bad = run_call(&t, "whoami", json!([1]), viewer);
    assert_eq!(bad.code, Some(2), "{at} non-object --args: {bad:?}");
    let mut unset = s(&["call", "whoami", "--api-key-env", "NO_SUCH_VAR_FOR_TOLLGATE"]);
    unset.extend(t.iter().cloned());
    let unset = tollgate(&unset, &[]);
    assert_eq!(unset.code, Some(2), "{at} unset key variable: {unset:?}");
    assert!(unset.err.contains("NO_SUCH_VAR_FOR_TOLLGATE"), "{at}: {unset:?}");

    // --bearer-env sends the token the same way (HTTP only; stdio takes an API key).
    let mut bearer = s(&["call", "whoami", "--bearer-env", "TOKEN", "--json"]);
    bearer.extend(t.iter().cloned());
    let by_bearer = tollgate(&bearer, &[("TOKEN", viewer)]);
    let want = if target.transport == "stdio" { Some(2) } else { Some(0) };
    assert_eq!(by_bearer.code, want, "{at} --bearer-env: {by_bearer:?}");

    // 3: a denial, with its code and reason.
    let denied = run_call(&t, "key.issue", json!({"role": "viewer", "label": "x"}), viewer);
    assert_eq!(denied.code, Some(3), "{at} viewer issues a key: {denied:?}");
    assert_eq!(denied.json()["error"]["code"], -31403, "{at}: {denied:?}");
    assert_eq!(denied.json()["error"]["data"]["reason"], "role_required", "{at}: {denied:?}");
    let human = run_call(&t[..], "key.issue", json!({"role": "viewer", "label": "x"}), viewer);
    assert!(human.err.contains("role_required"), "{at}: {human:?}");
    let bogus = run_call(&t, "whoami", json!({}), "tg_knotakey_0000");
    assert_eq!(bogus.code, Some(3), "{at} a malformed key: {bogus:?}");
    assert_eq!(bogus.json()["error"]["code"], -31401, "{at}: {bogus:?}");
    assert!(!bogus.out.contains("0000") && !bogus.err.contains("0000"), "{at}: the secret is never printed");

    // 4: a confirmation with stdin not a terminal: the question is printed, nothing is revoked.
    let asked = run_call(&t, "key.revoke_all", json!({}), tenant_admin);
    assert_eq!(asked.code, Some(4), "{at} revoke_all without a terminal: {asked:?}");
    assert!(asked.err.contains("the tool asks: Revoke") && asked.err.contains("not a terminal"), "{at}: {asked:?}");
    assert!(asked.json()["unasked"][0].as_str().is_some_and(|q| q.contains("Revoke")), "{at}: {asked:?}");
    let still = run_call(&t, "whoami", json!({}), viewer);
    assert_eq!(still.code, Some(0), "{at}: the viewer key survived an unanswered revoke_all: {still:?}");

    // The platform admin's key works too (no tenant).
    let root = run_call(&t, "whoami", json!({}), admin);
    assert_eq!(root.json()["structuredContent"]["role"], "platform_admin", "{at}: {root:?}");
}

#[test]
fn call_and_tools_give_every_exit_code_over_http_https_and_stdio_in_both_eras() {
    let http = HttpServer::start(&[]);
    let pki = Pki::new();
    let tls_dir = DataDir::init();
    let files = pki.write(&tls_dir.path.join("pki"));
    let https = HttpServer::start_in(
        tls_dir,
        &["--tls-cert", &path(&files.cert), "--tls-key", &path(&files.key), "--client-ca", &path(&files.ca)],
    );
    let targets = [
        Target { name: "http", transport: "http", flags: s(&["--url", &format!("{}/mcp", http.base)]) },
        Target {
            name: "https",
            transport: "https",
            flags: s(&["--url", &format!("{}/mcp", https.base), "--ca", &path(&files.ca)]),
        },
        Target { name: "stdio", transport: "stdio", flags: s(&["--stdio", "--data-dir", &path(&http.dir.path)]) },
    ];
    let (http_admin, http_viewer) = tenant(&targets[0].flags, &http.dir.admin_key, "acme");
    let (https_admin, https_viewer) = tenant(&targets[1].flags, &https.dir.admin_key, "acme");
    for legacy in [false, true] {
        exercise(&targets[0], legacy, &http.dir.admin_key, &http_admin, &http_viewer);
        exercise(&targets[1], legacy, &https.dir.admin_key, &https_admin, &https_viewer);
        // stdio runs on the HTTP server's data dir, beside the running server.
        exercise(&targets[2], legacy, &http.dir.admin_key, &http_admin, &http_viewer);
    }

    // 5: no answer — a closed port, a server certificate from a CA not trusted, a stdio dir that is not one.
    let closed = run_call(&s(&["--url", "http://127.0.0.1:9/mcp"]), "whoami", json!({}), &http_viewer);
    assert_eq!(closed.code, Some(5), "closed port: {closed:?}");
    let other = Pki::new().write(&https.dir.path.join("other-pki"));
    let untrusted = s(&["--url", &format!("{}/mcp", https.base), "--ca", &path(&other.ca)]);
    let tls_refused = run_call(&untrusted, "whoami", json!({}), &https_viewer);
    assert_eq!(tls_refused.code, Some(5), "untrusted server certificate: {tls_refused:?}");
    assert!(tls_refused.err.contains("TLS"), "{tls_refused:?}");
    let nowhere = run_call(&s(&["--stdio", "--data-dir", "/nonexistent/tollgate"]), "whoami", json!({}), &http_viewer);
    assert_eq!(nowhere.code, Some(5), "stdio on a missing dir: {nowhere:?}");
    // A stdio server that refuses its key at start is a denial (3) with the reason, like HTTP's 401.
    let stdio_flags = &targets[2].flags;
    let refused = run_call(stdio_flags, "whoami", json!({}), "tg_knotakey_0000");
    assert_eq!(refused.code, Some(3), "stdio refused key: {refused:?}");
    assert_eq!(refused.json()["error"]["data"]["reason"], "malformed_key", "{refused:?}");
}

#[test]
fn mtls_client_certificates_act_as_their_bound_principal() {
    let pki = Pki::new();
    let dir = DataDir::init();
    let files = pki.write(&dir.path.join("pki"));
    let https = HttpServer::start_in(
        dir,
        &["--tls-cert", &path(&files.cert), "--tls-key", &path(&files.key), "--client-ca", &path(&files.ca)],
    );
    let robot: ClientIdentity = pki.client("robot");
    let cert = https.dir.path.join("robot.pem");
    let key = https.dir.path.join("robot.key");
    std::fs::write(&cert, &robot.cert_pem).expect("write cert");
    std::fs::write(&key, &robot.key_pem).expect("write key");
    let base = s(&["--url", &format!("{}/mcp", https.base), "--ca", &path(&files.ca)]);
    let mut with_cert = base.clone();
    with_cert.extend(s(&["--client-cert", &path(&cert), "--client-key", &path(&key)]));
    let (admin, _) = tenant(&base, &https.dir.admin_key, "acme");

    // Bound over a connection that presents the certificate, then used with no key at all.
    let bound = run_call(&with_cert, "key.bind_cert", json!({"role": "operator", "label": "robot"}), &admin);
    assert_eq!(bound.code, Some(0), "bind: {bound:?}");
    for legacy in [false, true] {
        let mut argv = s(&["call", "whoami", "--json"]);
        argv.extend(with_cert.iter().cloned());
        if legacy {
            argv.push("--legacy".into());
        }
        let who = tollgate(&argv, &[]);
        assert_eq!(who.code, Some(0), "whoami by certificate: {who:?}");
        let me = &who.json()["structuredContent"];
        assert_eq!(me["role"], "operator", "{me}");
        assert_eq!(me["principal"].as_str().map(|p| p.contains(&robot.fingerprint[..16])), Some(true), "{me}");
    }
    // --client-cert without its key is a usage error.
    let mut half = s(&["call", "whoami", "--client-cert", &path(&cert)]);
    half.extend(base.iter().cloned());
    assert_eq!(tollgate(&half, &[]).code, Some(2));
}

#[test]
fn an_idempotency_key_reaches_the_server() {
    let http = HttpServer::start(&[]);
    let target = s(&["--url", &format!("{}/mcp", http.base)]);
    let (admin, _) = tenant(&target, &http.dir.admin_key, "acme");
    let issue = |stdio: bool| {
        let mut argv = call(&target, "key.issue", json!({"role": "viewer", "label": "once"}), &admin).0;
        if stdio {
            argv.truncate(argv.len() - target.len());
            argv.extend(s(&["--stdio", "--data-dir", &path(&http.dir.path)]));
        }
        argv.extend(s(&["--idempotency-key", "issue-1"]));
        tollgate(&argv, &[("KEY", &admin)])
    };
    assert_eq!(issue(false).code, Some(0));
    // A retry under the same key is not run again; a fresh secret is never replayed.
    for stdio in [false, true] {
        let again = issue(stdio);
        assert_eq!(again.code, Some(1), "retry (stdio {stdio}): {again:?}");
        assert!(again.err.contains("not_replayable"), "{again:?}");
    }
}

/// `script` gives the client a terminal; stdin is typed through it.
fn on_a_terminal(argv: &[String], env: &[(&str, &str)], typed: &str) -> Option<Run> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping the terminal case: no `script` (util-linux) on this machine");
        return None;
    }
    let line: Vec<String> = std::iter::once(path(&binary())).chain(argv.iter().map(|a| format!("'{a}'"))).collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("(sleep 1; printf '{typed}\\n') | script -qec \"{}\" /dev/null", line.join(" ")))
        .env_remove("TOLLGATE_API_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script");
    Some(Run {
        code: out.status.code(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[test]
fn a_confirmation_is_asked_on_a_terminal_and_its_answer_decides() {
    let http = HttpServer::start(&[]);
    let target = s(&["--url", &format!("{}/mcp", http.base)]);
    let (admin, viewer) = tenant(&target, &http.dir.admin_key, "acme");
    let stdio = s(&["--stdio", "--data-dir", &path(&http.dir.path)]);
    let revoke_all = |flags: &[String], legacy: bool| {
        let mut argv = s(&["call", "key.revoke_all", "--api-key-env", "KEY"]);
        argv.extend(flags.iter().cloned());
        if legacy {
            argv.push("--legacy".into());
        }
        argv
    };
    // "n" over a 2025 stdio conversation: declined, nothing revoked (exit 1).
    let Some(no) = on_a_terminal(&revoke_all(&stdio, true), &[("KEY", &admin)], "n") else { return };
    assert_eq!(no.code, Some(1), "answered no: {no:?}");
    assert!(no.out.contains("Revoke") && no.out.contains("declined"), "{no:?}");
    assert_eq!(run_call(&target, "whoami", json!({}), &viewer).code, Some(0), "the viewer key is untouched");
    // "y" over 2026-07-28 HTTP: the sealed state is answered and the keys are revoked (exit 0).
    let yes = on_a_terminal(&revoke_all(&target, false), &[("KEY", &admin)], "y").expect("script ran before");
    assert_eq!(yes.code, Some(0), "answered yes: {yes:?}");
    assert!(yes.out.contains("revoked"), "{yes:?}");
    assert_eq!(run_call(&target, "whoami", json!({}), &viewer).code, Some(3), "the viewer key is revoked");
}
