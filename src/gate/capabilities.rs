//! Gate step: the client declared every capability the tool cannot work without.
//!
//! A missing one is -32021 with `data.requiredCapabilities` (a
//! ClientCapabilities object), decided before any stream starts.

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{Admission, Refusal, Step};
use crate::wire::denial::Denial;

/// Checks the tool's required client capabilities.
pub struct ClientCapabilities;

impl Step for ClientCapabilities {
    fn name(&self) -> &'static str {
        "client_capabilities"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let Some(tool) = call.tool.as_ref() else {
                return Err(Refusal::Deny(Denial::Internal("client_capabilities ran before resolve_tool".into())));
            };
            let declared = &call.context.client_capabilities;
            let missing: Map<String, Value> = tool
                .spec
                .requires
                .iter()
                .filter(|cap| !declared.contains_key(**cap))
                .map(|cap| ((*cap).to_owned(), json!({})))
                .collect();
            if missing.is_empty() { Ok(()) } else { Err(Refusal::Deny(Denial::MissingCapability(missing))) }
        })
    }
}
