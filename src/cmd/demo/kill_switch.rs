//! The demo's kill-switch step: the same data dir served single-tenant
//! (`multi_tenant = false`), then multi-tenant again.
//!
//! Invariant: the step passes only if single-tenant mode hides every tenant
//! tool and refuses other tenants' keys, and switching back restores them.

use serde_json::json;

use super::context::{Ctx, call, names, reply};
use super::report::Shown;
use crate::cmd::inproc::InProcess;
use crate::config::Config;

const TENANT_TOOLS: [&str; 3] = ["tenant.bootstrap", "tenant.list", "tenant.get"];

pub async fn run(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let single = InProcess::start(&cx.dir, Config { multi_tenant: false, ..Config::default() }).await?;
    cx.addr = Some(single.addr);
    let checked = single_tenant(cx, &mut s).await;
    single.stop().await;
    checked?;

    let multi = InProcess::start(&cx.dir, Config::default()).await?;
    cx.addr = Some(multi.addr);
    let checked = multi_again(cx, &mut s).await;
    multi.stop().await;
    cx.addr = None;
    checked?;
    Ok(s)
}

async fn single_tenant(cx: &Ctx, s: &mut Shown) -> Result<(), String> {
    let list = cx.admin()?.modern("tools/list", json!({})).await?;
    let tools = names(&list);
    if let Some(t) = TENANT_TOOLS.iter().find(|t| tools.iter().any(|n| n == *t)) {
        return Err(format!("single-tenant mode still lists {t}"));
    }
    s.line(format!("multi_tenant = false: the same data dir, {} tools, none of them tenant tools", tools.len()));
    let acme = cx.client(Ctx::key_of(&cx.acme))?;
    let refused = reply(&acme, "whoami", json!({})).await?;
    let code = refused["error"]["code"].as_i64();
    if code != Some(-31401) {
        return Err(format!("single-tenant mode must refuse acme's key (401), got {refused}"));
    }
    s.line(format!("acme's key is refused: {} {}", refused["error"]["code"], refused["error"]["data"]));
    s.fact("single_tenant_tools", tools.len());
    s.fact("single_tenant_refuses_tenant_keys", true);
    Ok(())
}

async fn multi_again(cx: &Ctx, s: &mut Shown) -> Result<(), String> {
    let list = cx.admin()?.modern("tools/list", json!({})).await?;
    let tools = names(&list);
    if !TENANT_TOOLS.iter().all(|t| tools.iter().any(|n| n == t)) {
        return Err(format!("multi-tenant again must list the tenant tools: {tools:?}"));
    }
    let who = call(&cx.client(Ctx::key_of(&cx.acme))?, "whoami", json!({})).await?;
    if who["tenant"] != cx.acme["tenant_id"] {
        return Err(format!("multi-tenant again: acme's key must act for acme, got {who}"));
    }
    s.line(format!(
        "multi_tenant = true again: {} tools; acme's key works and acts for {}",
        tools.len(),
        who["tenant"]
    ));
    s.fact("multi_tenant_tools", tools.len());
    s.fact("restored", true);
    Ok(())
}
