//! Gate step: the tenant's plan includes the tool's feature
//! (-31403 `not_entitled` with `data.feature` and `data.plan`).

use futures::future::BoxFuture;

use super::policy;
use super::{Admission, Refusal, Step};

/// Checks entitlements.
pub struct Entitlement;

impl Step for Entitlement {
    fn name(&self) -> &'static str {
        "entitlement"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let tool = call.tool()?;
            policy::entitlement(tool, call.billing.as_ref()).map_err(Refusal::Deny)
        })
    }
}
