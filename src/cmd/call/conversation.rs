//! The client's side of the two protocol eras: a 2026-07-28 request carries
//! its `_meta` and headers every time; a 2025 conversation opens with
//! `initialize` and then speaks on its session.
//!
//! Invariant: the client declares only the capability it can honour
//! (`elicitation`, asked on a terminal), so the server never sends it a
//! question of another kind.

use serde_json::{Value, json};

use super::link::Link;
use super::message::{Answerer, LinkError};
use crate::wire::{LEGACY_DEFAULT, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, MODERN_VERSION};

/// Which protocol the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2026-07-28 (the default): stateless, `input_required` for questions.
    Modern,
    /// `--legacy`: the 2025-11-25 handshake, questions as server requests.
    Legacy,
}

/// A link and what the era needs to talk on it.
pub struct Conversation {
    link: Link,
    era: Era,
    next_id: i64,
    /// Legacy only: `Some(error reply)` if `initialize` was refused, `Some(Null)` once open.
    opened: Option<Value>,
}

fn capabilities() -> Value {
    json!({ "elicitation": {} })
}

fn client_info() -> Value {
    json!({ "name": "tollgate-cli", "version": env!("CARGO_PKG_VERSION") })
}

impl Conversation {
    pub fn new(link: Link, era: Era) -> Self {
        Self { link, era, next_id: 1, opened: None }
    }

    /// One request; `meta` is merged into `params._meta`. Returns the whole
    /// reply (a refused `initialize` is returned as the reply).
    pub async fn request(
        &mut self,
        method: &str,
        mut params: Value,
        meta: Value,
        answer: Answerer<'_>,
    ) -> Result<Value, LinkError> {
        let mut headers: Vec<(&str, String)> = Vec::new();
        match self.era {
            Era::Modern => {
                params["_meta"] = json!({
                    META_PROTOCOL_VERSION: MODERN_VERSION,
                    META_CLIENT_CAPABILITIES: capabilities(),
                    META_CLIENT_INFO: client_info(),
                });
                headers.push(("mcp-protocol-version", MODERN_VERSION.into()));
                headers.push(("mcp-method", method.into()));
                if let Some(name) = params.get("name").and_then(Value::as_str) {
                    headers.push(("mcp-name", name.into()));
                }
            }
            Era::Legacy => {
                if let Some(refused) = self.open().await? {
                    return Ok(refused);
                }
            }
        }
        if let Some(extra) = meta.as_object().filter(|m| !m.is_empty()) {
            if !params["_meta"].is_object() {
                params["_meta"] = json!({});
            }
            for (k, v) in extra {
                params["_meta"][k] = v.clone();
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        Ok(self.link.exchange(&body, &headers, answer).await?.message)
    }

    /// Legacy: `initialize` once; `Some(reply)` if it was refused.
    async fn open(&mut self) -> Result<Option<Value>, LinkError> {
        if let Some(state) = &self.opened {
            return Ok((!state.is_null()).then(|| state.clone()));
        }
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LEGACY_DEFAULT, "capabilities": capabilities(), "clientInfo": client_info()}});
        let mut no_questions = |m: &Value| refuse(m);
        let reply = self.link.exchange(&body, &[], &mut no_questions).await?;
        if reply.message.get("error").is_some() {
            self.opened = Some(reply.message.clone());
            return Ok(Some(reply.message));
        }
        let version = reply.message["result"]["protocolVersion"].as_str().unwrap_or(LEGACY_DEFAULT).to_owned();
        self.link.set_session(reply.session, &version);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.link.notify(&note, &[]).await?;
        self.opened = Some(Value::Null);
        Ok(None)
    }

    /// End the conversation.
    pub async fn close(self) {
        self.link.close().await;
    }
}

/// The JSON-RPC error answer to a server request the client does not serve.
pub fn refuse(request: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": request.get("id"), "error": {
        "code": crate::wire::errors::METHOD_NOT_FOUND, "message": "this client answers only elicitation/create"}})
}
