//! Helpers for black-box tests of the built `tollgate` binary over its real
//! transports: a server process on a free port, a stdio child, raw HTTP.
//!
//! Tests only talk to the binary through its transports; nothing here links
//! the tollgate library.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

pub mod issuer;
pub mod pg;
pub mod pki;

pub const MODERN: &str = "2026-07-28";

/// Path of the `tollgate` binary of this build profile, built (or brought up
/// to date) once per test process, so that a test never runs a stale binary.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        // target/<profile>/deps/<test> -> target/<profile>/tollgate
        // A test is target/<profile>/deps/<test>; a harness binary target/<profile>/<bin>.
        let parent = exe.parent().map(PathBuf::from).unwrap_or_default();
        let dir =
            if parent.ends_with("deps") { parent.parent().map(PathBuf::from).unwrap_or_default() } else { parent };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "tollgate", "--bin", "tollgate"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status();
        assert!(status.is_ok_and(|s| s.success()), "could not build tollgate");
        let real = dir.join("tollgate");
        pg_wrapper(&real)
    })
    .clone()
}

/// The binary is started through a small wrapper that points each command
/// at its data dir's PostgreSQL test database, if it has one (else it only
/// execs the binary): it reads the serving
/// role's URL from `DIR/.test-app-url` (DIR from `--data-dir` or
/// `TOLLGATE_DATA_DIR`) unless `TOLLGATE_DATABASE_URL` is already set, then
/// execs the real binary (same pid, so signals reach it). Tests keep
/// writing their own `tollgate.toml`, and every command stays parametrised.
fn pg_wrapper(real: &std::path::Path) -> PathBuf {
    let path = real.with_file_name("tollgate-pg-test-wrapper");
    let script = format!(
        "#!/bin/sh\n\
         dir=\"$TOLLGATE_DATA_DIR\"; prev=\"\"\n\
         for a in \"$@\"; do [ \"$prev\" = \"--data-dir\" ] && dir=\"$a\"; prev=\"$a\"; done\n\
         if [ -z \"$TOLLGATE_DATABASE_URL\" ] && [ -n \"$dir\" ] && [ -f \"$dir/{APP_URL_FILE}\" ]; then\n\
           TOLLGATE_DATABASE_URL=\"$(cat \"$dir/{APP_URL_FILE}\")\"; export TOLLGATE_DATABASE_URL\n\
         fi\n\
         exec \"{}\" \"$@\"\n",
        real.display()
    );
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, script).expect("write the test wrapper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    }
    std::fs::rename(&temp, &path).expect("install the test wrapper");
    path
}

/// A fresh data dir made by `tollgate init`, removed on drop. Under
/// `TOLLGATE_TEST_BACKEND=postgres` its database is a fresh PostgreSQL one
/// (see [`pg`]): the data dir's `tollgate.toml` names it with the serving
/// role's URL, so every command run on the dir uses it, and
/// `.test-maint-url` holds the maintenance role's URL for offline commands
/// and for the tests' own inspection.
pub struct DataDir {
    pub path: PathBuf,
    /// The first platform-admin key.
    pub admin_key: String,
}

/// The files in a test data dir that name its PostgreSQL URLs (serving and maintenance roles).
const APP_URL_FILE: &str = ".test-app-url";
const MAINT_URL_FILE: &str = ".test-maint-url";

impl DataDir {
    pub fn init() -> Self {
        if pg::wanted()
            && let Some(cluster) = pg::cluster()
        {
            let db = cluster.fresh_database();
            return Self::init_on(Some(&db));
        }
        Self::init_on(None)
    }

    /// A data dir on `db` (PostgreSQL), or on its own SQLite database.
    pub fn init_on(db: Option<&pg::Database>) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tollgate-st-{}-{n}-{}", std::process::id(), nanos()));
        let mut init = Command::new(binary());
        init.args(["init", "--json", "--data-dir"]).arg(&path).env_remove("TOLLGATE_DATABASE_URL");
        if let Some(db) = db {
            init.env("TOLLGATE_DATABASE_URL", &db.maint_url);
        }
        let out = init.output().expect("run init");
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("init --json prints JSON");
        let admin_key = v["api_key"].as_str().expect("api_key").to_owned();
        if let Some(db) = db {
            point_at(&path, db);
        }
        Self { path, admin_key }
    }

    /// Another data dir of the same PostgreSQL deployment: the same signing
    /// key and database, its own dir (a second instance). Panics on SQLite.
    pub fn second_instance(&self) -> DataDir {
        assert!(maint_url(&self.path).is_some(), "a second instance needs a PostgreSQL data dir");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tollgate-st-b-{}-{n}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&path).expect("create dir");
        for f in ["audit-signing.key", "tollgate.toml", APP_URL_FILE, MAINT_URL_FILE] {
            std::fs::copy(self.path.join(f), path.join(f)).expect("copy instance file");
        }
        DataDir { path, admin_key: self.admin_key.clone() }
    }
}

/// Make `dir` serve from `db` (read by the wrapper of [`binary`]).
fn point_at(dir: &std::path::Path, db: &pg::Database) {
    std::fs::write(dir.join(APP_URL_FILE), &db.app_url).expect("write app url");
    std::fs::write(dir.join(MAINT_URL_FILE), &db.maint_url).expect("write maint url");
}

/// The maintenance URL of a PostgreSQL test data dir (None: SQLite).
pub fn maint_url(dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(dir.join(MAINT_URL_FILE)).ok().map(|s| s.trim().to_owned())
}

/// Whether this run is on PostgreSQL; a test of something only SQLite has
/// (editing the database file, copying a data dir) returns early through
/// [`sqlite_only!`] and says so.
pub fn on_postgres() -> bool {
    pg::wanted()
}

/// Skip (loudly) a test that is about the SQLite file itself.
#[macro_export]
macro_rules! sqlite_only {
    ($why:expr) => {
        if $crate::on_postgres() {
            eprintln!("skipped on PostgreSQL: {}", $why);
            return;
        }
    };
}

fn nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where to send requests, and with which key (None: no Authorization header).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub key: Option<String>,
    /// The client to send with (HTTPS with a test CA and maybe a client
    /// certificate); `None`: a plain default client.
    pub client: Option<reqwest::Client>,
}

impl Endpoint {
    /// The same endpoint with another key (or none).
    pub fn with_key(&self, key: Option<&str>) -> Self {
        Self { url: self.url.clone(), key: key.map(str::to_owned), client: self.client.clone() }
    }
}

/// A `tollgate serve` process on a free loopback port; killed on drop.
pub struct HttpServer {
    child: Child,
    pub base: String,
    pub dir: DataDir,
}

impl HttpServer {
    /// A server on a fresh data dir.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_in(DataDir::init(), extra)
    }

    /// A server on a given data dir.
    pub fn start_in(dir: DataDir, extra: &[&str]) -> Self {
        Self::start_with_env(dir, extra, &[])
    }

    /// A server on a given data dir with extra environment variables.
    pub fn start_with_env(dir: DataDir, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir.path)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tollgate serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut said = Vec::new();
        let base = loop {
            let Some(line) = lines.next() else { panic!("server exited before listening: {}", said.join("\n")) };
            let line = line.expect("read stderr");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim_end_matches("/mcp").to_owned();
            }
            said.push(line);
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, dir }
    }

    /// `/mcp` with the platform admin's key.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint { url: format!("{}/mcp", self.base), key: Some(self.dir.admin_key.clone()), client: None }
    }

    /// Stop the server with SIGKILL (no cleanup), keeping the data dir.
    pub fn kill(mut self) -> DataDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, DataDir { path: PathBuf::new(), admin_key: String::new() });
        std::mem::forget(self);
        dir
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer, with an SSE body reduced to its messages.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// JSON body, or the last SSE message; Null when empty.
    pub body: Value,
    /// Every SSE message, in order (empty for JSON answers).
    pub events: Vec<Value>,
}

/// A plain reqwest client. reqwest is built without a TLS crypto provider of
/// its own (no C toolchain for aws-lc), so ring is installed as the process
/// default first; every client in these tests comes from here or [`pki`].
pub fn client() -> reqwest::Client {
    static PROVIDER: OnceLock<()> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::new()
}

/// A raw POST with the given headers (Accept and Content-Type default to
/// valid values; the endpoint's key is sent unless `authorization` is given).
pub async fn post(to: &Endpoint, headers: &[(&str, &str)], body: &str) -> Answer {
    let client = to.client.clone().unwrap_or_else(client);
    let mut req = client.post(&to.url);
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if let (false, Some(key)) = (has("authorization"), &to.key) {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    if !has("accept") {
        req = req.header("accept", "application/json, text/event-stream");
    }
    if !has("content-type") {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.body(body.to_owned()).send().await.expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let sse = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let text = resp.text().await.expect("body");
    let events: Vec<Value> = if sse {
        text.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
    } else {
        vec![]
    };
    let body = if sse {
        events.last().cloned().unwrap_or(Value::Null)
    } else if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer { status, headers, body, events }
}

/// The `_meta` of a 2026-07-28 request.
pub fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "system-tests", "version": "1"}
    })
}

/// A JSON-RPC request body.
pub fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A well-formed 2026-07-28 request over HTTP.
pub async fn modern_call(url: &Endpoint, id: i64, method: &str, mut params: Value) -> Answer {
    params["_meta"] = modern_meta();
    let name = params.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if method == "tools/call" {
        headers.push(("mcp-name", &name));
    }
    post(url, &headers, &request(id, method, params).to_string()).await
}

/// Open a legacy HTTP session; returns its id.
pub async fn legacy_session(url: &Endpoint, version: &str) -> String {
    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    );
    let answer = post(url, &[], &init.to_string()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let id = answer.headers.get("mcp-session-id").and_then(|v| v.to_str().ok()).expect("session id").to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    assert_eq!(post(url, &[("mcp-session-id", &id), ("mcp-protocol-version", version)], &note).await.status, 202);
    id
}

/// A request on a legacy HTTP session.
pub async fn legacy_call(url: &Endpoint, session: &str, id: i64, method: &str, params: Value) -> Answer {
    post(url, &[("mcp-session-id", session)], &request(id, method, params).to_string()).await
}

/// A `tollgate stdio` child speaking line by line.
pub struct StdioServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    _dir: Option<DataDir>,
}

impl StdioServer {
    /// A stdio server on a fresh data dir, acting with its platform admin key.
    pub fn start(extra: &[&str]) -> Self {
        let dir = DataDir::init();
        let key = dir.admin_key.clone();
        let mut s = Self::start_with(&dir.path, Some(&key), extra);
        s._dir = Some(dir);
        s
    }

    /// A stdio server on an existing data dir with `key` (None: no TOLLGATE_API_KEY).
    pub fn start_with(dir: &std::path::Path, key: Option<&str>, extra: &[&str]) -> Self {
        let mut cmd = Command::new(binary());
        cmd.arg("stdio").arg("--data-dir").arg(dir).env_remove("TOLLGATE_API_KEY");
        if let Some(k) = key {
            cmd.env("TOLLGATE_API_KEY", k);
        }
        let mut child = cmd
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tollgate stdio");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self { child, stdin, stdout, _dir: None }
    }

    /// Write raw bytes (a line terminator is the caller's).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    /// Send one message as a line.
    pub fn send(&mut self, message: &Value) {
        self.send_raw(format!("{message}\n").as_bytes());
    }

    /// Read the next line as JSON.
    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    }

    /// Read the next line as the server wrote it (without its newline).
    pub fn recv_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read");
        line.trim_end_matches('\n').to_owned()
    }

    /// Send a request and read until its response (skipping notifications).
    pub fn call(&mut self, message: &Value) -> Value {
        self.send(message);
        loop {
            let m = self.recv();
            if m.get("id") == message.get("id") && (m.get("result").is_some() || m.get("error").is_some()) {
                return m;
            }
        }
    }

    /// Close stdin, collect every remaining message, and require a clean exit.
    pub fn finish_and_drain(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        let mut rest = Vec::new();
        let mut line = String::new();
        while self.stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
            rest.extend(serde_json::from_str::<Value>(&line).ok());
            line.clear();
        }
        assert!(self.child.wait().is_ok_and(|s| s.success()), "stdio server did not exit cleanly");
        rest
    }

    /// Close stdin and wait for a clean exit.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("wait")
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Helpers for the tenant-isolation and key-lifecycle tests: tool calls on
// either transport, a server whose stderr is kept, a graceful stop, and
// reading the audit log straight from the database (with the sqlite3 CLI).
// ---------------------------------------------------------------------------

/// A `tools/call` over HTTP under 2026-07-28.
pub async fn http_tool(to: &Endpoint, id: i64, name: &str, arguments: Value) -> Answer {
    modern_call(to, id, "tools/call", json!({"name": name, "arguments": arguments})).await
}

/// [`http_tool`] with an HTTP `Idempotency-Key`.
pub async fn http_tool_keyed(to: &Endpoint, id: i64, name: &str, arguments: Value, key: &str) -> Answer {
    let mut params = json!({"name": name, "arguments": arguments});
    params["_meta"] = modern_meta();
    let headers =
        [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", name), ("idempotency-key", key)];
    post(to, &headers, &request(id, "tools/call", params).to_string()).await
}

/// The packages a server keeps in its data dir (`packages/<id>.tar`), sorted.
pub fn kept_packages(dir: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("packages"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".tar").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

impl StdioServer {
    /// A `tools/call` under 2026-07-28 on this stdio server; the JSON-RPC reply.
    pub fn tool(&mut self, id: i64, name: &str, arguments: Value) -> Value {
        self.call(&request(id, "tools/call", json!({"name": name, "arguments": arguments, "_meta": modern_meta()})))
    }

    /// A stdio server on an existing data dir with extra environment, its stderr kept in a [`ServerLog`].
    pub fn start_logged(
        dir: &std::path::Path,
        key: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> (Self, ServerLog) {
        let mut cmd = Command::new(binary());
        cmd.arg("stdio").arg("--data-dir").arg(dir).env_remove("TOLLGATE_API_KEY");
        if let Some(k) = key {
            cmd.env("TOLLGATE_API_KEY", k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tollgate stdio");
        let log = ServerLog::collect(BufReader::new(child.stderr.take().expect("stderr")).lines(), String::new());
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        (Self { child, stdin, stdout, _dir: None }, log)
    }
}

/// Everything a child process wrote on stderr, collected by a thread.
pub struct ServerLog {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerLog {
    fn collect<R: BufRead + Send + 'static>(lines: std::io::Lines<R>, first: String) -> Self {
        let text = std::sync::Arc::new(std::sync::Mutex::new(first));
        let sink = std::sync::Arc::clone(&text);
        let thread = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut t = sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                t.push_str(&line);
                t.push('\n');
            }
        });
        Self { text, thread: Some(thread) }
    }

    /// What has been logged so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Wait until the process closed stderr (it has exited), then everything it logged.
    pub fn finish(mut self) -> String {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.text()
    }
}

impl HttpServer {
    /// A server on a given data dir with extra environment (e.g. `RUST_LOG`);
    /// its whole stderr is kept in the returned [`ServerLog`].
    pub fn start_logged(dir: DataDir, extra: &[&str], env: &[(&str, &str)]) -> (Self, ServerLog) {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&dir.path).args(extra);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start tollgate serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut seen = String::new();
        let base = loop {
            let line = lines.next().expect("server exited before listening").expect("read stderr");
            seen.push_str(&line);
            seen.push('\n');
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim_end_matches("/mcp").to_owned();
            }
        };
        let log = ServerLog::collect(lines, seen);
        (Self { child, base, dir }, log)
    }

    /// Stop the server gracefully (SIGTERM, so that it flushes aggregated
    /// denials and checkpoints), wait for it, and keep the data dir.
    pub fn stop(mut self) -> (DataDir, std::process::ExitStatus) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "could not send SIGTERM to {pid}");
        let status = self.child.wait().expect("wait for tollgate serve");
        let dir = std::mem::replace(&mut self.dir, DataDir { path: PathBuf::new(), admin_key: String::new() });
        std::mem::forget(self);
        (dir, status)
    }
}

/// The JSON-RPC error code of a reply, if it is an error.
pub fn error_code(reply: &Value) -> Option<i64> {
    reply.get("error").and_then(|e| e.get("code")).and_then(Value::as_i64)
}

/// `error.data.reason` of a reply, if any.
pub fn error_reason(reply: &Value) -> Option<&str> {
    reply.get("error").and_then(|e| e.get("data")).and_then(|d| d.get("reason")).and_then(Value::as_str)
}

/// The `{code, message}` of a tool failure (`isError: true`), parsed from its text block.
pub fn tool_failure(reply: &Value) -> Option<Value> {
    let result = reply.get("result")?;
    if result.get("isError") != Some(&Value::Bool(true)) {
        return None;
    }
    serde_json::from_str(result.get("content")?.get(0)?.get("text")?.as_str()?).ok()
}

/// A successful tool result's structured content (or its JSON text block).
pub fn tool_output(reply: &Value) -> Option<Value> {
    let result = reply.get("result")?;
    if result.get("isError") == Some(&Value::Bool(true)) {
        return None;
    }
    result
        .get("structuredContent")
        .cloned()
        .or_else(|| serde_json::from_str(result.get("content")?.get(0)?.get("text")?.as_str()?).ok())
}

/// Run one read-only query with the `sqlite3` CLI; its output lines (list
/// mode). On a PostgreSQL test data dir, the same query through `psql` as the
/// maintenance role (same output shape).
pub fn sqlite_lines(db: &std::path::Path, sql: &str) -> Vec<String> {
    if let Some(url) = db.parent().and_then(maint_url) {
        return pg::psql(&url, sql).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg("-cmd")
        .arg(".timeout 5000")
        .arg(db)
        .arg(sql)
        .output()
        .expect("run the sqlite3 CLI (install sqlite3 to run these tests)");
    assert!(out.status.success(), "sqlite3 failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// Everything a data dir's database holds, as bytes to scan for secrets:
/// the SQLite file and its WAL, or a `pg_dump --data-only` of the PostgreSQL
/// database (as the maintenance role, as backups are taken).
pub fn database_bytes(dir: &std::path::Path) -> Vec<Vec<u8>> {
    if let Some(url) = maint_url(dir) {
        let out = Command::new("pg_dump").args(["--data-only", "-d", &url]).output().expect("run pg_dump");
        assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
        return vec![out.stdout];
    }
    let db = std::fs::read(database(dir)).expect("db");
    let wal = std::fs::read(dir.join("tollgate.db-wal")).unwrap_or_default();
    vec![db, wal]
}

/// The database of a data dir.
pub fn database(dir: &std::path::Path) -> PathBuf {
    dir.join("tollgate.db")
}

/// Every audit record in a data dir's database, parsed, in (chain, seq) order.
pub fn audit_records(dir: &std::path::Path) -> Vec<Value> {
    sqlite_lines(&database(dir), "SELECT record FROM audit_records ORDER BY chain, seq")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit record is not JSON ({e}): {l}")))
        .collect()
}

/// One chain's audit records, in seq order.
pub fn audit_chain(dir: &std::path::Path, chain: &str) -> Vec<Value> {
    audit_records(dir).into_iter().filter(|r| r["chain"] == chain).collect()
}

// ---------------------------------------------------------------------------
// Helpers for the durability, tampering and kill-switch tests: requests that
// may fail (the server is killed under them), the offline CLI, copies of a
// data dir.
// ---------------------------------------------------------------------------

/// [`post`], but a request that gets no answer (connection refused or reset,
/// e.g. because the server was killed) is an `Err` instead of a panic.
pub async fn try_post(to: &Endpoint, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
    let resp = valid_post(to, headers, body).send().await.map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.map_err(|e| format!("body: {e}"))?;
    let sse = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let events: Vec<Value> = if sse {
        text.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
    } else {
        vec![]
    };
    let body = if sse {
        events.last().cloned().ok_or_else(|| format!("SSE stream without a message: {text:?}"))?
    } else {
        serde_json::from_str(&text).map_err(|e| format!("not JSON ({e}): {text:?}"))?
    };
    Ok(Answer { status, headers, body, events })
}

/// A 2026-07-28 `tools/call` over HTTP that may fail (see [`try_post`]).
pub async fn try_http_tool(to: &Endpoint, id: i64, name: &str, arguments: Value) -> Result<Answer, String> {
    let mut params = json!({"name": name, "arguments": arguments});
    params["_meta"] = modern_meta();
    let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", name)];
    try_post(to, &headers, &request(id, "tools/call", params).to_string()).await
}

/// Run the `tollgate` binary with `args`; its exit code (None if killed by a
/// signal), stdout and stderr.
pub fn run_tollgate<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(binary());
    cmd.args(args).env_remove("TOLLGATE_DATA_DIR").env_remove("TOLLGATE_DATABASE_URL");
    // Offline commands on a PostgreSQL data dir connect as the maintenance role.
    let dir = args.windows(2).find(|w| w[0].as_ref() == "--data-dir").map(|w| PathBuf::from(w[1].as_ref()));
    if let Some(url) = dir.as_deref().and_then(maint_url) {
        cmd.env("TOLLGATE_DATABASE_URL", url);
    }
    let out = cmd.output().expect("run tollgate");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run the binary with `args` and extra environment (a command that should
/// exit; killed after 30 s so a wrong answer cannot hang the suite).
pub fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tollgate");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tollgate audit verify --data-dir DIR` plus `extra` flags.
pub fn audit_verify(dir: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["audit".into(), "verify".into(), "--data-dir".into(), dir.into()];
    args.extend(extra.iter().map(std::ffi::OsString::from));
    run_tollgate(&args)
}

/// `(pubkey hex, fingerprint)` as `tollgate audit pubkey` prints them.
pub fn audit_pubkey(dir: &std::path::Path) -> (String, String) {
    let args: Vec<std::ffi::OsString> = vec!["audit".into(), "pubkey".into(), "--data-dir".into(), dir.into()];
    let (code, out, err) = run_tollgate(&args);
    assert_eq!(code, Some(0), "audit pubkey failed: {out}{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name} line in {out:?}"))
    };
    (field("pubkey:"), field("fingerprint:"))
}

impl DataDir {
    /// A byte-for-byte copy of this (stopped) data dir, with the same admin
    /// key; removed on drop like any other.
    pub fn copy(&self) -> DataDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("tollgate-st-copy-{}-{n}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&path).expect("create copy dir");
        for entry in std::fs::read_dir(&self.path).expect("read data dir") {
            let entry = entry.expect("dir entry");
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::copy(entry.path(), path.join(entry.file_name())).expect("copy data dir file");
            }
            // The keyring of retired audit keys (after `audit rotate-key`).
            if entry.file_name() == "audit-keyring" {
                std::fs::create_dir_all(path.join("audit-keyring")).expect("create keyring copy");
                for key in std::fs::read_dir(entry.path()).expect("read keyring") {
                    let key = key.expect("keyring entry");
                    std::fs::copy(key.path(), path.join("audit-keyring").join(key.file_name())).expect("copy key");
                }
            }
        }
        DataDir { path, admin_key: self.admin_key.clone() }
    }
}

/// A POST with valid Accept and Content-Type, the endpoint's key, and `headers`.
fn valid_post(to: &Endpoint, headers: &[(&str, &str)], body: &str) -> reqwest::RequestBuilder {
    let mut req = to
        .client
        .clone()
        .unwrap_or_else(client)
        .post(&to.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    if let Some(key) = &to.key {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body.to_owned())
}

/// A POST whose answer is read message by message as it streams (a listen
/// stream, or a 2025 exchange on which the server asks questions).
pub struct SseStream {
    response: reqwest::Response,
    buffer: String,
    pub status: u16,
    pub content_type: String,
}

impl SseStream {
    /// Send the POST (the endpoint's key, JSON and SSE accepted) and wait for the answer's head.
    pub async fn open(to: &Endpoint, headers: &[(&str, &str)], body: &str) -> Self {
        let response = valid_post(to, headers, body).send().await.expect("send");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        Self { response, buffer: String::new(), status, content_type }
    }

    /// The next message (an SSE `data:` line, or the whole JSON body); None when the answer ends.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find('\n') {
                let line: String = self.buffer.drain(..=end).collect();
                let line = line.trim();
                let data = line.strip_prefix("data:").map(str::trim).or_else(|| line.starts_with('{').then_some(line));
                if let Some(message) = data.and_then(|d| serde_json::from_str(d).ok()) {
                    return Some(message);
                }
                continue;
            }
            match self.response.chunk().await.expect("read the stream") {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None if self.buffer.trim().is_empty() => return None,
                None => self.buffer.push('\n'),
            }
        }
    }
}
pub mod package;
