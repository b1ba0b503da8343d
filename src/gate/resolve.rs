//! Gate step: resolve `name` or `name.vN` to a registered tool version.
//!
//! An unknown tool is -32602 whose `data.available` lists only what exists
//! (and, once roles arrive, only what the caller may see).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step};
use crate::protocol::errors::RpcError;
use crate::tools::Registry;

/// Resolves the requested tool.
pub struct ResolveTool {
    registry: Arc<Registry>,
}

impl ResolveTool {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

impl Step for ResolveTool {
    fn name(&self) -> &'static str {
        "resolve_tool"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            match self.registry.resolve(&call.requested_name) {
                Some(tool) => {
                    call.tool = Some(tool);
                    Ok(())
                }
                None => {
                    let available: Vec<String> = self
                        .registry
                        .all_versions()
                        .flat_map(|t| [t.spec.name.to_owned(), t.pinned_name()])
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    Err(Refusal::Deny(
                        RpcError::invalid_params(format!("Unknown tool: {}", call.requested_name))
                            .with_data(json!({ "reason": "unknown_tool", "tool": call.requested_name, "available": available })),
                    ))
                }
            }
        })
    }
}
