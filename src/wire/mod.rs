//! The wire model: JSON-RPC messages, the MCP revisions and `_meta` keys,
//! error codes, and how a request arrived.
//!
//! Invariant: this module is data only (a leaf, like rmcp's `model`): it
//! decides nothing and imports no layer, so every layer may speak it.

pub mod cursor;
pub mod denial;
pub mod errors;
pub mod jsonrpc;

pub use jsonrpc::NotificationSink;

use serde::Serialize;

/// The current, stateless revision.
pub const MODERN_VERSION: &str = "2026-07-28";

/// Legacy revisions that still do the `initialize` handshake, newest first.
pub const LEGACY_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// The revision a legacy `initialize` gets when it asks for one we do not speak.
pub const LEGACY_DEFAULT: &str = "2025-11-25";

/// Every revision we speak, newest first (what `server/discover` lists).
pub const SUPPORTED_VERSIONS: [&str; 4] = [MODERN_VERSION, LEGACY_VERSIONS[0], LEGACY_VERSIONS[1], LEGACY_VERSIONS[2]];

/// `_meta` key that carries server identity on every modern result.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// `_meta` key of the protocol version on every modern request.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the client capabilities on every modern request.
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the optional client identity.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of a `tools/call`'s idempotency key (tollgate's own, vendor-prefixed).
pub const META_IDEMPOTENCY_KEY: &str = "dev.tollgate/idempotencyKey";
/// `_meta` key of a listed tool: the version its plain name resolves to.
pub const META_TOOL_VERSION: &str = "dev.tollgate/version";
/// `_meta` key that opts a modern request into log notifications.
pub const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Which family of revisions a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Era {
    /// 2026-07-28: no handshake, everything per request.
    Modern,
    /// 2025-11-25, 2025-06-18, 2025-03-26: `initialize` and sessions.
    Legacy,
}

/// Whether `version` is one of the legacy revisions.
pub fn is_legacy_version(version: &str) -> bool {
    LEGACY_VERSIONS.contains(&version)
}

/// Name and version this server reports about itself.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub name: &'static str,
    pub version: &'static str,
}

/// This build's identity.
pub const SERVER_INFO: ServerInfo = ServerInfo { name: "tollgate", version: env!("CARGO_PKG_VERSION") };

/// Text a client may show a model about how to use this server.
pub const INSTRUCTIONS: &str = "tollgate is a multi-tenant tool server. Call `whoami` to see who you are \
and what you may do; every tool call passes authentication, tenant binding, roles, plans, rate limits \
and quotas, and leaves a tamper-evident audit record.";

/// Severity of a log notification, ordered from least to most severe (RFC 5424).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Stdio,
    Http,
    Https,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
            TransportKind::Https => "https",
        }
    }
}
