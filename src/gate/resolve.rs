//! Gate step: resolve `name` or `name.vN` to a registered tool version.
//!
//! This is also where feature flags apply: a tool that a flag switches off
//! (a tool or version that exists only in the other edition, and the tools
//! of [`super::Flags::disabled_flag`], declared in `config::FLAGS`) is refused here with -31403
//! `feature_disabled`, before validation, so its schema says nothing.
//!
//! An unknown tool is -32602 whose `data.available` lists only the tools the
//! caller can see (its role, the server's mode and flags allow), so the error names
//! nothing the caller may not know about.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::json;

use super::policy;
use super::{Admission, Flags, Refusal, Step};
use crate::tools::Registry;
use crate::wire::denial::Denial;

/// Resolves the requested tool.
pub struct ResolveTool {
    registry: Arc<Registry>,
    multi_tenant: bool,
    flags: Flags,
}

impl ResolveTool {
    pub fn new(registry: Arc<Registry>, flags: Flags) -> Self {
        Self { registry, multi_tenant: flags.multi_tenant(), flags }
    }
}

impl Step for ResolveTool {
    fn name(&self) -> &'static str {
        "resolve_tool"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            if let Some(tool) = self.registry.resolve(&call.requested_name, self.multi_tenant) {
                // A tool of the other edition is refused before its schema can say anything.
                policy::edition(&tool, self.multi_tenant).map_err(Refusal::Deny)?;
                if let Err(denial) = policy::flag(&tool, &self.flags) {
                    // The record names the tool a flag refused (its schema still says nothing).
                    call.tool = Some(tool);
                    return Err(Refusal::Deny(denial));
                }
                call.tool = Some(tool);
                return Ok(());
            }
            let role = call.principal()?.role;
            let available: Vec<String> = self
                .registry
                .all_versions()
                .filter(|t| t.visible_to(role, self.multi_tenant) && self.flags.disabled_flag(t).is_none())
                .flat_map(|t| [t.spec.name.to_owned(), t.pinned_name()])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let data = json!({ "tool": call.requested_name, "available": available });
            Err(Refusal::Deny(Denial::UnknownTool {
                name: call.requested_name.clone(),
                data: data.as_object().cloned().unwrap_or_default(),
            }))
        })
    }
}
