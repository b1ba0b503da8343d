//! What the demo's steps share: the data dir, the server's address, the
//! tenants and keys made along the way, and small call helpers.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::cmd::client::HttpClient;

/// The state the steps pass on.
#[derive(Default)]
pub struct Ctx {
    pub dir: PathBuf,
    pub admin_key: String,
    /// The in-process server, while one runs.
    pub addr: Option<SocketAddr>,
    /// `tenant.bootstrap` results (`tenant_id`, `key_id`, `api_key`).
    pub acme: Value,
    pub globex: Value,
    /// The package acme exported.
    pub package_id: String,
}

impl Ctx {
    /// A client with `key` on the running server.
    pub fn client(&self, key: Option<&str>) -> Result<HttpClient, String> {
        let addr = self.addr.ok_or("no server is running")?;
        Ok(HttpClient::new(addr, key.map(str::to_owned)))
    }

    pub fn admin(&self) -> Result<HttpClient, String> {
        self.client(Some(&self.admin_key))
    }

    pub fn key_of(tenant: &Value) -> Option<&str> {
        tenant["api_key"].as_str()
    }
}

/// The names in a `tools/list` result.
pub fn names(list: &Value) -> Vec<String> {
    list["tools"].as_array().into_iter().flatten().filter_map(|t| t["name"].as_str().map(str::to_owned)).collect()
}

pub fn text_of(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

/// A call that must succeed; its structured result.
pub async fn call(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    let result = client.modern("tools/call", json!({"name": name, "arguments": arguments})).await?;
    if result["isError"] == true {
        return Err(format!("{name} failed: {}", text_of(&result)));
    }
    Ok(result["structuredContent"].clone())
}

/// A call's whole reply (result or error).
pub async fn reply(client: &HttpClient, name: &str, arguments: Value) -> Result<Value, String> {
    client.modern_reply("tools/call", json!({"name": name, "arguments": arguments})).await
}

/// The error of a reply that must be a refusal with `reason`.
pub fn refusal<'a>(reply: &'a Value, what: &str, reason: &str) -> Result<&'a Value, String> {
    match reply.get("error") {
        Some(e) if e["data"]["reason"] == reason => Ok(e),
        _ => Err(format!("{what}: expected a refusal ({reason}), got {reply}")),
    }
}
