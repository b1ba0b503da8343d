//! What a request carries past the era layer: who is asking, how, and where
//! its notifications go.
//!
//! Invariant: this is the only per-request state the dispatcher and the tools
//! see; it is built fresh for every request (nothing is inherited from earlier
//! requests under 2026-07-28).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::config::Config;
use crate::identity::{Credential, Principal, TenantId};
use crate::tools::ask::Interrupt;
use crate::wire::{Era, LogLevel, NotificationSink, TransportKind, jsonrpc};

/// Who asked, through which tool, about which arguments (what a sealed state binds).
#[derive(Debug, Clone)]
pub struct Asked {
    pub principal: String,
    pub tool: String,
    pub args_digest: String,
}

/// How a tool's questions reach the person behind the client. The era layer
/// picks one per request (2026-07-28: a sealed `input_required` result;
/// 2025: requests to the client on the call's own exchange); the call loop
/// only asks it, and never learns which era it serves.
pub trait Asker: Send + Sync {
    /// Put the interrupt's open questions to the client. `Ok(answers)`: run
    /// the next round in this request with them; `Err(result)`: this request
    /// ends with that result (an `input_required` result, or a tool failure).
    fn ask<'a>(
        &'a self,
        cx: &'a CallContext,
        interrupt: &'a Interrupt,
        asked: &'a Asked,
    ) -> BoxFuture<'a, Result<Map<String, Value>, Value>>;

    /// Whether a tool may ask anything on this request at all.
    fn can_ask(&self) -> bool {
        true
    }

    /// A tool that cannot ask (the client lacks the capability) is denied
    /// with -32021 (`true`) or fails as itself (`false`).
    fn unaskable_denies(&self) -> bool;
}

/// The asker of a request.
pub type AskVia = Arc<dyn Asker>;

impl std::fmt::Debug for dyn Asker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.can_ask() { "Asker" } else { "Asker(none)" })
    }
}

/// What a 2026-07-28 retry brings back (`inputResponses`, `requestState`).
#[derive(Debug, Clone, Default)]
pub struct Retry {
    pub input_responses: Map<String, Value>,
    pub request_state: Option<String>,
}

/// Everything below the era layer may know about a request.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The era, reported by `whoami` only; nothing branches on it past the edge.
    pub era: Era,
    /// The protocol revision this request (or its legacy session) speaks.
    pub protocol_version: String,
    pub transport: TransportKind,
    /// The client's declared capabilities (from `_meta` or from `initialize`).
    pub client_capabilities: Map<String, Value>,
    /// Log notifications at or above this level are delivered; `None`: none are.
    pub log_level: Option<LogLevel>,
    /// Progress notifications are wanted, tagged with this token.
    pub progress_token: Option<Value>,
    /// Where notifications for this request go, if anywhere.
    pub sink: Option<NotificationSink>,
    /// Unique id of this request, shared by logs and the audit record.
    pub request_id: String,
    /// The credential the transport extracted (never decided on there).
    pub credential: Credential,
    /// A legacy session is bound to the principal that opened it.
    pub session_principal: Option<String>,
    /// `_meta["dev.tollgate/idempotencyKey"]` as sent (checked by the gate).
    pub idempotency_key: Option<Value>,
    /// The JSON-RPC id of the request (a listen stream's subscription id).
    pub rpc_id: Value,
    /// How a tool's questions reach the client.
    pub ask_via: AskVia,
    /// A multi round-trip retry's answers and state (2026-07-28 `tools/call` only).
    pub retry: Retry,
}

impl CallContext {
    /// Send a log notification if the client asked for this level.
    pub fn log(&self, level: LogLevel, logger: &str, data: Value) {
        if self.log_level.is_some_and(|min| level >= min) {
            self.notify("notifications/message", json!({ "level": level, "logger": logger, "data": data }));
        }
    }

    /// Send a progress notification if the client gave a progress token.
    pub fn progress(&self, progress: u64, total: Option<u64>, message: Option<&str>) {
        if let Some(token) = &self.progress_token {
            let mut params = json!({ "progressToken": token, "progress": progress });
            if let Some(t) = total {
                params["total"] = json!(t);
            }
            if let Some(m) = message {
                params["message"] = json!(m);
            }
            self.notify("notifications/progress", params);
        }
    }

    fn notify(&self, method: &str, params: Value) {
        if let Some(sink) = &self.sink {
            // A closed sink means the client went away; the request is being cancelled.
            let _ = sink.send(jsonrpc::notification(method, params).into());
        }
    }
}

/// Shared handle to a request's context (what jsonrpsee's `Extensions` carries).
pub type SharedContext = Arc<CallContext>;

/// What a tool handler is given: the request, the admitted principal and
/// tenant, and the services it may use (never a transport, never SQL).
/// What an admitted call gives its tool.
#[derive(Clone)]
pub struct ToolCx {
    pub call: SharedContext,
    /// Who is calling (authenticated by the gate chain).
    pub principal: Principal,
    /// The effective tenant, bound by the gate chain from the principal (or,
    /// for a platform admin, from an explicit `tenant_id`).
    pub tenant: Option<TenantId>,
    pub clock: Clock,
    pub config: Arc<Config>,
    /// The keys the server trusts for its own checkpoints (current signing
    /// key first, then retired keys from the keyring), for verification tools.
    pub audit_keys: Arc<[crate::audit::PublicKey]>,
    /// The caller's tenant's plan and limits (absent for platform principals).
    pub billing: Option<crate::billing::BillingView>,
    /// Earlier answers, and where to ask for more (see [`crate::tools::ask`]).
    pub input: Arc<crate::tools::ask::Input>,
    /// Events to publish once the call has committed.
    pub announcements: crate::events::Announcements,
    /// This instance's data dir (signing key, stored packages).
    pub data_dir: std::path::PathBuf,
    /// What the server knows about itself (the operator console reports it).
    pub server: Arc<ServerFacts>,
}

/// Facts about the running server, fixed at its start.
pub struct ServerFacts {
    /// When it started, by the server's clock.
    pub started_at: time::OffsetDateTime,
    /// Where its signing key is (read only to check it is readable; never shown).
    pub signing_key_file: std::path::PathBuf,
    /// The schema documents of the tools it serves (`tools::schemas::generate`),
    /// compared with the committed ones by the console's release gate.
    pub published: std::collections::BTreeMap<String, Value>,
    /// That comparison, made once on first use: (matches, what was found).
    pub schemas_gate: std::sync::OnceLock<(bool, String)>,
}
