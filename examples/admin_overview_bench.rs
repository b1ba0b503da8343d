//! How fast `admin.overview` answers on a large audit log (issue 18,
//! done-when 2: under 50 ms with 100,000 audit records). It prints figures;
//! it judges nothing.
//!
//!     cargo run --release --example admin_overview_bench [-- RECORDS [CALLS]]
//!
//! A throwaway data dir gets RECORDS (default 100,000) audit records over 20
//! tenants' chains, one every 25 seconds back from now (about 29 days, so
//! the last 24 hours hold some 3,500 of them), a fifth of them denials with
//! four reasons; then the platform admin calls `admin.overview` CALLS times
//! (default 200) through the real dispatcher, gate chain and commit, with
//! `admin_console` on. The first call is reported apart: it compares the
//! served schemas with the committed ones once per process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tollgate::audit::{Decision, RecordDraft, new_request_id};
use tollgate::clock::Clock;
use tollgate::cmd::client::modern_meta;
use tollgate::config::Config;
use tollgate::identity::{Credential, TenantId};
use tollgate::protocol::endpoint::{McpServer, ServerOptions};
use tollgate::protocol::era::Route;
use tollgate::store::{Store, StoreOptions, audit_log, datadir};
use tollgate::wire::TransportKind;
use tollgate::wire::jsonrpc::{Id, Request};

const TENANTS: usize = 20;
const REASONS: [&str; 4] = ["role_required", "tenant_mismatch", "not_entitled", "quota_exceeded"];

fn call(tool: &str, arguments: Value) -> Request {
    let mut params = Map::new();
    params.insert("_meta".into(), modern_meta());
    params.insert("name".into(), json!(tool));
    params.insert("arguments".into(), arguments);
    Request { id: Id::from_value(json!(1)), method: "tools/call".into(), params }
}

/// Append `records` audit records to the tenants' chains, a thousand per transaction.
fn fill(store: &Store, clock: &Clock, records: usize) -> Result<(), String> {
    let now = clock.now();
    let chains: Vec<String> = (0..TENANTS).map(|i| TenantId::for_slug(&format!("bench-{i:02}")).0).collect();
    let mut written = 0;
    while written < records {
        let batch: Vec<RecordDraft> = (written..records.min(written + 1000))
            .map(|i| {
                let deny = i % 5 == 0;
                RecordDraft {
                    ts: tollgate::clock::rfc3339(now - time::Duration::seconds(25 * (records - i) as i64)),
                    request_id: new_request_id(),
                    principal: format!("k{:016}", i % 97),
                    tenant: chains[i % TENANTS].clone(),
                    tool: Some("whoami".into()),
                    version: Some(1),
                    decision: if deny { Decision::Deny } else { Decision::Allow },
                    reason: deny.then(|| REASONS[(i / 5) % REASONS.len()].to_owned()),
                    args_digest: None,
                    result_digest: None,
                    usage: Map::new(),
                    transport: "http".into(),
                    aggregate: None,
                }
            })
            .collect();
        written += batch.len();
        store
            .write_blocking(move |w| {
                for draft in batch {
                    let chain = draft.tenant.clone();
                    audit_log::append(w, &chain, draft)?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let records: usize =
        args.next().map(|a| a.parse().map_err(|_| "RECORDS must be a number")).transpose()?.unwrap_or(100_000);
    let calls: usize = args.next().map(|a| a.parse().map_err(|_| "CALLS must be a number")).transpose()?.unwrap_or(200);
    let dir = std::env::temp_dir().join(format!("tollgate-overview-bench-{}", new_request_id()));
    let clock = Clock::system();
    let init = datadir::init(&dir, clock.clone()).map_err(|e| e.to_string())?;
    let store = Store::open(&dir, clock.clone(), StoreOptions::default()).map_err(|e| e.to_string())?;
    let filled = Instant::now();
    fill(&store, &clock, records)?;
    println!("tollgate admin.overview bench: {records} audit records written in {:.1?}", filled.elapsed());

    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let figures = runtime.block_on(async {
        let config = Config { admin_console: true, ..Config::default() };
        let server = McpServer::new(ServerOptions::default(), Arc::clone(&store), config).map_err(|e| e.to_string())?;
        let admin = Credential::Bearer(init.api_key.clone());
        let route = Route::Modern { headers: None };
        for i in 0..TENANTS {
            let slug = format!("bench-{i:02}");
            let boot = call("tenant.bootstrap", json!({"slug": slug, "display_name": slug, "plan": "pro"}));
            server.request(&boot, &route, TransportKind::Http, None, admin.clone()).await.map_err(|e| e.to_string())?;
        }
        let mut times = Vec::with_capacity(calls + 1);
        let mut last = Value::Null;
        for _ in 0..=calls {
            let start = Instant::now();
            let reply = server
                .request(&call("admin.overview", json!({})), &route, TransportKind::Http, None, admin.clone())
                .await
                .map_err(|e| e.to_string())?;
            times.push(start.elapsed());
            if reply.get("isError") == Some(&Value::Bool(true)) {
                return Err(format!("admin.overview failed: {reply}"));
            }
            last = reply["structuredContent"].clone();
        }
        Ok::<_, String>((times, last))
    })?;
    let (mut times, last) = figures;
    let first = times.remove(0);
    times.sort();
    println!(
        "  admin.overview, platform admin, {calls} calls after the first: median {:.2?}  p95 {:.2?}  max {:.2?}  (first call {:.2?})",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().copied().unwrap_or_default(),
        first
    );
    println!(
        "  last 24 h as reported: {} calls, {} denied, by reason {}",
        last["last_24h"]["calls"], last["last_24h"]["denied"], last["last_24h"]["denials_by_reason"]
    );
    store.shutdown();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
