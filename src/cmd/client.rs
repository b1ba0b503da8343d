//! A minimal MCP client over HTTP, for the demo and the benchmark.
//!
//! It speaks just enough of both eras to drive a server; it is not a general
//! MCP client.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::wire::{META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, MODERN_VERSION};

/// The `_meta` a 2026-07-28 client sends with every request.
pub fn modern_meta() -> Value {
    json!({
        META_PROTOCOL_VERSION: MODERN_VERSION,
        META_CLIENT_CAPABILITIES: {},
        META_CLIENT_INFO: {"name": "tollgate-client", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// A client for one server address.
pub struct HttpClient {
    addr: SocketAddr,
    token: Option<String>,
}

/// A legacy session id.
pub struct Session(String);

impl HttpClient {
    /// A client that presents `token` (an API key) on every request.
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        Self { addr, token }
    }

    /// POST a JSON body; returns status, session id header, and the JSON-RPC reply.
    pub async fn post(&self, headers: &[(&str, &str)], body: &Value) -> Result<(u16, Option<String>, Value), String> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.map_err(|e| e.to_string())?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = Request::post("/mcp")
            .header("host", self.addr.to_string())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let session = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let sse = resp.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let bytes = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        let reply = if sse {
            // The last `data:` line of the stream is the response.
            text.lines().filter_map(|l| l.strip_prefix("data: ")).next_back().unwrap_or("null").to_owned()
        } else {
            text.into_owned()
        };
        let value =
            if reply.is_empty() { Value::Null } else { serde_json::from_str(&reply).map_err(|e| e.to_string())? };
        Ok((status, session, value))
    }

    /// A 2026-07-28 request; returns its result or the error as text.
    pub async fn modern(&self, method: &str, params: Value) -> Result<Value, String> {
        result_of(self.modern_reply(method, params).await?)
    }

    /// A 2026-07-28 request; returns the whole JSON-RPC reply (result or error).
    pub async fn modern_reply(&self, method: &str, params: Value) -> Result<Value, String> {
        self.modern_reply_as(method, params, json!({})).await
    }

    /// A 2026-07-28 request from a client declaring `capabilities`; the whole reply.
    pub async fn modern_reply_as(&self, method: &str, mut params: Value, capabilities: Value) -> Result<Value, String> {
        params["_meta"] = modern_meta();
        params["_meta"][META_CLIENT_CAPABILITIES] = capabilities;
        let name = params.get("name").and_then(Value::as_str).map(str::to_owned);
        let mut headers = vec![("mcp-protocol-version", MODERN_VERSION), ("mcp-method", method)];
        if let Some(n) = name.as_deref() {
            headers.push(("mcp-name", n));
        }
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, _, reply) = self.post(&headers, &body).await?;
        Ok(reply)
    }

    /// Open a legacy session.
    pub async fn initialize(&self, version: &str) -> Result<Session, String> {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "tollgate-client", "version": "1"}}});
        let (_, session, reply) = self.post(&[], &body).await?;
        result_of(reply)?;
        let session = session.ok_or("initialize returned no Mcp-Session-Id")?;
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.post(&[("mcp-session-id", &session), ("mcp-protocol-version", version)], &note).await?;
        Ok(Session(session))
    }

    /// A request on a legacy session.
    pub async fn legacy(&self, session: &Session, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (_, _, reply) = self.post(&[("mcp-session-id", &session.0)], &body).await?;
        result_of(reply)
    }
}

fn result_of(mut reply: Value) -> Result<Value, String> {
    if let Some(e) = reply.get("error") {
        return Err(format!("server answered an error: {e}"));
    }
    reply.get_mut("result").map(Value::take).ok_or_else(|| format!("not a JSON-RPC response: {reply}"))
}
