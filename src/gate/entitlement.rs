//! Gate step: the tenant's plan includes the tool's feature
//! (-31403 `not_entitled` with `data.feature` and `data.plan`).

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step, forbidden};

/// Checks entitlements.
pub struct Entitlement;

impl Step for Entitlement {
    fn name(&self) -> &'static str {
        "entitlement"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let (Some(billing), Some(feature)) = (&call.billing, call.tool()?.spec.feature) else { return Ok(()) };
            if billing.entitles(feature) {
                Ok(())
            } else {
                Err(forbidden(
                    "not_entitled",
                    "your plan does not include this tool",
                    json!({ "feature": feature.as_str(), "plan": billing.plan.as_str() }),
                ))
            }
        })
    }
}
