//! The per-request `_meta` of the 2026-07-28 revision.
//!
//! Invariant: a modern request is served only with a well-formed `_meta`
//! (protocol version and client capabilities); nothing is inferred from
//! earlier requests.

use serde_json::{Map, Value};

use crate::wire::errors::RpcError;
use crate::wire::{LogLevel, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION};

/// What a modern request says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMeta {
    /// The version the body claims (not yet checked against what we support).
    pub protocol_version: String,
    /// The client's declared capabilities (a ClientCapabilities object).
    pub client_capabilities: Map<String, Value>,
    /// Optional client identity, as sent.
    pub client_info: Option<Value>,
    /// Log notifications at or above this level are wanted for this request.
    pub log_level: Option<LogLevel>,
    /// Progress notifications are wanted, tagged with this token.
    pub progress_token: Option<Value>,
}

/// Whether the params carry a modern protocol version at all (how stdio tells eras apart).
pub fn has_modern_marker(params: &Map<String, Value>) -> bool {
    params.get("_meta").and_then(Value::as_object).is_some_and(|m| m.contains_key(META_PROTOCOL_VERSION))
}

/// Read `params._meta`, checking its shape only (-32602 on any defect).
pub fn read(params: &Map<String, Value>) -> Result<RequestMeta, RpcError> {
    let meta = match params.get("_meta") {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(shape("params._meta must be an object")),
        None => {
            return Err(shape("params._meta is required by protocol version 2026-07-28"));
        }
    };
    let protocol_version = match meta.get(META_PROTOCOL_VERSION) {
        Some(Value::String(v)) => v.clone(),
        Some(_) => {
            return Err(shape(&format!("_meta[\"{META_PROTOCOL_VERSION}\"] must be a string")));
        }
        None => {
            return Err(shape(&format!("_meta[\"{META_PROTOCOL_VERSION}\"] is required")));
        }
    };
    let client_capabilities = match meta.get(META_CLIENT_CAPABILITIES) {
        Some(Value::Object(c)) => c.clone(),
        Some(_) => {
            return Err(shape(&format!("_meta[\"{META_CLIENT_CAPABILITIES}\"] must be an object")));
        }
        None => {
            return Err(shape(&format!("_meta[\"{META_CLIENT_CAPABILITIES}\"] is required")));
        }
    };
    let client_info = meta.get(META_CLIENT_INFO).cloned();
    if client_info.as_ref().is_some_and(|v| !v.is_object()) {
        return Err(shape(&format!("_meta[\"{META_CLIENT_INFO}\"] must be an object")));
    }
    let log_level = match meta.get(META_LOG_LEVEL) {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| shape(&format!("_meta[\"{META_LOG_LEVEL}\"] must be a log level such as \"info\"")))?,
        ),
    };
    Ok(RequestMeta {
        protocol_version,
        client_capabilities,
        client_info,
        log_level,
        progress_token: progress_token(params),
    })
}

/// The progress token of any request, in either era.
pub fn progress_token(params: &Map<String, Value>) -> Option<Value> {
    params.get("_meta").and_then(|m| m.get("progressToken")).filter(|t| t.is_string() || t.is_number()).cloned()
}

fn shape(message: &str) -> RpcError {
    RpcError::invalid_params(format!("Invalid _meta: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_complete_meta_is_read() {
        let p = params(json!({"_meta": {
            META_PROTOCOL_VERSION: "2026-07-28",
            META_CLIENT_CAPABILITIES: {"elicitation": {}},
            META_LOG_LEVEL: "warning",
            "progressToken": 3
        }}));
        let meta = read(&p).map_err(|e| e.message);
        assert_eq!(meta.as_ref().map(|m| m.protocol_version.as_str()), Ok("2026-07-28"));
        assert_eq!(meta.as_ref().map(|m| m.log_level), Ok(Some(LogLevel::Warning)));
        assert_eq!(meta.map(|m| m.progress_token), Ok(Some(json!(3))));
    }

    #[test]
    fn missing_or_partial_meta_is_invalid_params() {
        for p in [
            json!({}),
            json!({"_meta": 1}),
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28"}}),
            json!({"_meta": {META_CLIENT_CAPABILITIES: {}}}),
            json!({"_meta": {META_PROTOCOL_VERSION: 20260728, META_CLIENT_CAPABILITIES: {}}}),
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: []}}),
            json!({"_meta": {META_PROTOCOL_VERSION: "2026-07-28", META_CLIENT_CAPABILITIES: {}, META_LOG_LEVEL: "loud"}}),
        ] {
            assert_eq!(read(&params(p.clone())).map_err(|e| e.code), Err(crate::wire::errors::INVALID_PARAMS), "{p}");
        }
    }
}
