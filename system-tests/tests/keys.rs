//! API key lifecycle (issue 5, Done-when 2).
//!
//! A revoked key, an expired key, a rotated key after its grace, a malformed
//! key, a wrong secret for a real key id, and a key of a suspended tenant are
//! each refused: HTTP 401, `WWW-Authenticate: Bearer`, -31401 and the reason
//! of `src/identity/authenticate.rs`. Time moves through the server's
//! `--clock-file`, never by sleeping. Then no issued secret may appear in the
//! database files, the server's logs (`RUST_LOG=debug`) or the audit records.
//!
//! Also: `tollgate stdio` refuses to start without a credential, and
//! `--local-admin` acts as (and is audited as) the principal `local`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use system_tests::*;

const T0: &str = "2030-01-01T00:00:00Z";

fn set_clock(path: &Path, now: &str) {
    std::fs::write(path, now).expect("write the clock file");
}

/// Every way a secret could be written: the whole token, its secret part as
/// hex, and the secret's raw bytes.
fn needles(token: &str) -> Vec<Vec<u8>> {
    let secret = token.rsplit('_').next().expect("secret part");
    assert_eq!(secret.len(), 64, "a tg_ key's secret is 64 hex digits: {token}");
    let raw: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&secret[2 * i..2 * i + 2], 16).expect("hex")).collect();
    vec![token.as_bytes().to_vec(), secret.as_bytes().to_vec(), secret.to_uppercase().into_bytes(), raw]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Assert no secret appears in `bytes` (named `what`).
fn assert_no_secret(what: &str, bytes: &[u8], secrets: &[String]) {
    assert!(!bytes.is_empty() || what.contains("log"), "{what} is empty: nothing was checked");
    for token in secrets {
        for (i, needle) in needles(token).iter().enumerate() {
            assert!(!contains(bytes, needle), "{what} contains secret {token} (form #{i})");
        }
    }
}

/// Every file of the data dir (the database, its -wal and -shm, config, keys).
fn assert_no_secret_in_dir(dir: &Path, secrets: &[String]) -> Vec<String> {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read file");
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !bytes.is_empty() {
                assert_no_secret(&name, &bytes, secrets);
            }
            seen.push(name);
        }
    }
    seen
}

/// A refusal over HTTP: 401, `WWW-Authenticate: Bearer`, -31401, the reason.
fn assert_401(what: &str, a: &Answer, reason: &str) {
    assert_eq!(a.status, 401, "{what}: {:?}", a.body);
    let challenge = a.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{what}: WWW-Authenticate is {challenge:?}");
    assert_eq!(error_code(&a.body), Some(-31401), "{what}: {:?}", a.body);
    assert_eq!(error_reason(&a.body), Some(reason), "{what}: {:?}", a.body);
    assert!(a.body.get("result").is_none(), "{what}");
}

/// Tally of unauthenticated attempts per reason, to compare with `_system`.
#[derive(Default)]
struct Tally(BTreeMap<String, u64>);

/// The key (as an Authorization header value, or none) is refused for a tool
/// call, for `tools/list`, and for a legacy `initialize`, all with `reason`.
async fn assert_refused(ep: &Endpoint, authorization: Option<&str>, reason: &str, tally: &mut Tally) {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    let ep = ep.with_key(None);
    let what = format!("{reason} via {authorization:?}");

    let mut call_params = json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()});
    let mut h = headers.clone();
    h.extend([("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "whoami")]);
    let a = post(&ep, &h, &request(1, "tools/call", call_params.take()).to_string()).await;
    assert_401(&format!("{what}: tools/call"), &a, reason);

    let mut h = headers.clone();
    h.extend([("mcp-protocol-version", MODERN), ("mcp-method", "tools/list")]);
    let a = post(&ep, &h, &request(2, "tools/list", json!({"_meta": modern_meta()})).to_string()).await;
    assert_401(&format!("{what}: tools/list"), &a, reason);

    let init = request(
        3,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let a = post(&ep, &headers, &init.to_string()).await;
    assert_401(&format!("{what}: legacy initialize"), &a, reason);
    assert!(a.headers.get("mcp-session-id").is_none(), "{what}: no session for a refused key");

    *tally.0.entry(reason.to_owned()).or_default() += 3;
}

/// The key works: whoami answers with its key id.
async fn assert_works(ep: &Endpoint, key: &Key, what: &str) {
    let a = http_tool(&ep.with_key(Some(&key.token)), 9, "whoami", json!({})).await;
    assert_eq!(a.status, 200, "{what}: {:?}", a.body);
    let out = tool_output(&a.body).unwrap_or_else(|| panic!("{what}: {:?}", a.body));
    assert_eq!(out["principal"], key.id.as_str(), "{what}: {out}");
}

#[derive(Debug, Clone)]
struct Key {
    id: String,
    token: String,
}

fn key_of(out: &Value) -> Key {
    Key {
        id: out["key_id"].as_str().expect("key_id").to_owned(),
        token: out["api_key"].as_str().expect("api_key").to_owned(),
    }
}

async fn ok(ep: &Endpoint, key: &str, name: &str, args: Value) -> Value {
    let a = http_tool(&ep.with_key(Some(key)), 7, name, args).await;
    assert_eq!(a.status, 200, "{name}: {:?}", a.body);
    tool_output(&a.body).unwrap_or_else(|| panic!("{name} failed: {:?}", a.body))
}

#[tokio::test]
async fn refused_keys_get_401_with_their_reason_and_no_secret_is_ever_written() {
    let dir = DataDir::init();
    let clock = dir.path.join("test-clock");
    set_clock(&clock, T0);
    let clock_arg = clock.to_string_lossy().into_owned();
    let platform_key = dir.admin_key.clone();
    let (server, log) =
        HttpServer::start_logged(dir, &["--clock-file", &clock_arg], &[("RUST_LOG", "debug"), ("RUST_LOG_FORMAT", "")]);
    let ep = server.endpoint();
    let mut secrets = vec![platform_key.clone()];
    let mut tally = Tally::default();

    // Two tenants: one whose keys we revoke, expire and rotate, one we suspend.
    let main =
        ok(&ep, &platform_key, "tenant.bootstrap", json!({"slug": "keys-main", "display_name": "Main", "plan": "pro"}))
            .await;
    let susp = ok(&ep, &platform_key, "tenant.bootstrap", json!({"slug": "keys-susp", "display_name": "S"})).await;
    let (admin, s_admin) = (key_of(&main), key_of(&susp));
    let issue = |label: &'static str, extra: Value| {
        let mut args = json!({"role": "viewer", "label": label});
        if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        args
    };
    let revoked = key_of(&ok(&ep, &admin.token, "key.issue", issue("to revoke", json!({}))).await);
    let expiring = key_of(
        &ok(&ep, &admin.token, "key.issue", issue("expiring", json!({"expires_at": "2030-01-01T01:00:00Z"}))).await,
    );
    let rotated = key_of(&ok(&ep, &admin.token, "key.issue", issue("to rotate", json!({"role": "operator"}))).await);
    let s_viewer = key_of(&ok(&ep, &s_admin.token, "key.issue", issue("suspended viewer", json!({}))).await);
    for k in [&admin, &s_admin, &revoked, &expiring, &rotated, &s_viewer] {
        secrets.push(k.token.clone());
        assert_works(&ep, k, "before anything happened").await;
    }

    // Legacy sessions opened while the keys were good: identity is checked per
    // request, so a revocation or a suspension applies to the very next call.
    let revoked_session = legacy_session(&ep.with_key(Some(&revoked.token)), "2025-11-25").await;
    let suspended_session = legacy_session(&ep.with_key(Some(&s_viewer.token)), "2025-11-25").await;

    // Revoked: refused from the very next request.
    let r = ok(&ep, &admin.token, "key.revoke", json!({"key_id": revoked.id})).await;
    assert_eq!(r["status"], "revoked", "{r}");
    assert_refused(&ep, Some(&format!("Bearer {}", revoked.token)), "key_revoked", &mut tally).await;
    let on_session = |key: &Key, session: &str| {
        let ep = ep.with_key(Some(&key.token));
        let session = session.to_owned();
        async move { legacy_call(&ep, &session, 8, "tools/call", json!({"name": "whoami", "arguments": {}})).await }
    };
    assert_401("revoked key on its open legacy session", &on_session(&revoked, &revoked_session).await, "key_revoked");
    *tally.0.entry("key_revoked".into()).or_default() += 1;

    // Expired: works until expires_at, refused after it.
    set_clock(&clock, "2030-01-01T00:59:59Z");
    assert_works(&ep, &expiring, "one second before expiry").await;
    set_clock(&clock, "2030-01-01T01:00:01Z");
    assert_refused(&ep, Some(&format!("Bearer {}", expiring.token)), "key_expired", &mut tally).await;
    let listed = ok(&ep, &admin.token, "key.list", json!({})).await;
    let status = |id: &str| {
        listed["keys"].as_array().into_iter().flatten().find(|k| k["key_id"] == id).map(|k| k["status"].clone())
    };
    assert_eq!(status(&expiring.id), Some(json!("expired")), "{listed}");
    assert_eq!(status(&revoked.id), Some(json!("revoked")), "{listed}");

    // Rotated with a 60 s grace: the old key works at +30 s, is refused at +61 s.
    set_clock(&clock, "2030-01-01T02:00:00Z");
    let rot = ok(&ep, &admin.token, "key.rotate", json!({"key_id": rotated.id, "grace_seconds": 60})).await;
    assert_eq!(rot["old_key_id"], rotated.id.as_str(), "{rot}");
    assert_eq!(rot["old_key_expires_at"], "2030-01-01T02:01:00Z", "{rot}");
    let replacement = key_of(&rot);
    secrets.push(replacement.token.clone());
    assert_ne!(replacement.id, rotated.id);
    set_clock(&clock, "2030-01-01T02:00:30Z");
    assert_works(&ep, &rotated, "old key within the grace period").await;
    assert_works(&ep, &replacement, "new key within the grace period").await;
    set_clock(&clock, "2030-01-01T02:01:01Z");
    assert_refused(&ep, Some(&format!("Bearer {}", rotated.token)), "key_expired", &mut tally).await;
    assert_works(&ep, &replacement, "new key after the grace period").await;

    // Malformed credentials.
    let truncated = &replacement.token[..replacement.token.len() - 1];
    let extended = format!("{}0", replacement.token);
    let wrong_prefix = replacement.token.replacen("tg_", "tk_", 1);
    for bad in ["tg_", "not-a-key", "tg_kzzzzzzzzzzzzzzzz_00", truncated, &extended, &wrong_prefix] {
        assert_refused(&ep, Some(&format!("Bearer {bad}")), "malformed_key", &mut tally).await;
    }
    // No credential at all (and a scheme that is not Bearer).
    assert_refused(&ep, None, "missing_credential", &mut tally).await;
    assert_refused(&ep, Some(&format!("Basic {}", admin.token)), "missing_credential", &mut tally).await;

    // A real key id with a wrong secret answers exactly like an unknown key id.
    let secret_of = |t: &str| t.rsplit('_').next().unwrap_or_default().to_owned();
    let wrong_secret = format!("tg_{}_{}", admin.id, "0".repeat(64));
    let unknown_id = format!("tg_kdeadbeefdeadbeef_{}", secret_of(&admin.token));
    let swapped = format!("tg_{}_{}", admin.id, secret_of(&s_admin.token));
    for bad in [&wrong_secret, &unknown_id, &swapped] {
        assert_refused(&ep, Some(&format!("Bearer {bad}")), "invalid_key", &mut tally).await;
    }
    let probe = |token: String| {
        let ep = ep.with_key(Some(&token));
        async move { http_tool(&ep, 5, "whoami", json!({})).await }
    };
    let (a, b) = (probe(wrong_secret.clone()).await, probe(unknown_id.clone()).await);
    *tally.0.entry("invalid_key".into()).or_default() += 2;
    assert_eq!(
        (a.status, &a.body),
        (b.status, &b.body),
        "a wrong secret and an unknown key id are told apart by nobody"
    );
    assert_works(&ep, &admin, "the real key after wrong-secret attempts").await;

    // A suspended tenant's keys are refused; resumed, they work again.
    let s = ok(&ep, &platform_key, "tenant.suspend", json!({"tenant_id": susp["tenant_id"]})).await;
    assert_eq!(s["status"], "suspended", "{s}");
    for k in [&s_admin, &s_viewer] {
        assert_refused(&ep, Some(&format!("Bearer {}", k.token)), "tenant_inactive", &mut tally).await;
    }
    let a = on_session(&s_viewer, &suspended_session).await;
    assert_401("suspended tenant's key on its open legacy session", &a, "tenant_inactive");
    *tally.0.entry("tenant_inactive".into()).or_default() += 1;
    assert_works(&ep, &admin, "another tenant is not affected").await;
    let s = ok(&ep, &platform_key, "tenant.resume", json!({"tenant_id": susp["tenant_id"]})).await;
    assert_eq!(s["status"], "active", "{s}");
    for k in [&s_admin, &s_viewer] {
        assert_works(&ep, k, "after tenant.resume").await;
    }

    // Refused keys stay refused (time and other changes did not revive them).
    assert_refused(&ep, Some(&format!("Bearer {}", revoked.token)), "key_revoked", &mut tally).await;
    assert_refused(&ep, Some(&format!("Bearer {}", expiring.token)), "key_expired", &mut tally).await;

    // No secret in the data dir while the server runs (database, -wal, -shm).
    let files = assert_no_secret_in_dir(&server.dir.path, &secrets);
    // Positive control: the same scan does find what is meant to be stored (key ids).
    let stored: Vec<u8> = database_bytes(&server.dir.path).concat();
    // On PostgreSQL the database is not in the data dir: scan its dump too.
    if on_postgres() {
        assert_no_secret("the PostgreSQL database", &stored, &secrets);
    }
    for k in [&admin, &revoked, &replacement] {
        assert!(
            contains(&stored, k.id.as_bytes()),
            "key id {} is not in the database files: the scan sees nothing",
            k.id
        );
    }
    if !on_postgres() {
        assert!(files.iter().any(|f| f == "tollgate.db"), "{files:?}");
        assert!(files.iter().any(|f| f == "tollgate.db-wal"), "WAL mode: the -wal file is checked too: {files:?}");
    }
    assert_no_secret("the server log so far", log.text().as_bytes(), &secrets);

    // Stop gracefully (flushes the aggregated denials), then look again.
    let (dir, status) = server.stop();
    assert!(status.success(), "tollgate serve exits cleanly on SIGTERM: {status:?}");
    let log = log.finish();
    assert!(log.contains("listening on"), "the whole log was captured: {log}");
    assert_no_secret("the server log (RUST_LOG=debug)", log.as_bytes(), &secrets);
    assert_no_secret_in_dir(&dir.path, &secrets);
    let records = audit_records(&dir.path);
    let all = records.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    assert_no_secret("the audit records", all.as_bytes(), &secrets);
    let hex = if on_postgres() { "upper(encode(secret_digest, 'hex'))" } else { "hex(secret_digest)" };
    let keys_table =
        sqlite_lines(&database(&dir.path), &format!("SELECT key_id, {hex} FROM api_keys ORDER BY key_id")).join("\n");
    assert_no_secret("the api_keys table", keys_table.as_bytes(), &secrets);

    // Every refusal is audited on `_system`, aggregated, under its reason.
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for r in records.iter().filter(|r| r["chain"] == "_system" && r["decision"] == "deny") {
        if let (Some(reason), Some(n)) = (r["reason"].as_str(), r["count"].as_u64()) {
            // A real key refused for its state is named by its public id; a missing, malformed
            // or unknown one is `anonymous` (so forged ids cannot split a flood into many records).
            let named = !matches!(reason, "missing_credential" | "malformed_key" | "invalid_key");
            let principal = r["principal"].as_str().unwrap_or_default();
            if named {
                assert!(principal.starts_with('k') && principal.len() == 17, "names the refused key: {r}");
            } else {
                assert_eq!(principal, "anonymous", "an unknown credential names no key: {r}");
            }
            *counted.entry(reason.to_owned()).or_default() += n;
        }
    }
    assert_eq!(counted, tally.0, "aggregated unauthenticated denials on _system, per reason");
}

/// Audit records of the local admin over stdio (`init` itself is audited as
/// `local` over `cli`; that one is expected).
fn local_stdio_records(dir: &Path) -> Vec<Value> {
    audit_records(dir).into_iter().filter(|r| r["principal"] == "local" && r["transport"] != "cli").collect()
}

/// A stdio server with `key` (and `extra` flags) answers whoami with this refusal.
/// A stdio server with a refused key does not start: it exits 2 naming
/// `TOLLGATE_API_KEY` and the reason, and prints no secret.
fn assert_stdio_refused(dir: &Path, key: Option<&str>, extra: &[&str], reason: &str, secrets: &[String]) {
    let mut cmd = std::process::Command::new(binary());
    cmd.arg("stdio").arg("--data-dir").arg(dir).args(extra).env("RUST_LOG", "debug").env_remove("TOLLGATE_API_KEY");
    if let Some(k) = key {
        cmd.env("TOLLGATE_API_KEY", k);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().expect("run tollgate stdio");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stdio {reason}: {stderr}");
    assert!(stderr.contains("TOLLGATE_API_KEY") && stderr.contains(reason), "stdio {reason}: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on the protocol stream");
    assert_no_secret("the stdio server's output", stderr.as_bytes(), secrets);
}

#[test]
fn stdio_refuses_bad_keys_and_never_falls_back_to_the_local_admin() {
    let dir = DataDir::init();
    let clock = dir.path.join("test-clock");
    set_clock(&clock, T0);
    let clock_arg = clock.to_string_lossy().into_owned();
    let with_clock = ["--clock-file", clock_arg.as_str()];

    let mut platform = StdioServer::start_with(&dir.path, Some(&dir.admin_key), &with_clock);
    let boot = tool_output(&platform.tool(1, "tenant.bootstrap", json!({"slug": "stdio-keys", "display_name": "S"})))
        .expect("bootstrap");
    assert!(platform.finish().success());
    let admin = key_of(&boot);
    let mut conn = StdioServer::start_with(&dir.path, Some(&admin.token), &with_clock);
    let revoked =
        key_of(&tool_output(&conn.tool(2, "key.issue", json!({"role": "viewer", "label": "r"}))).expect("issue"));
    let expiring = key_of(
        &tool_output(&conn.tool(
            3,
            "key.issue",
            json!({"role": "viewer", "label": "e", "expires_at": "2030-01-01T00:10:00Z"}),
        ))
        .expect("issue"),
    );
    let r = conn.tool(4, "key.revoke", json!({"key_id": revoked.id}));
    assert!(tool_output(&r).is_some(), "{r}");
    assert!(conn.finish().success());
    let secrets = vec![dir.admin_key.clone(), admin.token.clone(), revoked.token.clone(), expiring.token.clone()];

    assert_stdio_refused(&dir.path, Some(&revoked.token), &with_clock, "key_revoked", &secrets);
    // A refused key never falls back to the local admin, even with --local-admin.
    let flags = [with_clock[0], with_clock[1], "--local-admin"];
    assert_stdio_refused(&dir.path, Some(&revoked.token), &flags, "key_revoked", &secrets);
    assert_stdio_refused(&dir.path, Some("tg_nope"), &flags, "malformed_key", &secrets);
    let wrong = format!("tg_{}_{}", admin.id, "f".repeat(64));
    assert_stdio_refused(&dir.path, Some(&wrong), &with_clock, "invalid_key", &secrets);
    set_clock(&clock, "2030-01-01T00:10:00Z");
    assert_stdio_refused(&dir.path, Some(&expiring.token), &with_clock, "key_expired", &secrets);

    // Suspended tenant over stdio.
    let mut platform = StdioServer::start_with(&dir.path, Some(&dir.admin_key), &with_clock);
    let s = platform.tool(5, "tenant.suspend", json!({"tenant_id": boot["tenant_id"]}));
    assert!(tool_output(&s).is_some(), "{s}");
    assert!(platform.finish().success());
    assert_stdio_refused(&dir.path, Some(&admin.token), &with_clock, "tenant_inactive", &secrets);

    assert_no_secret_in_dir(&dir.path, &secrets);
    let all = audit_records(&dir.path).iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    assert_no_secret("the audit records", all.as_bytes(), &secrets);
    // None of the refused processes acted as `local` (only `init` did, over the CLI).
    assert_eq!(local_stdio_records(&dir.path), Vec::<Value>::new(), "a refused key fell back to the local admin");
}

/// Start `tollgate stdio` with `TOLLGATE_API_KEY` unset (None) or set to
/// `key`, with one request waiting on stdin; (exit status, stdout, stderr).
fn stdio_once(dir: &Path, key: Option<&str>) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(binary());
    cmd.arg("stdio").arg("--data-dir").arg(dir).env_remove("TOLLGATE_API_KEY");
    if let Some(k) = key {
        cmd.env("TOLLGATE_API_KEY", k);
    }
    // A request is waiting on stdin: a server that started anyway would answer it.
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let line =
        format!("{}\n", request(1, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()})));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(line.as_bytes());
    }
    let out = child.wait_with_output().expect("wait");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn stdio_without_a_key_refuses_to_start() {
    let dir = DataDir::init();
    let (status, stdout, stderr) = stdio_once(&dir.path, None);
    assert!(!status.success(), "stdio started without a credential; stdout {stdout}");
    assert!(
        stderr.contains("TOLLGATE_API_KEY") && stderr.contains("--local-admin"),
        "the message says what to do: {stderr}"
    );
    assert!(stdout.is_empty(), "nothing was served: {stdout}");
    assert_eq!(local_stdio_records(&dir.path), Vec::<Value>::new(), "nothing was audited as the local admin");
}

#[test]
fn stdio_with_an_empty_key_refuses_to_start() {
    let dir = DataDir::init();
    let (status, stdout, stderr) = stdio_once(&dir.path, Some(""));
    // Whatever else happens, an empty key never acts as anybody.
    assert!(!stdout.contains("\"result\""), "an empty TOLLGATE_API_KEY was served: {stdout}");
    assert_eq!(local_stdio_records(&dir.path), Vec::<Value>::new(), "an empty key acted as the local admin");
    // An empty TOLLGATE_API_KEY is no key: refuse to start, as without one,
    // rather than serve a process that refuses every request.
    assert!(
        !status.success() && stderr.contains("TOLLGATE_API_KEY"),
        "TOLLGATE_API_KEY=\"\" started a server that can never authenticate (exit {status:?}); stdout {stdout}; stderr {stderr}"
    );
}

#[test]
fn stdio_local_admin_acts_as_local_and_is_audited_as_local() {
    let dir = DataDir::init();
    let mut stdio = StdioServer::start_with(&dir.path, None, &["--local-admin"]);
    let who = tool_output(&stdio.tool(1, "whoami", json!({}))).expect("whoami");
    assert_eq!(who["principal"], "local", "{who}");
    assert_eq!(who["role"], "platform_admin", "{who}");
    assert_eq!(who["transport"], "stdio", "{who}");
    let boot = tool_output(&stdio.tool(2, "tenant.bootstrap", json!({"slug": "local-made", "display_name": "L"})))
        .expect("the local admin is a platform admin");
    // A denial of the local admin is audited as `local` too.
    let denied = stdio.tool(3, "key.revoke", json!({"key_id": "kdeadbeefdeadbeef"}));
    assert_eq!(tool_failure(&denied).map(|f| f["code"].clone()), Some(json!("not_found")), "{denied}");
    assert!(stdio.finish().success());

    let records = audit_records(&dir.path);
    let by_local: Vec<(String, String, String)> = records
        .iter()
        .filter(|r| r["principal"] == "local" && r["transport"] != "cli")
        .map(|r| {
            assert_eq!(r["transport"], "stdio", "{r}");
            assert_eq!(r["chain"], "_system", "the local admin has no tenant: {r}");
            (
                r["tool"].as_str().unwrap_or_default().to_owned(),
                r["decision"].as_str().unwrap_or_default().to_owned(),
                r["reason"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("whoami".to_owned(), "allow".to_owned(), "-".to_owned()),
        ("tenant.bootstrap".to_owned(), "allow".to_owned(), "-".to_owned()),
        ("key.revoke".to_owned(), "allow".to_owned(), "not_found".to_owned()),
    ];
    assert_eq!(by_local, expected, "every call of the local admin is audited as principal `local`");
    // The key bootstrap made works, and is not `local`.
    let mut tenant = StdioServer::start_with(&dir.path, boot["api_key"].as_str(), &[]);
    let who = tool_output(&tenant.tool(4, "whoami", json!({}))).expect("whoami");
    assert_eq!(who["principal"], boot["key_id"], "{who}");
    assert!(tenant.finish().success());
    let all = audit_records(&dir.path).iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    assert_no_secret("the audit records", all.as_bytes(), &[boot["api_key"].as_str().unwrap_or_default().to_owned()]);
}
