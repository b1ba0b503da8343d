//! Gate step: the tenant's billing status allows this tool.
//!
//! `past_due` (and an ended trial) keeps read-only tools working; `canceled`
//! keeps only account tools (whoami, plan.get, usage.report). Safety tools
//! (key.revoke, key.list, the audit export) always work, so a leaked key
//! stays revocable. Platform principals are not billed.

use futures::future::BoxFuture;

use super::policy;
use super::{Admission, Refusal, Step};
use crate::clock::Clock;

/// Checks the billing status.
pub struct BillingStatus {
    clock: Clock,
}

impl BillingStatus {
    pub fn new(clock: Clock) -> Self {
        Self { clock }
    }
}

impl Step for BillingStatus {
    fn name(&self) -> &'static str {
        "billing_status"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let tool = call.tool()?;
            policy::billing_status(tool, call.billing.as_ref(), self.clock.now()).map_err(Refusal::Deny)
        })
    }
}
