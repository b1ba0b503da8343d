//! The gate chain: the one place that decides whether a `tools/call` runs.
//!
//! Invariants: steps run in the order [`Chain::standard`] lists them; the
//! first refusal ends the call (and is audited by `Governance::deny`, or
//! counted in an aggregated record for floods); steps never
//! call each other; anything a step cannot decide is a refusal (fail closed).

pub mod address_limit;
mod authenticate;
mod billing_status;
mod bind_tenant;
mod capabilities;
mod entitlement;
mod flags;
pub mod idempotency;
mod quota;
mod rate_limit;
mod resolve;
mod role;
mod validate;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::billing::{BillingView, Counter};
use crate::clock::Clock;
use crate::context::SharedContext;
use crate::identity::authenticate::Authenticator;
use crate::identity::{Principal, TenantId};
use crate::protocol::errors::{FORBIDDEN, RpcError};
use crate::store::Store;
use crate::tools::{RegisteredTool, Registry, ToolError};

pub use authenticate::{Authenticate, auth_error};
pub use flags::Flags;

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

    fn principal(&self) -> Result<&Principal, Refusal> {
        self.principal
            .as_ref()
            .ok_or_else(|| Refusal::Deny(RpcError::internal("a gate step ran before authentication")))
    }

    fn tool(&self) -> Result<&Arc<RegisteredTool>, Refusal> {
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

/// The ordered list of steps.
pub struct Chain {
    steps: Vec<Box<dyn Step>>,
}

impl Chain {
    /// The policy, top to bottom.
    pub fn standard(
        registry: Arc<Registry>,
        authenticator: Arc<Authenticator>,
        store: Arc<Store>,
        clock: Clock,
        flags: Flags,
    ) -> Self {
        let multi_tenant = flags.multi_tenant;
        Self {
            steps: vec![
                Box::new(Authenticate::new(authenticator)),
                Box::new(rate_limit::RateLimit::new(store, clock.clone())),
                Box::new(resolve::ResolveTool::new(registry, flags)),
                // Before validation: a foreign `tenant_id` is a spoof on every tool that takes one.
                Box::new(bind_tenant::BindTenant::new(multi_tenant)),
                Box::new(validate::ValidateArguments),
                Box::new(role::RequireRole),
                Box::new(capabilities::ClientCapabilities),
                Box::new(billing_status::BillingStatus::new(clock)),
                Box::new(entitlement::Entitlement),
                Box::new(idempotency::IdempotencyReplay),
                Box::new(quota::QuotaReserve),
            ],
        }
    }

    /// Names of the steps, in order.
    pub fn step_names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name()).collect()
    }

    /// Run every step in order; the first refusal wins. On success the
    /// admission holds the principal, the tool and the effective tenant.
    pub async fn admit(&self, call: &mut Admission) -> Result<(), Refusal> {
        for step in &self.steps {
            step.check(call).await?;
        }
        call.tool()?;
        call.principal()?;
        Ok(())
    }
}
