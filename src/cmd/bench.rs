//! `tollgate bench`: throughput of governed calls through the real dispatcher,
//! gate chain and single writer, on a throwaway data dir.
//!
//! It prints figures, it does not judge them: committed `tools/call`s per
//! second with 1 and with N concurrent clients (group commit makes N clients
//! share fsyncs), the writer's mean batch size, and the same server's
//! ungoverned `server/discover` rate as a baseline, all in one run.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::cmd::client::modern_meta;
use crate::config::Config;
use crate::identity::Credential;
use crate::protocol::endpoint::{McpServer, ServerOptions};
use crate::protocol::era::Route;
use crate::store::{Store, StoreOptions};
use crate::wire::TransportKind;
use crate::wire::jsonrpc::Request;

/// One measurement.
#[derive(Debug, Clone)]
pub struct Figure {
    pub label: String,
    pub clients: usize,
    pub calls: usize,
    pub elapsed: Duration,
    pub mean_batch: f64,
}

impl Figure {
    pub fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn request(method: &str, tool: Option<&str>) -> Request {
    let mut params = Map::new();
    params.insert("_meta".into(), modern_meta());
    if let Some(t) = tool {
        params.insert("name".into(), json!(t));
        params.insert("arguments".into(), json!({}));
    }
    Request { id: crate::wire::jsonrpc::Id::from_value(json!(1)), method: method.into(), params }
}

async fn measure(
    server: &Arc<McpServer>,
    store: &Store,
    label: &str,
    req: Request,
    credential: &Credential,
    clients: usize,
    calls: usize,
) -> Result<Figure, String> {
    let before = store.writer_stats();
    let per_client = calls.div_ceil(clients);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (server, req, credential) = (Arc::clone(server), req.clone(), credential.clone());
        tasks.push(tokio::spawn(async move {
            let route = Route::Modern { headers: None };
            for _ in 0..per_client {
                let reply = server.request(&req, &route, TransportKind::Http, None, credential.clone()).await;
                match reply {
                    Ok(v) if v.get("isError") != Some(&Value::Bool(true)) => {}
                    other => return Err(format!("a benchmark call failed: {other:?}")),
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let elapsed = start.elapsed();
    let after = store.writer_stats();
    let batches = after.batches.saturating_sub(before.batches).max(1);
    let jobs = after.jobs.saturating_sub(before.jobs);
    Ok(Figure {
        label: label.into(),
        clients,
        calls: per_client * clients,
        elapsed,
        mean_batch: jobs as f64 / batches as f64,
    })
}

/// Run the benchmark and print its figures.
pub async fn run(out: &mut dyn Write, calls: usize, clients: &[usize]) -> Result<Vec<Figure>, String> {
    let dir = std::env::temp_dir().join(format!("tollgate-bench-{}", crate::audit::new_request_id()));
    let init = crate::store::datadir::init(&dir, Clock::system()).map_err(|e| e.to_string())?;
    let store = Store::open(&dir, Clock::system(), StoreOptions::default()).map_err(|e| e.to_string())?;
    let server =
        McpServer::new(ServerOptions::default(), Arc::clone(&store), Config::default()).map_err(|e| e.to_string())?;
    // A tenant principal, so that calls are metered and quota-checked like a customer's.
    let admin = Credential::Bearer(init.api_key);
    let setup = |name: &str, args: Value| {
        let mut r = request("tools/call", Some(name));
        r.params.insert("arguments".into(), args);
        r
    };
    let route = Route::Modern { headers: None };
    let boot = server
        .request(
            &setup("tenant.bootstrap", json!({"slug": "bench", "display_name": "Bench", "plan": "enterprise"})),
            &route,
            TransportKind::Http,
            None,
            admin.clone(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let tenant = boot["structuredContent"]["tenant_id"].clone();
    let limits =
        json!({"tool_calls": 1_000_000_000u64, "rate_per_key": 100_000_000u32, "rate_per_account": 100_000_000u32});
    server
        .request(
            &setup("plan.set", json!({"tenant_id": tenant, "plan": "enterprise", "limits": limits})),
            &route,
            TransportKind::Http,
            None,
            admin,
        )
        .await
        .map_err(|e| e.to_string())?;
    let credential = Credential::Bearer(boot["structuredContent"]["api_key"].as_str().unwrap_or_default().to_owned());
    let _ = writeln!(
        out,
        "tollgate bench: {calls} calls per run, SQLite WAL + synchronous=FULL, data dir {}",
        dir.display()
    );
    let mut figures = Vec::new();
    for &n in clients {
        let f = measure(
            &server,
            &store,
            "tools/call whoami (governed, audited)",
            request("tools/call", Some("whoami")),
            &credential,
            n,
            calls,
        )
        .await?;
        let _ = writeln!(
            out,
            "  {:<40} clients={:<3} {:>9.0} calls/s  (mean commit batch {:.1})",
            f.label,
            f.clients,
            f.per_second(),
            f.mean_batch
        );
        figures.push(f);
    }
    let &widest = clients.iter().max().unwrap_or(&1);
    let d = measure(
        &server,
        &store,
        "server/discover (ungoverned)",
        request("server/discover", None),
        &credential,
        widest,
        calls,
    )
    .await?;
    let _ = writeln!(out, "  {:<40} clients={:<3} {:>9.0} calls/s", d.label, d.clients, d.per_second());
    if let (Some(first), Some(last)) = (figures.first(), figures.last()) {
        let _ = writeln!(
            out,
            "  group commit speed-up ({} vs {} clients): {:.1}x",
            last.clients,
            first.clients,
            last.per_second() / first.per_second()
        );
        let _ = writeln!(
            out,
            "  governed / ungoverned at {} clients: {:.3}",
            last.clients,
            last.per_second() / d.per_second()
        );
    }
    figures.push(d);
    store.shutdown();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
}
