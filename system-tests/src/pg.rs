//! A real PostgreSQL for the system tests: a throwaway cluster started by the
//! test process itself (Debian's PostgreSQL 15: `initdb`, `postgres`), or the
//! server `TOLLGATE_TEST_DATABASE_URL` names (a superuser's URL). Each test
//! gets a fresh database with tollgate's roles bootstrapped and its schema
//! migrated through the binary.
//!
//! `TOLLGATE_TEST_BACKEND=postgres` runs the black-box suite on PostgreSQL;
//! without PostgreSQL binaries a PostgreSQL test says so loudly and skips,
//! unless `TOLLGATE_REQUIRE_POSTGRES=1` (CI), which makes that a failure.
//! The cluster runs as an unprivileged user (`nobody` when the tests run as
//! root, as CI does: PostgreSQL refuses to run as root) and dies with the
//! test process (`setpriv --pdeathsig`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Where the server is and how to reach it as a superuser.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub host: String,
    pub port: u16,
    /// `user[:password]` of a superuser.
    pub superuser: String,
}

/// One test's database and the URLs of tollgate's roles on it.
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    /// The serving role (`tollgate_app`): what `serve` and `stdio` connect as.
    pub app_url: String,
    /// The maintenance role (BYPASSRLS): `migrate`, `init`, offline commands.
    pub maint_url: String,
    /// A superuser (test inspection only).
    pub super_url: String,
}

/// The password the tests give tollgate's login roles (ignored by the
/// throwaway cluster, which trusts loopback; needed on a shared server).
const TEST_PASSWORD: &str = "tollgate-test";

/// Whether this run is on PostgreSQL (`TOLLGATE_TEST_BACKEND=postgres`).
pub fn wanted() -> bool {
    std::env::var("TOLLGATE_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

/// Whether a missing PostgreSQL is a failure rather than a skip.
pub fn required() -> bool {
    std::env::var("TOLLGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The cluster, started on first use; `None` (after a loud message) when no
/// PostgreSQL is installed and none is required.
pub fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match CLUSTER.get_or_init(start) {
        Ok(c) => Some(c),
        Err(why) if required() => panic!("TOLLGATE_REQUIRE_POSTGRES=1 but PostgreSQL is not usable: {why}"),
        Err(why) => {
            eprintln!(
                "\n*** SKIPPED: no PostgreSQL for this test ({why}); install postgresql or set TOLLGATE_TEST_DATABASE_URL ***\n"
            );
            None
        }
    }
}

/// A PostgreSQL test that finds no PostgreSQL returns early through this.
#[macro_export]
macro_rules! require_postgres {
    () => {
        match $crate::pg::cluster() {
            Some(c) => c,
            None => return,
        }
    };
    ($none:expr) => {
        match $crate::pg::cluster() {
            Some(c) => c,
            None => return $none,
        }
    };
}

fn start() -> Result<Cluster, String> {
    if let Ok(url) = std::env::var("TOLLGATE_TEST_DATABASE_URL") {
        return external(&url);
    }
    let bin = binaries().ok_or("initdb and postgres not found on PATH or in /usr/lib/postgresql/*/bin")?;
    let root = std::env::temp_dir().join(format!("tollgate-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    remove_stale_clusters();
    let as_root = is_root();
    if as_root {
        chown_nobody(&root)?;
    }
    let data = root.join("data");
    let mut initdb = unprivileged(as_root, &bin.join("initdb"));
    initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    let out = initdb.output().map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = free_port()?;
    let log = std::fs::File::create(root.join("postgres.log")).map_err(|e| e.to_string())?;
    let mut postgres = unprivileged(as_root, &bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"])
        .args(["-c", "fsync=off", "-c", "shared_preload_libraries=pg_stat_statements"])
        .arg("-k")
        .arg(&root)
        .stdout(Stdio::null())
        .stderr(log);
    // The server dies with this process: spawned from a thread that lives as
    // long as the process, with a parent-death signal.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let child = postgres.spawn();
        let ok = child.is_ok();
        let _ = tx.send(child.map(|_| ()).map_err(|e| e.to_string()));
        if ok {
            loop {
                std::thread::park();
            }
        }
    });
    rx.recv().map_err(|e| e.to_string())??;
    let cluster = Cluster { host: "127.0.0.1".into(), port, superuser: "postgres".into() };
    for _ in 0..200 {
        if psql(&cluster.url("postgres"), "SELECT 1").is_ok() {
            return Ok(cluster);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("postgres did not accept connections; see {}", root.join("postgres.log").display()))
}

/// A server named by a superuser URL `postgres://user[:pw]@host[:port]/db`.
fn external(url: &str) -> Result<Cluster, String> {
    let rest =
        url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")).ok_or("not a postgres URL")?;
    let (auth, hostpart) = rest.split_once('@').ok_or("TOLLGATE_TEST_DATABASE_URL needs user@host")?;
    let hostport = hostpart.split('/').next().unwrap_or(hostpart);
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| "bad port")?),
        None => (hostport.to_owned(), 5432),
    };
    Ok(Cluster { host, port, superuser: auth.to_owned() })
}

impl Cluster {
    /// A superuser's URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{}@{}:{}/{db}", self.superuser, self.host, self.port)
    }

    /// A URL of database `db` as `role`.
    pub fn role_url(&self, role: &str, db: &str) -> String {
        format!("postgres://{role}:{TEST_PASSWORD}@{}:{}/{db}", self.host, self.port)
    }

    /// A new database with tollgate's roles bootstrapped and its schema
    /// migrated, both through `tollgate migrate` (once per test process, into
    /// a template database that each test's database is then copied from).
    pub fn fresh_database(&self) -> Database {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        static TEMPLATE: OnceLock<String> = OnceLock::new();
        let template = TEMPLATE.get_or_init(|| {
            let name = format!("tg_{}_template", std::process::id());
            self.migrated(&name);
            name
        });
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tg_{}_{n}", std::process::id());
        // CREATE DATABASE … TEMPLATE needs the template unused: one copy at a time.
        static COPYING: Mutex<()> = Mutex::new(());
        {
            let _one = COPYING.lock().unwrap_or_else(|p| p.into_inner());
            psql(&self.url("postgres"), &format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        Database {
            app_url: self.role_url("tollgate_app", &name),
            maint_url: self.role_url("tollgate_maint", &name),
            super_url: self.url(&name),
            name,
        }
    }

    /// Create database `name`, bootstrap the roles and migrate it through the binary.
    fn migrated(&self, name: &str) {
        // Roles are global to the server: one bootstrap at a time.
        static ROLES: Mutex<()> = Mutex::new(());
        psql(&self.url("postgres"), &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        let super_url = self.url(name);
        let _one = ROLES.lock().unwrap_or_else(|p| p.into_inner());
        let out = Command::new(crate::binary())
            .args(["migrate", "--bootstrap-roles"])
            .env("TOLLGATE_DATABASE_URL", &super_url)
            .output()
            .expect("run tollgate migrate");
        assert!(out.status.success(), "migrate --bootstrap-roles: {}", String::from_utf8_lossy(&out.stderr));
        psql(
            &super_url,
            &format!("ALTER ROLE tollgate_app PASSWORD '{TEST_PASSWORD}'; ALTER ROLE tollgate_maint PASSWORD '{TEST_PASSWORD}'"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Run SQL with `psql` (unaligned, tuples only: `a|b` lines, like sqlite3's list mode).
pub fn psql(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .map_err(|e| format!("run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

/// The directory holding `initdb` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("postgres").is_file()));
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chown_nobody(dir: &Path) -> Result<(), String> {
    let ok = Command::new("chown").args(["nobody:nogroup"]).arg(dir).status().is_ok_and(|s| s.success());
    if ok { Ok(()) } else { Err(format!("cannot chown {} to nobody", dir.display())) }
}

/// `program` run as `nobody` when this process is root, dying with its parent.
fn unprivileged(as_root: bool, program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "TERM"]);
    if as_root {
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    }
    cmd.arg(program);
    cmd
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Clusters of test processes that are gone (their server died with them).
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("tollgate-pg-").and_then(|p| p.parse::<u32>().ok())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
