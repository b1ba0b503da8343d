//! The gate chain: the one place that decides whether a `tools/call` runs.
//!
//! Invariants: steps run in the order [`Chain::standard`] lists them; the first
//! refusal ends the call; steps never call each other. Later steps (bind
//! tenant, role, flags, entitlement, rate limit, idempotency, quota) slot into
//! the same list.

mod capabilities;
mod resolve;
mod validate;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::context::SharedContext;
use crate::protocol::errors::RpcError;
use crate::tools::{RegisteredTool, Registry, ToolError};

pub use capabilities::ClientCapabilities;
pub use resolve::ResolveTool;
pub use validate::ValidateArguments;

/// A call on its way through the chain.
pub struct Admission {
    /// The tool name as the client sent it (`name` or `name.vN`).
    pub requested_name: String,
    /// The raw arguments (always an object).
    pub arguments: Value,
    /// Set by [`ResolveTool`].
    pub tool: Option<Arc<RegisteredTool>>,
    pub context: SharedContext,
}

/// Why the chain stopped a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A denial: a JSON-RPC error with a stable code (and `data.reason` for gate denials).
    Deny(RpcError),
    /// A failure the caller can fix, answered as a tool result with `isError: true`.
    Tool(ToolError),
}

/// One decision of the chain.
pub trait Step: Send + Sync {
    /// A stable name, for logs and metrics.
    fn name(&self) -> &'static str;
    /// Allow (Ok) or refuse the call; may fill in what later steps need.
    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>>;
}

/// A call that passed every step.
pub struct Admitted {
    pub tool: Arc<RegisteredTool>,
    pub arguments: Value,
    pub context: SharedContext,
}

/// The ordered list of steps.
pub struct Chain {
    steps: Vec<Box<dyn Step>>,
}

impl Chain {
    /// The policy, top to bottom.
    pub fn standard(registry: Arc<Registry>) -> Self {
        Self {
            steps: vec![
                Box::new(ResolveTool::new(registry)),
                Box::new(ClientCapabilities),
                Box::new(ValidateArguments),
            ],
        }
    }

    /// Names of the steps, in order.
    pub fn step_names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|s| s.name()).collect()
    }

    /// Run every step in order; the first refusal wins.
    pub async fn admit(&self, mut call: Admission) -> Result<Admitted, Refusal> {
        for step in &self.steps {
            step.check(&mut call).await?;
        }
        let tool = call.tool.ok_or_else(|| {
            Refusal::Deny(RpcError::internal(
                "gate chain admitted a call without resolving its tool",
            ))
        })?;
        Ok(Admitted {
            tool,
            arguments: call.arguments,
            context: call.context,
        })
    }
}
