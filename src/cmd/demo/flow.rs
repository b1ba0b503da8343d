//! `tollgate demo`, top to bottom: the order of the steps and the data dir's
//! life (a throwaway dir, or `--keep DIR`).
//!
//! Invariant: the demo's exit code is 0 only if every step did what the
//! documentation says; the summary (`--json`) says which step did not.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::context::Ctx;
use super::report::{Report, Stopped};
use super::{http_steps, kill_switch, stdio, verify};
use crate::clock::Clock;
use crate::cmd::inproc::InProcess;
use crate::config::Config;

const STEPS: usize = 14;

/// How the demo runs.
pub struct DemoOptions {
    /// Keep the data dir here (must be new or empty); else a temporary dir, removed at the end.
    pub keep: Option<PathBuf>,
    /// Print only the JSON summary.
    pub json: bool,
}

/// Run every step; the JSON summary (also when a step failed).
pub async fn run(options: &DemoOptions, out: &mut dyn Write) -> Value {
    let dir = options.keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("tollgate-demo-{}-{}", std::process::id(), crate::audit::new_request_id()))
    });
    if !options.json {
        let _ = writeln!(
            out,
            "tollgate demo: tenants, keys, a spoof attempt, quotas and rate limits, a key rotation, an audit package, \
             a confirmed destructive call, the kill switch, both protocol eras, and offline verification"
        );
    }
    let mut cx = Ctx { dir: dir.clone(), ..Ctx::default() };
    let mut report = Report::new(STEPS, if options.json { None } else { Some(out) });
    let _ = steps(&mut cx, &mut report).await;
    let kept = options.keep.is_some();
    let summary = report.to_json(&dir.display().to_string(), kept);
    drop(report);
    if !kept {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !options.json {
        let _ = writeln!(
            out,
            "{}",
            if kept {
                format!("done. The data dir is kept at {}", dir.display())
            } else {
                "done. The data dir was removed (pass --keep DIR to keep it and open the HTML report)".to_owned()
            }
        );
    }
    summary
}

/// The steps in order; stops at the first that misbehaves.
async fn steps(cx: &mut Ctx, r: &mut Report<'_>) -> Result<(), Stopped> {
    r.record("init", "initializing a data dir", init(cx))?;
    let server = match InProcess::start(&cx.dir, Config::default()).await {
        Ok(s) => s,
        Err(e) => return r.record("serve", "serving HTTP on a free loopback port", Err(e)),
    };
    cx.addr = Some(server.addr);
    let http = http_part(cx, r).await;
    server.stop().await;
    cx.addr = None;
    http?;
    r.record(
        "kill_switch",
        "the kill switch: the same data dir single-tenant, then multi-tenant again",
        kill_switch::run(cx).await,
    )?;
    r.record(
        "stdio",
        "both eras over stdio (a `tollgate stdio` child with acme's key); the 2025 client confirms",
        stdio::run(cx).await,
    )?;
    r.record("verify_chains", "verifying every audit chain offline against the signing key", verify::chains(cx).await)?;
    r.record("verify_package", "the audit package: both verifiers, then a tampered copy", verify::package(cx).await)?;
    Ok(())
}

async fn http_part(cx: &mut Ctx, r: &mut Report<'_>) -> Result<(), Stopped> {
    r.record(
        "serve",
        "serving HTTP on a free loopback port; 2026-07-28: discover, tools/list, whoami",
        http_steps::first_look(cx).await,
    )?;
    r.record("tenants", "bootstrapping tenants acme and globex; issuing keys", http_steps::tenants(cx).await)?;
    r.record("spoof", "acme's admin tries to read globex (a spoofed tenant_id)", http_steps::spoof(cx).await)?;
    r.record(
        "quota",
        "plans and quotas: acme gets a contract of 3 more tool calls this month",
        http_steps::quota(cx).await,
    )?;
    r.record("rate_limit", "a rate limit: globex's key gets 3 calls a minute", http_steps::rate_limit(cx).await)?;
    r.record("key_rotation", "a key rotation with a grace period", http_steps::rotation(cx).await)?;
    r.record("package", "acme exports its audit package", http_steps::package(cx).await)?;
    r.record(
        "confirm",
        "a destructive tool asks first: acme's admin revokes every other key",
        http_steps::confirmation(cx).await,
    )?;
    r.record("legacy", "a 2025-11-25 client: initialize, then whoami on the session", http_steps::legacy(cx).await)?;
    Ok(())
}

fn init(cx: &mut Ctx) -> Result<super::report::Shown, String> {
    let mut s = super::report::Shown::default();
    let init = crate::store::datadir::init(&cx.dir, Clock::system()).map_err(|e| e.to_string())?;
    cx.admin_key = init.api_key.clone();
    s.line(format!("data dir {}", cx.dir.display()));
    s.line(format!("platform admin key issued: {}…", init.api_key.get(..21).unwrap_or_default()));
    s.fact("data_dir", cx.dir.display().to_string());
    Ok(s)
}
