//! The stable error catalogue on the wire.
//!
//! Every error a client can see is an [`RpcError`] built here, so that each
//! code keeps one meaning and one HTTP status everywhere (see DESIGN.md,
//! "Errors"). tollgate's own codes are -31000 minus the HTTP status.

use serde::Serialize;
use serde_json::{Value, json};

use super::SUPPORTED_VERSIONS;

/// JSON-RPC: the body is not JSON.
pub const PARSE_ERROR: i32 = -32700;
/// JSON-RPC: not a valid request object (also: batches where they are not allowed).
pub const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC: no such method in this era.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// JSON-RPC: bad params, unknown tool, bad cursor, missing `_meta`.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC: the server failed.
pub const INTERNAL_ERROR: i32 = -32603;
/// 2026-07-28: an HTTP header disagrees with the body (or is missing or malformed).
pub const HEADER_MISMATCH: i32 = -32020;
/// 2026-07-28: the request needs a client capability it did not declare.
pub const MISSING_CAPABILITY: i32 = -32021;
/// 2026-07-28: the protocol version is not one we speak.
pub const UNSUPPORTED_VERSION: i32 = -32022;
/// tollgate: no usable credential.
pub const UNAUTHENTICATED: i32 = -31401;
/// tollgate: a quota is used up.
pub const QUOTA_EXCEEDED: i32 = -31402;
/// tollgate: the principal may not do this.
pub const FORBIDDEN: i32 = -31403;
/// tollgate: a rate limit is exceeded.
pub const RATE_LIMITED: i32 = -31429;
/// tollgate: the store cannot be reached; fail closed.
pub const UNAVAILABLE: i32 = -31503;
/// A 2025 HTTP request names a session this server does not hold (expired or closed): HTTP 404.
pub const SESSION_NOT_FOUND: i32 = -32001;

/// A JSON-RPC error object, ready for the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RpcError {
    pub code: i32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with a code and message and no data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// Attach machine-readable details.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn parse(detail: impl std::fmt::Display) -> Self {
        Self::new(PARSE_ERROR, format!("Parse error: {detail}"))
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, message)
    }

    pub fn method_not_found(method: &str) -> Self {
        Self::new(METHOD_NOT_FOUND, format!("Method not found: {method}")).with_data(json!({ "method": method }))
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    /// -32020, naming the header that disagrees.
    pub fn header_mismatch(header: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(HEADER_MISMATCH, format!("Header mismatch: {header} {detail}")).with_data(json!({ "header": header }))
    }

    /// -32022 with the versions we speak and the one asked for, echoed exactly.
    pub fn unsupported_version(requested: &Value) -> Self {
        Self::new(UNSUPPORTED_VERSION, "Unsupported protocol version")
            .with_data(json!({ "supported": SUPPORTED_VERSIONS, "requested": requested }))
    }

    /// -32021 naming the capabilities (a ClientCapabilities object) the request lacks.
    pub fn missing_capability(required: Value) -> Self {
        Self::new(MISSING_CAPABILITY, "Missing required client capability")
            .with_data(json!({ "requiredCapabilities": required }))
    }

    /// -31503: the store cannot answer or commit; nothing was done (fail closed).
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self::new(UNAVAILABLE, format!("Unavailable: {detail}; nothing was done"))
            .with_data(json!({ "reason": "store_unavailable" }))
    }

    /// The database connection was lost while the commit was in flight: the
    /// call may or may not have taken effect (never "nothing was done"). A
    /// retry with the same idempotency key is safe.
    pub fn outcome_unknown(detail: impl std::fmt::Display) -> Self {
        Self::new(
            UNAVAILABLE,
            format!("Unavailable: {detail}; retry with the same idempotency key to learn the outcome"),
        )
        .with_data(json!({ "reason": "commit_outcome_unknown" }))
    }

    /// The HTTP status this error answers with over Streamable HTTP.
    pub fn http_status(&self) -> u16 {
        match self.code {
            PARSE_ERROR | INVALID_REQUEST | INVALID_PARAMS => 400,
            HEADER_MISMATCH | MISSING_CAPABILITY | UNSUPPORTED_VERSION => 400,
            METHOD_NOT_FOUND => 404,
            UNAUTHENTICATED => 401,
            QUOTA_EXCEEDED => 402,
            FORBIDDEN => 403,
            RATE_LIMITED => 429,
            UNAVAILABLE => 503,
            _ => 500,
        }
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

impl From<RpcError> for jsonrpsee::types::ErrorObjectOwned {
    fn from(e: RpcError) -> Self {
        jsonrpsee::types::ErrorObject::owned(e.code, e.message, e.data)
    }
}
