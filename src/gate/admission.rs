//! What travels through the gate chain: the call being admitted, a step's
//! refusal, and the step interface.
//!
//! Invariant: steps fill the admission in order; a step that needs what an
//! earlier step sets and finds it missing refuses (fail closed).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::billing::{BillingView, Counter};
use crate::identity::{Principal, TenantId};
use crate::tools::context::SharedContext;
use crate::tools::{RegisteredTool, ToolError};
use crate::wire::errors::{FORBIDDEN, RpcError};

/// A call on its way through the chain; steps fill it in.
pub struct Admission {
    /// The tool name as the client sent it (`name` or `name.vN`).
    pub requested_name: String,
    /// The raw arguments (always an object).
    pub arguments: Value,
    pub context: SharedContext,
    /// Set by [`Authenticate`].
    pub principal: Option<Principal>,
    /// Set by the resolve step.
    pub tool: Option<Arc<RegisteredTool>>,
    /// The effective tenant, set by the bind-tenant step.
    pub tenant: Option<TenantId>,
    /// The caller's tenant's billing state (tenant principals), set by the rate-limit step.
    pub billing: Option<BillingView>,
    /// Set by the idempotency step.
    pub idempotency_key: Option<String>,
    /// Counters the call consumes, set by the quota step.
    pub charges: Vec<(Counter, u64)>,
}

impl Admission {
    pub fn new(requested_name: String, arguments: Value, context: SharedContext) -> Self {
        Self {
            requested_name,
            arguments,
            context,
            principal: None,
            tool: None,
            tenant: None,
            billing: None,
            idempotency_key: None,
            charges: Vec::new(),
        }
    }

    pub(crate) fn principal(&self) -> Result<&Principal, Refusal> {
        self.principal
            .as_ref()
            .ok_or_else(|| Refusal::Deny(RpcError::internal("a gate step ran before authentication")))
    }

    pub(crate) fn tool(&self) -> Result<&Arc<RegisteredTool>, Refusal> {
        self.tool
            .as_ref()
            .ok_or_else(|| Refusal::Deny(RpcError::internal("a gate step ran before the tool was resolved")))
    }
}

/// Why the chain stopped a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A denial: a JSON-RPC error with a stable code and `data.reason`.
    Deny(RpcError),
    /// A failure the caller can fix, answered as a tool result with `isError: true`.
    Tool(ToolError),
}

impl Refusal {
    /// The stable reason recorded in the audit log.
    pub fn reason(&self) -> String {
        match self {
            Refusal::Deny(e) => e
                .data
                .as_ref()
                .and_then(|d| d.get("reason"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("rpc_{}", -e.code)),
            Refusal::Tool(t) => {
                serde_json::to_value(t.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
        }
    }
}

/// -31403 with a stable reason and extra data.
pub fn forbidden(reason: &str, message: &str, mut data: Value) -> Refusal {
    if let Some(obj) = data.as_object_mut() {
        obj.insert("reason".into(), json!(reason));
    }
    Refusal::Deny(RpcError::new(FORBIDDEN, format!("Forbidden: {message}")).with_data(data))
}

/// One decision of the chain.
pub trait Step: Send + Sync {
    /// A stable name, for logs and metrics.
    fn name(&self) -> &'static str;
    /// Allow (Ok) or refuse the call; may fill in what later steps need.
    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>>;
}
