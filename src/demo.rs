//! `tollgate demo`: the main job, end to end, on throwaway servers.
//!
//! It starts an HTTP server in-process and a `tollgate stdio` child, speaks
//! both protocol eras over both transports, and prints what happened. It
//! grows with each feature (tenants, plans, audit package).

use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::client::{HttpClient, modern_meta};
use crate::context::TransportKind;
use crate::server::{McpServer, ServerOptions};
use crate::transport::http::{AllowedHosts, HttpOptions};

/// Run the demo, writing a readable summary to `out`.
pub async fn run(out: &mut dyn Write) -> Result<(), String> {
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    say("tollgate demo — one server, two protocol eras, two transports".into());

    say("[1/4] starting an HTTP server on a free loopback port".into());
    let server = McpServer::new(ServerOptions::default()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let options = HttpOptions {
        max_body_bytes: crate::transport::http::DEFAULT_MAX_BODY,
        allowed_hosts: AllowedHosts::default(),
        transport: TransportKind::Http,
    };
    let app = crate::transport::http::router(server, options);
    tokio::spawn(async move { axum::serve(listener, app).await });
    say(format!("      listening on http://{addr}/mcp"));

    say("[2/4] 2026-07-28 over HTTP: server/discover, tools/list, tools/call whoami".into());
    let http = HttpClient::new(addr);
    let discover = http.modern("server/discover", json!({})).await?;
    say(format!(
        "      supported versions: {}",
        discover["supportedVersions"]
    ));
    let list = http.modern("tools/list", json!({})).await?;
    let names: Vec<&str> = list["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    say(format!("      tools: {}", names.join(", ")));
    let who = http
        .modern("tools/call", json!({"name": "whoami", "arguments": {}}))
        .await?;
    say(format!("      whoami: {}", who["structuredContent"]));

    say("[3/4] 2025-11-25 over HTTP: initialize, tools/call whoami on the session".into());
    let session = http.initialize("2025-11-25").await?;
    let who = http
        .legacy(
            &session,
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
        )
        .await?;
    say(format!("      whoami: {}", who["structuredContent"]));

    say("[4/4] both eras over stdio (a `tollgate stdio` child process)".into());
    for line in stdio_round().await? {
        say(format!("      {line}"));
    }
    say("done: every call answered; see docs/quickstart.md for what to try next".into());
    Ok(())
}

async fn stdio_round() -> Result<Vec<String>, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the tollgate binary: {e}"))?;
    let mut child = tokio::process::Command::new(exe)
        .arg("stdio")
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
               "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "demo", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}),
    ];
    let mut out = Vec::new();
    for request in requests {
        let mut line = request.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if request.get("id").is_none() {
            continue;
        }
        let reply = lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("stdio child closed early")?;
        let reply: Value = serde_json::from_str(&reply).map_err(|e| e.to_string())?;
        if let Some(error) = reply.get("error") {
            return Err(format!("stdio call failed: {error}"));
        }
        let result = &reply["result"];
        if let Some(s) = result.get("structuredContent") {
            out.push(format!("whoami: {s}"));
        } else if let Some(v) = result.get("protocolVersion") {
            out.push(format!("initialize negotiated {v}"));
        }
    }
    drop(stdin);
    let _ = child.wait().await;
    Ok(out)
}
