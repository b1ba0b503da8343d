//! The demo's stdio step: a `tollgate stdio` child on the same data dir with
//! acme's admin key, spoken to in both eras; the 2025 client is asked to
//! confirm on stdout and answers on stdin.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::context::Ctx;
use super::report::Shown;
use crate::cmd::client::modern_meta;

pub async fn run(cx: &mut Ctx) -> Result<Shown, String> {
    let mut s = Shown::default();
    let lines = stdio_round(&cx.dir, Ctx::key_of(&cx.acme).unwrap_or_default()).await?;
    for line in lines {
        s.line(line);
    }
    s.fact("eras", json!(["2026-07-28", "2025-06-18"]));
    s.fact("confirmed", true);
    Ok(s)
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
