//! What travels through the gate chain: the call being admitted, a step's
//! refusal, and the step interface.
//!
//! Invariant: steps fill the admission in order; a step that needs what an
//! earlier step sets and finds it missing refuses (fail closed).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::billing::{BillingView, Counter};
use crate::identity::{Principal, TenantId};
use crate::tools::context::SharedContext;
use crate::tools::{RegisteredTool, ToolError};
use crate::wire::denial::{Denial, Forbid};

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
        }
    }

    pub(crate) fn principal(&self) -> Result<&Principal, Refusal> {
        self.principal
            .as_ref()
            .ok_or_else(|| Refusal::Deny(Denial::Internal("a gate step ran before authentication".into())))
    }

    pub(crate) fn tool(&self) -> Result<&Arc<RegisteredTool>, Refusal> {
        self.tool
            .as_ref()
            .ok_or_else(|| Refusal::Deny(Denial::Internal("a gate step ran before the tool was resolved".into())))
    }
}

/// What the chain admitted: the principal, the tool, the effective tenant,
/// the billing view and the charges, with nothing left to re-check. Only
/// the chain builds one ([`Admission::take_permit`] is private to the gate).
#[derive(Clone)]
pub struct Permit {
    pub principal: Principal,
    pub tool: Arc<RegisteredTool>,
    /// The effective tenant (the principal's own, or the one a platform admin named).
    pub tenant: Option<TenantId>,
    /// The caller's tenant's billing state (absent for platform principals).
    pub billing: Option<BillingView>,
    pub idempotency_key: Option<String>,
    /// Counters the call consumes if it runs.
    pub charges: Vec<(Counter, u64)>,
    /// The validated arguments (with an edition's `tenant_id` as sent).
    pub arguments: Value,
    _sealed: Sealed,
}

/// Only this module can make one, so only the chain issues permits.
#[derive(Clone)]
struct Sealed;

impl Admission {
    /// The permit for an admission every step passed; a missing part is an
    /// internal refusal (fail closed), never a half-admitted call.
    pub(super) fn take_permit(&mut self) -> Result<Permit, Refusal> {
        let principal = self.principal()?.clone();
        let tool = Arc::clone(self.tool()?);
        // What the call consumes if it runs: `tool_calls`, plus the tool's own.
        // The check and the charge happen in the commit's transaction, so
        // concurrent calls never admit more than a limit (-31402).
        let mut charges = vec![(Counter::ToolCalls, 1)];
        charges.extend_from_slice(tool.spec.charges);
        Ok(Permit {
            principal,
            tool,
            tenant: self.tenant.clone(),
            billing: self.billing.clone(),
            idempotency_key: self.idempotency_key.clone(),
            charges,
            arguments: std::mem::take(&mut self.arguments),
            _sealed: Sealed,
        })
    }
}

/// Why the chain stopped a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A denial, answered as a JSON-RPC error (see [`Denial::to_rpc`]).
    Deny(Denial),
    /// A failure the caller can fix, answered as a tool result with `isError: true`.
    Tool(ToolError),
}

impl Refusal {
    /// The stable reason recorded in the audit log.
    pub fn reason(&self) -> String {
        match self {
            Refusal::Deny(d) => d.reason().to_owned(),
            Refusal::Tool(t) => {
                serde_json::to_value(t.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            }
        }
    }
}

/// -31403 for `why`, with a message and what the caller may see.
pub fn forbidden(why: Forbid, message: &str, data: Value) -> Refusal {
    Refusal::Deny(Denial::forbidden(why, message, data))
}

/// One decision of the chain.
pub trait Step: Send + Sync {
    /// A stable name, for logs and metrics.
    fn name(&self) -> &'static str;
    /// Allow (Ok) or refuse the call; may fill in what later steps need.
    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>>;
}
