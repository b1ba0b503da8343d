//! Gate step: the tool exists in the server's mode (the `multi_tenant` kill
//! switch). A tool of the other mode called by name is -31403 `feature_disabled`.

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step, forbidden};

/// Checks feature flags.
pub struct FeatureFlag {
    multi_tenant: bool,
}

impl FeatureFlag {
    pub fn new(multi_tenant: bool) -> Self {
        Self { multi_tenant }
    }
}

impl Step for FeatureFlag {
    fn name(&self) -> &'static str {
        "feature_flag"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let tool = call.tool()?;
            if tool.spec.modes.includes(self.multi_tenant) {
                Ok(())
            } else {
                Err(forbidden(
                    "feature_disabled",
                    "this tool is disabled on this server",
                    json!({ "flag": "multi_tenant" }),
                ))
            }
        })
    }
}
