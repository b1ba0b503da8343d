//! Governed calls on SQLite and on PostgreSQL with one and two instances,
//! in one run, over real HTTP (issue 14, done-when 4). It prints figures; it
//! does not judge them.
//!
//! `cargo run --release -p system-tests --bin pg-bench -- [SECONDS] [CLIENTS]`
//! (defaults 10 s, 16 clients). For each setup: governed `whoami` calls per
//! second (authentication, rate limits, quota, metering and a durable audit
//! record each), writer batches per call (from `/metrics`), and on
//! PostgreSQL every transaction and every statement (round trip) per call,
//! read from `pg_stat_database` and `pg_stat_statements` after
//! `pg_stat_force_next_flush()`; and the servers' CPU per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use system_tests::pg::{Database, psql};
use system_tests::{DataDir, Endpoint, HttpServer, http_tool, tool_output};

const LOOSE: &str = "per_address_rps = 1000000\nper_address_burst = 1000000\n";

struct Setup {
    label: &'static str,
    servers: Vec<HttpServer>,
    metrics: Vec<String>,
    db: Option<Database>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

fn start(dirs: Vec<DataDir>) -> (Vec<HttpServer>, Vec<String>) {
    let mut servers = Vec::new();
    let mut metrics = Vec::new();
    for dir in dirs {
        let at = format!("127.0.0.1:{}", free_port());
        servers.push(HttpServer::start_in(dir, &["--metrics-listen", &at]));
        metrics.push(format!("http://{at}/metrics"));
    }
    (servers, metrics)
}

fn setup(label: &'static str, instances: usize, postgres: bool) -> Option<Setup> {
    let db = if postgres { Some(system_tests::pg::cluster()?.fresh_database()) } else { None };
    let first = DataDir::init_on(db.as_ref());
    std::fs::write(first.path.join("tollgate.toml"), LOOSE).ok()?;
    let mut dirs = vec![first];
    for _ in 1..instances {
        let next = dirs[0].second_instance();
        dirs.push(next);
    }
    if let Some(db) = &db {
        psql(&db.super_url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements").ok()?;
    }
    let (servers, metrics) = start(dirs);
    Some(Setup { label, servers, metrics, db })
}

/// `tollgate_store_commit_batch_size_count` summed over the instances.
async fn batches(metrics: &[String]) -> f64 {
    let mut total = 0.0;
    for url in metrics {
        let text = reqwest::get(url).await.ok().map(|r| r.text());
        let text = match text {
            Some(t) => t.await.unwrap_or_default(),
            None => String::new(),
        };
        total += text
            .lines()
            .find_map(|l| l.strip_prefix("tollgate_store_commit_batch_size_count "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    total
}

/// (transactions committed, statements run) in the database so far.
fn database_counters(db: &Database) -> (f64, f64) {
    let _ = psql(&db.super_url, "SELECT pg_stat_force_next_flush()");
    let xacts = psql(&db.super_url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        .ok()
        .and_then(|l| l.first().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    let calls = psql(
        &db.super_url,
        "SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND r.rolname = 'tollgate_app'",
    )
    .ok()
    .and_then(|l| l.first().and_then(|v| v.parse().ok()))
    .unwrap_or(0.0);
    (xacts, calls)
}

/// CPU time (user + system) of a process so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn run(setup: &Setup, seconds: u64, clients: usize) {
    let admin = setup.servers[0].endpoint();
    let boot =
        http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": "bench", "display_name": "bench", "plan": "pro"}))
            .await;
    let Some(boot) = tool_output(&boot.body) else {
        println!("{}: bootstrap failed: {}", setup.label, boot.body);
        return;
    };
    let tenant = boot["tenant_id"].as_str().unwrap_or_default().to_owned();
    let key = boot["api_key"].as_str().unwrap_or_default().to_owned();
    let limits = json!({"tool_calls": 100_000_000u64, "rate_per_key": 10_000_000, "rate_per_account": 10_000_000});
    http_tool(&admin, 2, "plan.set", json!({"tenant_id": tenant, "plan": "pro", "limits": limits})).await;
    let targets: Arc<Vec<Endpoint>> =
        Arc::new(setup.servers.iter().map(|s| s.endpoint().with_key(Some(&key))).collect());
    // Warm up (connections, statement caches), then measure.
    drive(&targets, clients, Duration::from_secs(1)).await;
    if let Some(db) = &setup.db {
        let _ = psql(&db.super_url, "SELECT pg_stat_statements_reset()");
    }
    let db_before = setup.db.as_ref().map(database_counters);
    let batches_before = batches(&setup.metrics).await;
    let cpu_before: f64 = setup.servers.iter().map(|s| cpu_seconds(s.pid())).sum();
    let started = Instant::now();
    let (ok, failed) = drive(&targets, clients, Duration::from_secs(seconds)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = setup.servers.iter().map(|s| cpu_seconds(s.pid())).sum::<f64>() - cpu_before;
    let batches = batches(&setup.metrics).await - batches_before;
    let calls = ok.max(1) as f64;
    let mut line = format!(
        "{:<22} {:>9.0} calls/s  {:>6.3} writer batches/call  {:>6.2} ms server CPU/call",
        setup.label,
        ok as f64 / elapsed,
        batches / calls,
        cpu * 1000.0 / calls
    );
    if let (Some(db), Some((x0, s0))) = (&setup.db, db_before) {
        let (x1, s1) = database_counters(db);
        line.push_str(&format!(
            "  {:>5.2} transactions/call  {:>5.2} statements/call",
            (x1 - x0) / calls,
            (s1 - s0) / calls
        ));
    }
    if failed > 0 {
        line.push_str(&format!("  ({failed} failed)"));
    }
    println!("{line}");
}

/// `clients` loops calling `whoami` round-robin over `targets` for `span`.
async fn drive(targets: &Arc<Vec<Endpoint>>, clients: usize, span: Duration) -> (u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (targets, stop, ok, failed) =
            (Arc::clone(targets), Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let answer = http_tool(&targets[i % targets.len()], 3, "whoami", json!({})).await;
                if tool_output(&answer.body).is_some() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(span).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let clients = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    println!("governed whoami over HTTP, {clients} clients, {seconds} s each (machine: {} cores)", cores());
    for (label, instances, postgres) in
        [("SQLite, 1 instance", 1, false), ("PostgreSQL, 1 instance", 1, true), ("PostgreSQL, 2 instances", 2, true)]
    {
        match setup(label, instances, postgres) {
            Some(s) => run(&s, seconds, clients).await,
            None => println!("{label}: skipped (no PostgreSQL)"),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
