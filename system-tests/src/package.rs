//! Helpers for the audit package tests: a server with tenant activity on a
//! pinned clock, downloads, the offline export and both verifiers (the
//! binary and examples/verify_package.py).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::{DataDir, Endpoint, HttpServer, http_tool, run_tollgate, tool_output};

/// A server on a pinned clock with tenants acme (pro plan, with activity)
/// and globex.
pub struct Activity {
    pub server: HttpServer,
    pub clock: PathBuf,
    pub acme: String,
    /// acme's tenant admin.
    pub acme_admin: Endpoint,
    /// acme's auditor.
    pub acme_auditor: Endpoint,
    pub globex: String,
    pub globex_admin: Endpoint,
}

/// Sets the server's clock.
pub fn set_clock(clock: &Path, ts: &str) {
    std::fs::write(clock, ts).expect("write clock file");
}

async fn ok(to: &Endpoint, name: &str, args: Value) -> Value {
    let r = http_tool(to, 1, name, args).await;
    tool_output(&r.body).unwrap_or_else(|| panic!("{name}: {:?}", r.body))
}

/// Starts the server and makes calls: allowed ones, tool failures and a
/// spoofed-tenant denial, across two seconds; checkpoints every 5 records.
pub async fn activity() -> Activity {
    activity_with("").await
}

/// [`activity`] with more lines in `tollgate.toml` (feature flags, say).
pub async fn activity_with(config: &str) -> Activity {
    let dir = DataDir::init();
    let base =
        "checkpoint_every = 5\ncheckpoint_interval_secs = 3600\nper_address_rps = 100000\nper_address_burst = 100000\n";
    std::fs::write(dir.path.join("tollgate.toml"), format!("{base}{config}")).expect("config");
    let clock = dir.path.join("clock");
    set_clock(&clock, "2030-01-15T12:00:00Z");
    let clock_arg = clock.to_string_lossy().into_owned();
    let server = HttpServer::start_in(dir, &["--clock-file", &clock_arg]);
    let admin = server.endpoint();
    let boot =
        ok(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme <Corp>", "plan": "pro"})).await;
    let acme = boot["tenant_id"].as_str().expect("id").to_owned();
    let acme_admin = admin.with_key(boot["api_key"].as_str());
    let boot = ok(&admin, "tenant.bootstrap", json!({"slug": "globex", "display_name": "Globex"})).await;
    let globex = boot["tenant_id"].as_str().expect("id").to_owned();
    let globex_admin = admin.with_key(boot["api_key"].as_str());
    let auditor = ok(&acme_admin, "key.issue", json!({"role": "auditor", "label": "external auditor"})).await;
    let acme_auditor = admin.with_key(auditor["api_key"].as_str());
    set_clock(&clock, "2030-01-15T12:00:01Z");
    for i in 0..10 {
        let (tool, args) = match i % 4 {
            0 => ("whoami", json!({})),
            1 => ("key.issue", json!({"role": "viewer", "label": format!("k{i}")})),
            2 => ("audit.verify", json!({"tenant_id": globex})),
            _ => ("key.revoke", json!({"key_id": "k0000000000000000"})),
        };
        http_tool(&acme_admin, 10 + i, tool, args).await;
    }
    Activity { server, clock, acme, acme_admin, acme_auditor, globex, globex_admin }
}

/// `GET {base}/packages/{id}` with `key`: status and body bytes.
pub async fn download(base: &str, id: &str, key: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = crate::client().get(format!("{base}/packages/{id}"));
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = req.send().await.expect("GET package");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("body").to_vec())
}

/// The Python interpreter: `$PY` (from `.tools/env.sh`) or `python3`.
pub fn python() -> String {
    std::env::var("PY").unwrap_or_else(|_| "python3".into())
}

/// examples/verify_package.py.
pub fn python_verifier() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/verify_package.py")
}

/// Result of one verifier run.
#[derive(Debug)]
pub struct Verdict {
    pub who: &'static str,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Verdict {
    /// The stable problem code printed in brackets on the INVALID line.
    pub fn problem(&self) -> Option<String> {
        let line = self.stdout.lines().find(|l| l.starts_with("INVALID"))?;
        let start = line.rfind('[')?;
        Some(line[start + 1..].trim_end_matches(']').to_owned())
    }
}

/// Runs `tollgate audit verify PATH` and the Python verifier with the same
/// pin flags (`pure`: force the pure-Python Ed25519).
pub fn verify_both(path: &Path, pin: &[&str], pure: bool) -> [Verdict; 2] {
    let mut args: Vec<std::ffi::OsString> = vec!["audit".into(), "verify".into(), path.into()];
    args.extend(pin.iter().map(std::ffi::OsString::from));
    let (code, stdout, stderr) = run_tollgate(&args);
    let rust = Verdict { who: "tollgate", code, stdout, stderr };
    let mut py = Command::new(python());
    py.arg(python_verifier()).arg(path).args(pin);
    if pure {
        py.env("VERIFY_PACKAGE_PURE_PYTHON", "1");
    }
    let out = py.output().expect("run the Python verifier");
    let python = Verdict {
        who: "verify_package.py",
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    [rust, python]
}

/// `tollgate audit export` on a stopped data dir.
pub fn export_offline(dir: &Path, tenant: &str, out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args: Vec<std::ffi::OsString> =
        vec!["audit".into(), "export".into(), "--data-dir".into(), dir.into(), "--tenant".into(), tenant.into()];
    args.push("--out".into());
    args.push(out.into());
    args.extend(extra.iter().map(std::ffi::OsString::from));
    run_tollgate(&args)
}

/// Every file under `dir`, relative path → bytes.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("prefix").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!("tollgate-pkg-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("scratch dir");
        Self(path)
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
