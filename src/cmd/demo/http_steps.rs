//! The demo's steps over HTTP on the in-process server: first look, tenants,
//! a spoof attempt, plans and quotas, a rate limit, a key rotation, an audit
//! package, a confirmed destructive call, a 2025 session.
//!
//! Invariant: each step checks what it shows; a step whose server does not
//! behave as documented returns `Err` and the demo stops.

use serde_json::{Value, json};

use super::context::{Ctx, call, names, refusal, reply, text_of};
use super::report::Shown;
use crate::cmd::client::HttpClient;

pub async fn first_look(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let admin = cx.admin()?;
    let discover = admin.modern("server/discover", json!({})).await?;
    s.line(format!("server/discover: versions {}", discover["supportedVersions"]));
    let list = admin.modern("tools/list", json!({})).await?;
    let tools = names(&list);
    s.line(format!("tools the platform admin sees: {}", tools.join(", ")));
    let who = call(&admin, "whoami", json!({})).await?;
    s.line(format!("whoami: {who}"));
    if who["role"] != "platform_admin" {
        return Err(format!("whoami: expected the platform admin, got {who}"));
    }
    s.fact("tools", tools.len());
    s.fact("role", who["role"].clone());
    Ok(s)
}

pub async fn tenants(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let admin = cx.admin()?;
    cx.acme =
        call(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme Corp", "plan": "pro"})).await?;
    cx.globex = call(&admin, "tenant.bootstrap", json!({"slug": "globex", "display_name": "Globex"})).await?;
    let acme_admin = cx.client(Ctx::key_of(&cx.acme))?;
    s.line(format!("acme = {} (pro), globex = {} (free)", cx.acme["tenant_id"], cx.globex["tenant_id"]));
    let viewer = call(&acme_admin, "key.issue", json!({"role": "viewer", "label": "dashboard"})).await?;
    s.line(format!("acme's admin issued viewer key {}", viewer["key_id"]));
    let list = acme_admin.modern("tools/list", json!({})).await?;
    s.line(format!("tools acme's admin sees: {}", names(&list).join(", ")));
    s.fact("acme", cx.acme["tenant_id"].clone());
    s.fact("globex", cx.globex["tenant_id"].clone());
    Ok(s)
}

pub async fn spoof(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let acme_admin = cx.client(Ctx::key_of(&cx.acme))?;
    let answer = reply(&acme_admin, "tenant.get", json!({"tenant_id": cx.globex["tenant_id"]})).await?;
    let denied = refusal(&answer, "a spoofed tenant_id", "tenant_mismatch")?;
    s.line(format!("denied and audited: {} {}", denied["code"], denied["data"]));
    let foreign = acme_admin
        .modern("tools/call", json!({"name": "key.revoke", "arguments": {"key_id": cx.globex["key_id"]}}))
        .await?;
    let text = text_of(&foreign);
    if !text.contains("not_found") {
        return Err(format!("revoking another tenant's key must look like a missing key, got {text}"));
    }
    s.line(format!("revoking globex's key answers like a missing key: {text}"));
    s.fact("code", denied["code"].clone());
    s.fact("reason", "tenant_mismatch");
    Ok(s)
}

pub async fn quota(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let (admin, acme_admin) = (cx.admin()?, cx.client(Ctx::key_of(&cx.acme))?);
    let report = call(&acme_admin, "usage.report", json!({})).await?;
    let used = report["counters"][0]["used"].as_u64().unwrap_or(0);
    let limits = json!({"tool_calls": used + 4});
    let state =
        call(&admin, "plan.set", json!({"tenant_id": cx.acme["tenant_id"], "plan": "pro", "limits": limits})).await?;
    s.line(format!("plan.set: pro, tool_calls limit {} (version {})", state["limits"]["tool_calls"], state["version"]));
    let (admitted, denial) = until_refused(&acme_admin, 10, "the quota").await?;
    if denial["data"]["reason"] != "quota_exceeded" {
        return Err(format!("expected quota_exceeded, got {denial}"));
    }
    s.line(format!("{admitted} calls admitted, then denied: {} {}", denial["code"], denial["data"]));
    call(&admin, "plan.set", json!({"tenant_id": cx.acme["tenant_id"], "plan": "enterprise"})).await?;
    let who = call(&acme_admin, "whoami", json!({})).await?;
    s.line(format!(
        "upgraded to enterprise: admitted again, {} tool calls left this month",
        who["remaining_tool_calls"]
    ));
    s.fact("admitted", admitted);
    s.fact("code", denial["code"].clone());
    s.fact("reason", "quota_exceeded");
    s.fact("admitted_after_upgrade", true);
    Ok(s)
}

/// Call `whoami` until it is refused: how many were admitted, and the refusal.
async fn until_refused(client: &HttpClient, at_most: u32, what: &str) -> Result<(u32, Value), String> {
    for admitted in 0..=at_most {
        if let Some(e) = reply(client, "whoami", json!({})).await?.get("error") {
            return Ok((admitted, e.clone()));
        }
    }
    Err(format!("{what} never applied ({at_most} calls admitted)"))
}

pub async fn rate_limit(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let (admin, globex) = (cx.admin()?, cx.client(Ctx::key_of(&cx.globex))?);
    let limits = json!({"rate_per_key": 3});
    call(&admin, "plan.set", json!({"tenant_id": cx.globex["tenant_id"], "plan": "free", "limits": limits})).await?;
    s.line("plan.set: globex's key may make 3 calls a minute");
    let (admitted, denial) = until_refused(&globex, 20, "the rate limit").await?;
    let retry = denial["data"]["retry_after_ms"].as_u64().unwrap_or(0);
    if denial["data"]["reason"] != "rate_limited" || retry == 0 {
        return Err(format!("expected rate_limited with retry_after_ms, got {denial}"));
    }
    s.line(format!(
        "{admitted} calls admitted, then {} rate_limited: retry after {retry} ms (HTTP 429, Retry-After {} s)",
        denial["code"],
        retry.div_ceil(1000)
    ));
    s.fact("admitted", admitted);
    s.fact("code", denial["code"].clone());
    s.fact("retry_after_ms", retry);
    Ok(s)
}

pub async fn rotation(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let acme_admin = cx.client(Ctx::key_of(&cx.acme))?;
    let ops = call(&acme_admin, "key.issue", json!({"role": "operator", "label": "ci"})).await?;
    let old = ops["api_key"].as_str().unwrap_or_default().to_owned();
    let rotated = call(&acme_admin, "key.rotate", json!({"key_id": ops["key_id"], "grace_seconds": 600})).await?;
    let new = rotated["api_key"].as_str().unwrap_or_default().to_owned();
    s.line(format!("rotated operator key {} → {} with a 600 s grace", ops["key_id"], rotated["key_id"]));
    let (old_works, new_works) = (works(cx, &old).await?, works(cx, &new).await?);
    if !(old_works && new_works) {
        return Err(format!("within the grace both keys must work: old {old_works}, new {new_works}"));
    }
    s.line("within the grace period the old key and the new key both work");
    s.line(format!("the old key stops at {}", rotated["old_key_expires_at"]));
    s.fact("old_key_works", old_works);
    s.fact("new_key_works", new_works);
    s.fact("grace_seconds", 600);
    Ok(s)
}

async fn works(cx: &Ctx, key: &str) -> Result<bool, String> {
    let client: HttpClient = cx.client(Some(key))?;
    Ok(reply(&client, "whoami", json!({})).await?.get("error").is_none())
}

pub async fn package(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let acme_admin = cx.client(Ctx::key_of(&cx.acme))?;
    let package = call(&acme_admin, "audit.export_package", json!({})).await?;
    cx.package_id = package["package_id"].as_str().unwrap_or_default().to_owned();
    s.line(format!(
        "acme exported its audit package: {} records, {} bytes, download at {}",
        package["record_count"], package["size"], package["download_url"]
    ));
    let html = cx.dir.join("packages").join(&cx.package_id).join("reports").join("summary.html");
    if !html.is_file() {
        return Err(format!("the package's HTML report is not at {}", html.display()));
    }
    s.line(format!("open its HTML report: {}", html.display()));
    s.fact("package_id", cx.package_id.clone());
    s.fact("records", package["record_count"].clone());
    s.fact("html_report", html.display().to_string());
    Ok(s)
}

pub async fn confirmation(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let client = cx.client(Ctx::key_of(&cx.acme))?;
    let caps = json!({"elicitation": {}});
    let call = json!({"name": "key.revoke_all", "arguments": {}});
    let first = client.modern_reply_as("tools/call", call.clone(), caps.clone()).await?;
    let asked = &first["result"];
    if asked["resultType"] != "input_required" {
        return Err(format!("key.revoke_all did not ask: {first}"));
    }
    s.line(format!(
        "asked (input_required, sealed requestState): {}",
        asked["inputRequests"]["confirm"]["params"]["message"]
    ));
    let mut retry = call;
    retry["inputResponses"] = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    retry["requestState"] = asked["requestState"].clone();
    let done = client.modern_reply_as("tools/call", retry, caps).await?;
    let revoked = done["result"]["structuredContent"]["revoked"].clone();
    if !revoked.is_array() {
        return Err(format!("the confirmed retry did not revoke: {done}"));
    }
    s.line(format!("retried with accept: revoked {revoked}"));
    s.fact("asked", true);
    s.fact("revoked", revoked.as_array().map_or(0, Vec::len));
    Ok(s)
}

pub async fn legacy(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let admin = cx.admin()?;
    let session = admin.initialize("2025-11-25").await?;
    let who = admin.legacy(&session, "tools/call", json!({"name": "whoami", "arguments": {}})).await?;
    let me: &Value = &who["structuredContent"];
    if me["era"] != "legacy" {
        return Err(format!("a 2025 session must be served as legacy: {who}"));
    }
    s.line(format!("2025-11-25 session, whoami: era {} via {}", me["era"], me["transport"]));
    s.fact("era", me["era"].clone());
    Ok(s)
}
