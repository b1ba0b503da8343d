//! `tollgate seed --data-dir DIR [--seed N]`: a fresh data dir filled with
//! something real to try the operator's tools on — tenants on every plan,
//! keys of every role, a history of allowed and denied calls, a quota
//! reached, an audit package exported.
//!
//! Invariants: every row is written by a governed call through the real call
//! path (an in-process server), so the audit chains verify like any other;
//! the same `--seed` gives the same tenants, plans and call history (tool,
//! decision and reason per chain, in order), while keys and the signing key
//! are always fresh randomness.

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::cmd::client::HttpClient;
use crate::cmd::inproc::InProcess;
use crate::config::Config;

const SLUGS: [&str; 10] =
    ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "soylent"];
const PLANS: [&str; 3] = ["free", "pro", "enterprise"];

/// One seeded tenant, as printed.
struct Seeded {
    slug: String,
    tenant_id: String,
    plan: String,
    /// (role, key id, api key)
    keys: Vec<(String, String, String)>,
}

async fn tool(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    client.modern_reply("tools/call", json!({"name": name, "arguments": arguments})).await
}

/// A call that must succeed; its structured result.
async fn must(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    let reply = tool(client, name, arguments).await?;
    if reply.get("error").is_some() || reply["result"]["isError"] == true {
        return Err(format!("seed: {name} failed: {reply}"));
    }
    Ok(reply["result"]["structuredContent"].clone())
}

/// A call that must be refused with `reason`.
async fn refused(client: &HttpClient, name: &str, arguments: Value, reason: &str) -> Result<(), String> {
    let reply = tool(client, name, arguments).await?;
    match reply["error"]["data"]["reason"].as_str() {
        Some(r) if r == reason => Ok(()),
        _ => Err(format!("seed: expected {name} to be refused ({reason}), got {reply}")),
    }
}

/// `tollgate seed`: initialize `dir` and fill it; the JSON summary (with the keys, shown once).
pub async fn run(dir: &Path, seed: u64) -> Result<Value, String> {
    let init = crate::store::datadir::init(dir, Clock::system()).map_err(|e| e.to_string())?;
    let server = InProcess::start(dir, Config::default()).await?;
    let filled = fill(server.addr, &init.api_key, seed).await;
    server.stop().await;
    let tenants = filled?;
    Ok(json!({
        "data_dir": init.data_dir,
        "seed": seed,
        "admin_key": init.api_key,
        "tenants": tenants.iter().map(|t| json!({
            "slug": t.slug, "tenant_id": t.tenant_id, "plan": t.plan,
            "keys": t.keys.iter().map(|(role, id, key)| json!({"role": role, "key_id": id, "api_key": key})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    }))
}

async fn fill(addr: std::net::SocketAddr, admin_key: &str, seed: u64) -> Result<Vec<Seeded>, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let admin = HttpClient::new(addr, Some(admin_key.to_owned()));
    let mut slugs = SLUGS.to_vec();
    slugs.shuffle(&mut rng);
    let count = rng.random_range(3..=5);
    let mut plans = PLANS.to_vec();
    plans.shuffle(&mut rng);
    while plans.len() < count {
        plans.push(PLANS[rng.random_range(0..PLANS.len())]);
    }

    let mut tenants = Vec::new();
    for (slug, plan) in slugs.iter().take(count).zip(plans) {
        let display = format!("{}{}", slug[..1].to_uppercase(), &slug[1..]);
        let made =
            must(&admin, "tenant.bootstrap", json!({"slug": slug, "display_name": display, "plan": plan})).await?;
        let tenant_id = made["tenant_id"].as_str().unwrap_or_default().to_owned();
        let admin_of = made["api_key"].as_str().unwrap_or_default().to_owned();
        let mut keys =
            vec![("tenant_admin".to_owned(), made["key_id"].as_str().unwrap_or_default().to_owned(), admin_of)];
        let owner = HttpClient::new(addr, Some(keys[0].2.clone()));
        let extra = rng.random_range(0..=2);
        let roles: Vec<&str> = ["operator", "viewer", "auditor"]
            .into_iter()
            .chain((0..extra).map(|i| ["viewer", "operator"][i % 2]))
            .collect();
        for (i, role) in roles.iter().enumerate() {
            let issued = must(&owner, "key.issue", json!({"role": role, "label": format!("{role}-{i}")})).await?;
            keys.push((
                (*role).to_owned(),
                issued["key_id"].as_str().unwrap_or_default().to_owned(),
                issued["api_key"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        tenants.push(Seeded { slug: (*slug).to_owned(), tenant_id, plan: plan.to_owned(), keys });
    }

    for (i, t) in tenants.iter().enumerate() {
        let as_role = |role: &str| {
            let key = t.keys.iter().find(|k| k.0 == role).map(|k| k.2.clone());
            HttpClient::new(addr, key)
        };
        let (owner, viewer, auditor) = (as_role("tenant_admin"), as_role("viewer"), as_role("auditor"));
        // Allowed calls: a history of reads by every role.
        for _ in 0..rng.random_range(4..=12) {
            match rng.random_range(0..5) {
                0 => must(&viewer, "whoami", json!({})).await?,
                1 => must(&owner, "key.list", json!({})).await?,
                2 => must(&auditor, "usage.report", json!({})).await?,
                3 => must(&auditor, "audit.verify", json!({})).await?,
                _ => must(&owner, "plan.get", json!({})).await?,
            };
        }
        // Denials, each once: a role, a spoofed tenant, a feature the plan lacks.
        refused(&viewer, "key.issue", json!({"role": "viewer", "label": "nope"}), "role_required").await?;
        let other = &tenants[(i + 1) % tenants.len()];
        refused(&owner, "tenant.get", json!({"tenant_id": other.tenant_id}), "tenant_mismatch").await?;
        if t.plan == "free" {
            refused(&auditor, "audit.export_package", json!({}), "not_entitled").await?;
        } else if rng.random_bool(0.5) || t.plan == "enterprise" {
            must(&auditor, "audit.export_package", json!({})).await?;
        }
    }

    // A quota reached: the free tenant gets a contract of two more calls this month, and uses three.
    if let Some(t) = tenants.iter().find(|t| t.plan == "free") {
        let owner = HttpClient::new(addr, t.keys.first().map(|k| k.2.clone()));
        let report = must(&owner, "usage.report", json!({})).await?;
        let used = report["counters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["counter"] == "tool_calls")
            .and_then(|c| c["used"].as_u64())
            .unwrap_or(0);
        let limits = json!({"tool_calls": used + 3});
        must(&admin, "plan.set", json!({"tenant_id": t.tenant_id, "plan": "free", "limits": limits})).await?;
        must(&owner, "whoami", json!({})).await?;
        must(&owner, "whoami", json!({})).await?;
        refused(&owner, "whoami", json!({}), "quota_exceeded").await?;
    }
    Ok(tenants)
}

/// The summary for a person.
pub fn summary(out: &Value) -> String {
    let mut lines = vec![format!("seeded {} (seed {})", out["data_dir"].as_str().unwrap_or(""), out["seed"])];
    lines.push(format!("platform admin key (shown once): {}", out["admin_key"].as_str().unwrap_or("")));
    for t in out["tenants"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {:<10} {:<10} {}",
            t["slug"].as_str().unwrap_or(""),
            t["plan"].as_str().unwrap_or(""),
            t["tenant_id"].as_str().unwrap_or("")
        ));
        for k in t["keys"].as_array().into_iter().flatten() {
            lines.push(format!(
                "      {:<12} {}",
                k["role"].as_str().unwrap_or(""),
                k["api_key"].as_str().unwrap_or("")
            ));
        }
    }
    lines.push(format!("next: tollgate serve --data-dir {}", out["data_dir"].as_str().unwrap_or("")));
    lines.join("\n")
}
