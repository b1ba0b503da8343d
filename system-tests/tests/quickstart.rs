//! docs/quickstart.md (issue 18, Done-when 6): every snippet marked
//! `<!-- tested: NAME -->` is run here as written — the shell session, the
//! `serve` session, and the stdio and HTTP client configurations — with only
//! the placeholders (`/path/to/tollgate-data`, `tg_…`, port 8787) replaced.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use system_tests::*;

/// The fenced block after `<!-- tested: NAME -->`.
fn snippet(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/quickstart.md");
    let text = std::fs::read_to_string(&path).expect("read docs/quickstart.md");
    let marker = format!("<!-- tested: {name} -->");
    let after = text.split(&marker).nth(1).unwrap_or_else(|| panic!("no {marker} in quickstart.md"));
    let block = after.split("```").nth(1).unwrap_or_else(|| panic!("no fenced block after {marker}"));
    block.split_once('\n').map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// PATH with the built binary first, so `tollgate` in a snippet is this build.
fn path_with_binary() -> String {
    let dir = binary().parent().expect("binary dir").to_string_lossy().into_owned();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

fn bash(script: &str, cwd: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("-euo").arg("pipefail").arg("-c").arg(script).current_dir(cwd).env("PATH", path_with_binary());
    cmd.env_remove("TOLLGATE_API_KEY").env_remove("TOLLGATE_DATA_DIR").env_remove("TOLLGATE_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run bash");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-quickstart-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn the_shell_session_runs_as_written() {
    let cwd = scratch("shell");
    let (code, out, err) = bash(&snippet("shell"), &cwd, &[]);
    assert_eq!(code, Some(0), "the quickstart's shell session failed:\n{out}\n{err}");
    assert!(
        out.contains("\"slug\": \"acme\"") || out.contains("\"slug\":\"acme\""),
        "tenant.bootstrap printed acme: {out}"
    );
    assert!(out.contains("whoami"), "tools listed whoami: {out}");
    assert!(out.contains("ok      _system"), "the restored dir verified: {out}");
    assert!(cwd.join("tollgate-restored").join("tollgate.db").is_file());
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn the_serve_session_runs_as_written() {
    let dir = DataDir::init();
    let script = snippet("serve");
    let (serve_lines, rest): (Vec<&str>, Vec<&str>) = script.lines().partition(|l| l.starts_with("tollgate serve"));
    assert_eq!(serve_lines, ["tollgate serve --listen 127.0.0.1:8787"], "{script}");
    let server = HttpServer::start_in(dir, &[]);
    let port = server.base.rsplit(':').next().expect("port").to_owned();
    let rest = rest.join("\n").replace("127.0.0.1:8787", &format!("127.0.0.1:{port}"));
    let data = server.dir.path.to_string_lossy().into_owned();
    let (code, out, err) =
        bash(&rest, &server.dir.path, &[("TOLLGATE_API_KEY", &server.dir.admin_key), ("TOLLGATE_DATA_DIR", &data)]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("\"role\": \"platform_admin\""), "{out}");
    assert!(out.lines().any(|l| l.starts_with("whoami ")), "{out}");
}

/// A tenant admin's key on a fresh data dir (as the snippets ask for).
async fn tenant_key(server: &HttpServer) -> String {
    let boot =
        http_tool(&server.endpoint(), 1, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme"})).await;
    tool_output(&boot.body).and_then(|o| o["api_key"].as_str().map(str::to_owned)).expect("tenant key")
}

#[tokio::test]
async fn the_stdio_client_configuration_starts_a_working_server() {
    let server = HttpServer::start(&[]);
    let key = tenant_key(&server).await;
    let text = snippet("stdio-client")
        .replace("/path/to/tollgate-data", &server.dir.path.to_string_lossy())
        .replace("tg_…", &key);
    let config: Value = serde_json::from_str(&text).expect("the stdio snippet is JSON");
    let entry = &config["mcpServers"]["tollgate"];
    assert_eq!(entry["command"], "tollgate");
    // Started the way a desktop client does: command, args, env.
    let mut cmd = Command::new(binary());
    cmd.args(entry["args"].as_array().expect("args").iter().filter_map(Value::as_str));
    cmd.env_remove("TOLLGATE_API_KEY").env_remove("TOLLGATE_DATA_DIR");
    for (k, v) in entry["env"].as_object().expect("env") {
        cmd.env(k, v.as_str().expect("env value"));
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    use std::io::{BufRead, Write};
    let mut ask = |message: Value| -> Option<Value> {
        writeln!(stdin, "{message}").expect("write");
        message.get("id")?;
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        Some(serde_json::from_str(&line).expect("a JSON line"))
    };
    let init = ask(request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "desktop", "version": "1"}}),
    ))
    .expect("initialize answered");
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    ask(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let who = ask(request(2, "tools/call", json!({"name": "whoami", "arguments": {}}))).expect("answered");
    assert_eq!(tool_output(&who).map(|o| o["role"].clone()), Some(json!("tenant_admin")), "{who}");
    let modern = ask(request(3, "tools/call", json!({"name": "whoami", "arguments": {}, "_meta": modern_meta()})))
        .expect("answered");
    assert_eq!(tool_output(&modern).map(|o| o["era"].clone()), Some(json!("modern")), "{modern}");
    drop(stdin);
    assert!(child.wait().is_ok_and(|s| s.success()));
}

#[tokio::test]
async fn the_http_client_configuration_reaches_the_server_with_its_header() {
    let server = HttpServer::start(&[]);
    let key = tenant_key(&server).await;
    let text = snippet("http-client")
        .replace("http://127.0.0.1:8787/mcp", &format!("{}/mcp", server.base))
        .replace("tg_…", &key);
    let config: Value = serde_json::from_str(&text).expect("the HTTP snippet is JSON");
    let entry = &config["mcpServers"]["tollgate"];
    assert_eq!(entry["type"], "http");
    let to = Endpoint { url: entry["url"].as_str().expect("url").to_owned(), key: None, client: None };
    let headers: Vec<(String, String)> = entry["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("header value").to_owned()))
        .collect();
    let with = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        headers.iter().cloned().chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).collect()
    };
    // A 2025 client: initialize, then a call on the session, every request with the snippet's headers.
    let init = request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "ide", "version": "1"}}),
    );
    let h = with(&[]);
    let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let opened = post(&to, &refs, &init.to_string()).await;
    assert_eq!(opened.status, 200, "{:?}", opened.body);
    let session = opened.headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("session").to_owned();
    let h = with(&[("mcp-session-id", &session), ("mcp-protocol-version", "2025-11-25")]);
    let refs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&to, &refs, &note.to_string()).await.status, 202);
    let who = post(&to, &refs, &request(2, "tools/call", json!({"name": "whoami", "arguments": {}})).to_string()).await;
    assert_eq!(tool_output(&who.body).map(|o| o["role"].clone()), Some(json!("tenant_admin")), "{:?}", who.body);
    // Without the header the same request is refused: the header is what authenticates.
    let bare = post(&to, &[], &init.to_string()).await;
    assert_eq!(bare.status, 401);
}
