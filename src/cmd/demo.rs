//! `tollgate demo`: the main job, end to end, on a throwaway data dir.
//!
//! It initializes a data dir, serves HTTP in-process, bootstraps two tenants,
//! issues keys, shows a cross-tenant attempt denied and audited, speaks both
//! protocol eras over HTTP and stdio, makes one OAuth-authenticated call when
//! oidc-provider is installed (`demo_oauth.rs`; skipped, saying so, otherwise),
//! verifies the audit chains offline, and verifies an exported audit package
//! with both verifiers, then a tampered copy.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::clock::Clock;
use crate::cmd::client::{HttpClient, modern_meta};
use crate::config::Config;
use crate::protocol::endpoint::{McpServer, ServerOptions};
use crate::store::{Store, StoreOptions};
use crate::transport::http::{AllowedHosts, HttpOptions};
use crate::wire::TransportKind;

const STEPS: usize = 10;

/// Run the demo, writing a readable summary to `out`.
pub async fn run(out: &mut dyn Write) -> Result<(), String> {
    let _ = writeln!(
        out,
        "tollgate demo: tenants, keys, a spoof attempt, plans and quotas, a confirmed destructive call, both protocol \
         eras, a verified audit log and an offline-verified audit package"
    );
    let mut step = 0;
    let mut say = |line: &str, is_step: bool| {
        if is_step {
            step += 1;
            let _ = writeln!(out, "[{step}/{STEPS}] {line}");
        } else {
            let _ = writeln!(out, "      {line}");
        }
    };

    let dir =
        std::env::temp_dir().join(format!("tollgate-demo-{}-{}", std::process::id(), crate::audit::new_request_id()));
    say(&format!("initializing a data dir at {}", dir.display()), true);
    let init = crate::store::datadir::init(&dir, Clock::system()).map_err(|e| e.to_string())?;
    say(&format!("platform admin key issued: {}…", &init.api_key[..21]), false);

    say("serving HTTP on a free loopback port; 2026-07-28: discover, tools/list, whoami", true);
    let store = Store::open(&dir, Clock::system(), StoreOptions::default()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    // With oidc-provider installed, the server also trusts it for its resource (the OAuth step).
    let resource = format!("http://{addr}/mcp");
    let provider = crate::cmd::demo_oauth::start(&resource).await;
    let mut config = Config::default();
    if let Ok(p) = &provider {
        config.oauth.set_issuer(&p.issuer);
        config.oauth.resource = resource.clone();
    }
    let oauth = crate::transport::http::oauth::ProtectedResource::of(&config.oauth);
    let server = McpServer::new(ServerOptions::default(), Arc::clone(&store), config).map_err(|e| e.to_string())?;
    let options = HttpOptions {
        max_body_bytes: crate::transport::http::DEFAULT_MAX_BODY,
        allowed_hosts: AllowedHosts::default(),
        transport: TransportKind::Http,
        local_admin_fallback: false,
        oauth,
    };
    let app = crate::transport::http::router(server, options).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let admin = HttpClient::new(addr, Some(init.api_key.clone()));
    let discover = admin.modern("server/discover", json!({})).await?;
    say(&format!("server/discover: versions {}", discover["supportedVersions"]), false);
    let list = admin.modern("tools/list", json!({})).await?;
    say(&format!("tools the platform admin sees: {}", names(&list)), false);
    let who = admin.modern("tools/call", json!({"name": "whoami", "arguments": {}})).await?;
    say(&format!("whoami: {}", who["structuredContent"]), false);

    say("bootstrapping tenants acme and globex; issuing keys", true);
    let acme =
        call(&admin, "tenant.bootstrap", json!({"slug": "acme", "display_name": "Acme Corp", "plan": "pro"})).await?;
    let globex = call(&admin, "tenant.bootstrap", json!({"slug": "globex", "display_name": "Globex"})).await?;
    let acme_admin = HttpClient::new(addr, acme["api_key"].as_str().map(str::to_owned));
    say(&format!("acme = {}, globex = {}", acme["tenant_id"], globex["tenant_id"]), false);
    let viewer = call(&acme_admin, "key.issue", json!({"role": "viewer", "label": "dashboard"})).await?;
    say(&format!("acme's admin issued viewer key {}", viewer["key_id"]), false);
    let list = acme_admin.modern("tools/list", json!({})).await?;
    say(&format!("tools acme's admin sees: {}", names(&list)), false);

    say("acme's admin tries to read globex (a spoofed tenant_id)", true);
    let spoof = acme_admin
        .modern_reply("tools/call", json!({"name": "tenant.get", "arguments": {"tenant_id": globex["tenant_id"]}}))
        .await?;
    say(&format!("denied: {} {}", spoof["error"]["code"], spoof["error"]["data"]), false);
    let foreign = acme_admin
        .modern("tools/call", json!({"name": "key.revoke", "arguments": {"key_id": globex["key_id"]}}))
        .await?;
    say(&format!("revoking globex's key answers like a missing key: {}", text_of(&foreign)), false);
    say("plans and quotas: acme gets a contract of 3 more tool calls this month", true);
    let report = call(&acme_admin, "usage.report", json!({})).await?;
    let used = report["counters"][0]["used"].as_u64().unwrap_or(0);
    let limits = json!({"tool_calls": used + 4});
    let state =
        call(&admin, "plan.set", json!({"tenant_id": acme["tenant_id"], "plan": "pro", "limits": limits})).await?;
    say(
        &format!("plan.set: pro, tool_calls limit {} (version {})", state["limits"]["tool_calls"], state["version"]),
        false,
    );
    let mut admitted = 0;
    let denial = loop {
        let reply = acme_admin.modern_reply("tools/call", json!({"name": "whoami", "arguments": {}})).await?;
        match reply.get("error") {
            Some(e) => break e.clone(),
            None => admitted += 1,
        }
        if admitted > 10 {
            return Err("the quota never applied".into());
        }
    };
    say(&format!("{admitted} calls admitted, then denied: {} {}", denial["code"], denial["data"]), false);
    call(&admin, "plan.set", json!({"tenant_id": acme["tenant_id"], "plan": "enterprise"})).await?;
    let who = call(&acme_admin, "whoami", json!({})).await?;
    say(
        &format!("upgraded to enterprise: admitted again, {} tool calls left this month", who["remaining_tool_calls"]),
        false,
    );
    let package = call(&acme_admin, "audit.export_package", json!({})).await?;
    say(
        &format!(
            "acme exported its audit package: {} records, {} bytes, download at {}",
            package["record_count"], package["size"], package["download_url"]
        ),
        false,
    );
    say("a destructive tool asks first: acme's admin revokes every other key (2026-07-28 client)", true);
    for line in confirm_modern(&acme_admin).await? {
        say(&line, false);
    }
    let session = admin.initialize("2025-11-25").await?;
    let who = admin.legacy(&session, "tools/call", json!({"name": "whoami", "arguments": {}})).await?;
    say(
        &format!(
            "2025-11-25 session, whoami: era {} via {}",
            who["structuredContent"]["era"], who["structuredContent"]["transport"]
        ),
        false,
    );
    say("OAuth: a service signs in at an authorization server (oidc-provider, client credentials)", true);
    match &provider {
        Ok(p) => {
            for line in crate::cmd::demo_oauth::round(p, &resource, addr, &acme_admin).await? {
                say(&line, false);
            }
        }
        Err(why) => say(&format!("skipped: {why}"), false),
    }
    let _ = stop.send(());
    let _ = serving.await;
    store.shutdown();
    drop(store);

    say("both eras over stdio (a `tollgate stdio` child with acme's admin key); the 2025 client confirms too", true);
    for line in stdio_round(&dir, acme["api_key"].as_str().unwrap_or_default()).await? {
        say(&line, false);
    }

    say("verifying every audit chain offline against the signing key", true);
    let verified = verify_all(&dir)?;
    for line in verified {
        say(&line, false);
    }
    say("the audit package: both verifiers, then a tampered copy", true);
    for line in crate::cmd::demo_package::run(&dir, package["package_id"].as_str().unwrap_or_default())? {
        say(&line, false);
    }
    say(&format!("done. Data dir kept at {} (delete it when finished)", dir.display()), false);
    Ok(())
}

/// `key.revoke_all` as a 2026-07-28 client that can elicit: asked, then retried with the answer.
async fn confirm_modern(client: &HttpClient) -> Result<Vec<String>, String> {
    let caps = json!({"elicitation": {}});
    let call = json!({"name": "key.revoke_all", "arguments": {}});
    let first = client.modern_reply_as("tools/call", call.clone(), caps.clone()).await?;
    let asked = &first["result"];
    if asked["resultType"] != "input_required" {
        return Err(format!("key.revoke_all did not ask: {first}"));
    }
    let question = &asked["inputRequests"]["confirm"]["params"]["message"];
    let mut retry = call;
    retry["inputResponses"] = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    retry["requestState"] = asked["requestState"].clone();
    let done = client.modern_reply_as("tools/call", retry, caps).await?;
    Ok(vec![
        format!("asked (input_required, sealed requestState): {question}"),
        format!("retried with accept: revoked {}", done["result"]["structuredContent"]["revoked"]),
    ])
}

fn names(list: &Value) -> String {
    let names: Vec<&str> = list["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str()).collect();
    names.join(", ")
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

async fn call(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    let result = client.modern("tools/call", json!({"name": name, "arguments": arguments})).await?;
    if result["isError"] == true {
        return Err(format!("{name} failed: {}", text_of(&result)));
    }
    Ok(result["structuredContent"].clone())
}

fn verify_all(dir: &Path) -> Result<Vec<String>, String> {
    let conn =
        crate::store::open_read_only(&crate::store::datadir::DataDir::new(dir).db()).map_err(|e| e.to_string())?;
    let key = crate::audit::SigningKey::load(&crate::store::datadir::DataDir::new(dir).signing_key())
        .map_err(|e| e.to_string())?
        .public_key();
    let mut out = vec![format!("signing key {}", key.fingerprint())];
    for chain in crate::store::audit_log::chains(&conn).map_err(|e| e.to_string())? {
        let report = crate::store::audit_log::verify_stored(&conn, &chain, std::slice::from_ref(&key))
            .map_err(|e| e.to_string())?
            .map_err(|p| format!("chain {chain} is invalid: {p}"))?;
        out.push(format!("{chain}: {} records, signed through seq {}: valid", report.records, report.covered_seq));
    }
    Ok(out)
}

async fn stdio_round(dir: &Path, key: &str) -> Result<Vec<String>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the tollgate binary: {e}"))?;
    let mut child = tokio::process::Command::new(exe)
        .arg("stdio")
        .arg("--data-dir")
        .arg(dir)
        .env("TOLLGATE_API_KEY", key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `tollgate stdio`: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("stdio child has no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdio child has no stdout")?).lines();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "whoami", "arguments": {}, "_meta": modern_meta()}}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}},
                          "clientInfo": {"name": "demo", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "audit.verify", "arguments": {}}}),
    ];
    let mut out = Vec::new();
    for request in requests {
        let mut line = request.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
        if request.get("id").is_none() {
            continue;
        }
        let reply = lines.next_line().await.map_err(|e| e.to_string())?.ok_or("stdio child closed early")?;
        let reply: Value = serde_json::from_str(&reply).map_err(|e| e.to_string())?;
        if let Some(error) = reply.get("error") {
            return Err(format!("stdio call failed: {error}"));
        }
        let result = &reply["result"];
        if let Some(s) = result.get("structuredContent") {
            out.push(format!(
                "{}: {s}",
                if request["id"] == 1 { "whoami (2026-07-28)" } else { "audit.verify (2025-06-18)" }
            ));
        } else if let Some(v) = result.get("protocolVersion") {
            out.push(format!("initialize negotiated {v}"));
        }
    }
    // The 2025 client is asked with an elicitation/create request on stdout and answers on stdin.
    let mut send = async |message: Value| {
        let line = format!("{message}\n");
        stdin.write_all(line.as_bytes()).await.map_err(|e| e.to_string())
    };
    let mut next = async || -> Result<Value, String> {
        let line = lines.next_line().await.map_err(|e| e.to_string())?.ok_or("stdio child closed early")?;
        serde_json::from_str(&line).map_err(|e| e.to_string())
    };
    send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                "params": {"name": "key.issue", "arguments": {"role": "viewer", "label": "ci"}}}))
    .await?;
    let issued = next().await?;
    send(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "key.revoke_all", "arguments": {}}}))
        .await?;
    let question = next().await?;
    if question["method"] != "elicitation/create" {
        return Err(format!("expected the server to ask, got {question}"));
    }
    out.push(format!(
        "issued key {}; key.revoke_all asks (elicitation/create): {}",
        issued["result"]["structuredContent"]["key_id"], question["params"]["message"]
    ));
    send(json!({"jsonrpc": "2.0", "id": question["id"], "result": {"action": "accept", "content": {"confirm": true}}}))
        .await?;
    let done = next().await?;
    out.push(format!("answered accept: revoked {}", done["result"]["structuredContent"]["revoked"]));
    drop(stdin);
    let _ = child.wait().await;
    Ok(out)
}
