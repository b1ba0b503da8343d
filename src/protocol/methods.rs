//! The methods that exist because of an era: `server/discover` (2026-07-28)
//! and the 2025 conversation's `initialize`, `ping` and `logging/setLevel`.
//!
//! Invariant: each authenticates like every other method (fail closed) and
//! changes nothing but the conversation's own negotiated state.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::era;
use super::session::LegacySession;
use crate::server::call::Governance;
use crate::tools::context::CallContext;
use crate::wire::errors::RpcError;
use crate::wire::{Era, INSTRUCTIONS, LogLevel, SERVER_INFO, SUPPORTED_VERSIONS};

/// How long a client may cache the discovery result (milliseconds).
pub const DISCOVER_TTL_MS: u64 = crate::server::dispatch::LIST_TTL_MS;

/// Whether the era layer answers `method` itself.
pub fn is_era_method(method: &str) -> bool {
    matches!(method, "server/discover" | "initialize" | "ping" | "logging/setLevel")
}

/// Answer an era method; `session` is the request's 2025 conversation, if any.
pub fn call(
    gov: &Governance,
    method: &str,
    params: &Map<String, Value>,
    cx: &CallContext,
    session: Option<&Arc<LegacySession>>,
) -> Result<Value, RpcError> {
    match method {
        "server/discover" => Ok(json!({
            "supportedVersions": SUPPORTED_VERSIONS,
            "capabilities": era::capabilities(cx.era),
            "instructions": INSTRUCTIONS,
            "ttlMs": DISCOVER_TTL_MS,
            "cacheScope": "public",
        })),
        "initialize" => initialize(gov, params, cx, session),
        "ping" => gov.authenticate(cx, "ping").map(|_| json!({})),
        "logging/setLevel" => set_level(gov, params, cx, session),
        other => Err(RpcError::method_not_found(other)),
    }
}

fn initialize(
    gov: &Governance,
    params: &Map<String, Value>,
    cx: &CallContext,
    session: Option<&Arc<LegacySession>>,
) -> Result<Value, RpcError> {
    let principal = gov.authenticate(cx, "initialize")?;
    let Some(session) = session else {
        return Err(RpcError::invalid_request("initialize belongs to a 2025 conversation"));
    };
    let version = era::negotiate(params);
    let caps = params.get("capabilities").and_then(Value::as_object).cloned().unwrap_or_default();
    session.update(|s| {
        s.version = Some(version.clone());
        s.client_capabilities = caps;
        s.principal = Some(principal.id.clone());
        s.tenant = principal.tenant.as_ref().map(|t| t.0.clone());
    });
    Ok(json!({
        "protocolVersion": version,
        "capabilities": era::capabilities(Era::Legacy),
        "serverInfo": SERVER_INFO,
        "instructions": INSTRUCTIONS,
    }))
}

fn set_level(
    gov: &Governance,
    params: &Map<String, Value>,
    cx: &CallContext,
    session: Option<&Arc<LegacySession>>,
) -> Result<Value, RpcError> {
    gov.authenticate(cx, "logging/setLevel")?;
    let level: LogLevel = params
        .get("level")
        .cloned()
        .and_then(|l| serde_json::from_value(l).ok())
        .ok_or_else(|| RpcError::invalid_params("logging/setLevel needs a \"level\" such as \"info\""))?;
    if let Some(session) = session {
        session.update(|s| s.log_level = Some(level));
    }
    Ok(json!({}))
}
